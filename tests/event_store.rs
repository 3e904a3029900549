//! One contract, two adapters: the event store, snapshots and the position log behave the
//! same on SQLite and PostgreSQL.

mod common;

use std::sync::Arc;

use baedal::domain::order::{Order, OrderEvent};
use baedal::persistence::{
    AppendRequest, DecisionRecord, GroupCommitSettings, Journal, NewEvent, PositionRecord, Snapshot, Storage,
    StorageError, StreamRef, PRUNE_BATCH,
};
use chrono::{TimeZone, Utc};
use common::{Backend, TestDb};
use serde_json::json;
use uuid::Uuid;

async fn storage(backend: Backend) -> (TestDb, Storage) {
    let db = TestDb::new(backend).await;
    let storage = Storage::connect(&db.url, 4).await.expect("connect");
    (db, storage)
}

fn stream(kind: &'static str) -> StreamRef {
    StreamRef { id: Uuid::new_v4(), kind, zone: "default".into() }
}

fn events(n: usize) -> Vec<NewEvent> {
    (0..n).map(|i| NewEvent { event_type: "tested", payload: json!({ "n": i }) }).collect()
}

async fn appends_are_ordered_and_versioned(backend: Backend) {
    let (_db, storage) = storage(backend).await;
    let store = &storage.events;
    let s = stream("order");
    assert_eq!(store.append(&s, 0, &events(2), false).await.unwrap(), 2);
    assert_eq!(store.append(&s, 2, &events(3), false).await.unwrap(), 5);
    let all = store.load(s.id, 0).await.unwrap();
    assert_eq!(all.iter().map(|e| e.seq).collect::<Vec<_>>(), vec![1, 2, 3, 4, 5]);
    assert_eq!(all[2].payload, json!({ "n": 0 }));
    assert_eq!(all[0].event_type, "tested");
    let tail = store.load(s.id, 3).await.unwrap();
    assert_eq!(tail.iter().map(|e| e.seq).collect::<Vec<_>>(), vec![4, 5]);
    assert!(store.load(Uuid::new_v4(), 0).await.unwrap().is_empty());
}

async fn stale_writers_conflict_and_write_nothing(backend: Backend) {
    let (_db, storage) = storage(backend).await;
    let store = &storage.events;
    let s = stream("order");
    store.append(&s, 0, &events(1), false).await.unwrap();
    // A second "new stream" append, and one at an old version, both lose.
    match store.append(&s, 0, &events(2), false).await {
        Err(StorageError::Conflict { expected: 0, actual: Some(1), .. }) => {}
        other => panic!("expected a conflict, got {other:?}"),
    }
    assert!(matches!(store.append(&s, 5, &events(1), false).await, Err(StorageError::Conflict { .. })));
    assert_eq!(store.load(s.id, 0).await.unwrap().len(), 1, "a losing append writes nothing");

    // Racing writers at the same version: exactly one wins.
    let racers = (0..6).map(|_| {
        let store = storage.events.clone();
        let s = s.clone();
        tokio::spawn(async move { store.append(&s, 1, &events(2), false).await })
    });
    let results = futures_util::future::join_all(racers).await;
    let wins = results.iter().filter(|r| matches!(r, Ok(Ok(3)))).count();
    assert_eq!(wins, 1, "{results:?}");
    assert_eq!(store.load(s.id, 0).await.unwrap().len(), 3);
}

async fn closed_streams_are_not_reopened_at_start(backend: Backend) {
    let (_db, storage) = storage(backend).await;
    let store = &storage.events;
    let (open, closing, rider) = (stream("order"), stream("order"), stream("rider"));
    store.append(&open, 0, &events(1), false).await.unwrap();
    store.append(&closing, 0, &events(1), false).await.unwrap();
    store.append(&closing, 1, &events(1), true).await.unwrap();
    store.append(&rider, 0, &events(1), false).await.unwrap();
    assert_eq!(store.open_streams("order").await.unwrap(), vec![open.id]);
    assert_eq!(store.open_streams("rider").await.unwrap(), vec![rider.id]);
    assert!(store.open_streams("store").await.unwrap().is_empty());
}

async fn snapshots_only_move_forward(backend: Backend) {
    let (_db, storage) = storage(backend).await;
    let store = &storage.events;
    let id = Uuid::new_v4();
    assert!(store.load_snapshot(id).await.unwrap().is_none());
    store.save_snapshot(&Snapshot { stream_id: id, seq: 5, state: json!({"v": 5}) }).await.unwrap();
    store.save_snapshot(&Snapshot { stream_id: id, seq: 3, state: json!({"v": 3}) }).await.unwrap();
    assert_eq!(store.load_snapshot(id).await.unwrap().unwrap().seq, 5);
    store.save_snapshot(&Snapshot { stream_id: id, seq: 8, state: json!({"v": 8}) }).await.unwrap();
    let latest = store.load_snapshot(id).await.unwrap().unwrap();
    assert_eq!((latest.seq, latest.state), (8, json!({"v": 8})));
}

async fn positions_keep_the_latest(backend: Backend) {
    let (_db, storage) = storage(backend).await;
    let rider = Uuid::new_v4();
    let at = |s: i64| Utc.timestamp_opt(1_700_000_000 + s, 0).unwrap();
    let log = &storage.positions;
    log.save_positions(&[PositionRecord { rider_id: rider, lat: 37.5, lon: 127.0, at: at(10) }]).await.unwrap();
    log.save_positions(&[PositionRecord { rider_id: rider, lat: 1.0, lon: 1.0, at: at(5) }]).await.unwrap();
    let saved = log.load_positions().await.unwrap();
    assert_eq!(saved.len(), 1);
    assert_eq!((saved[0].lat, saved[0].lon, saved[0].at), (37.5, 127.0, at(10)));
    log.save_positions(&[]).await.unwrap();
}

async fn old_decisions_are_pruned_and_recent_ones_kept(backend: Backend) {
    let (_db, storage) = storage(backend).await;
    let log = &storage.decisions;
    let day = |d: i64| Utc.timestamp_opt(1_700_000_000 + d * 86_400, 0).unwrap();
    let order = Uuid::new_v4();
    let record = |at, n: u32| DecisionRecord { order_id: order, at, body: json!({ "n": n }) };
    let old: Vec<DecisionRecord> = (0..PRUNE_BATCH as u32 + 7).map(|n| record(day(0), n)).collect();
    log.save_decisions(&old).await.unwrap();
    log.save_decisions(&[record(day(40), 1), record(day(41), 2)]).await.unwrap();
    // More old rows than one delete takes: the pruning goes on until none is left.
    assert_eq!(log.prune_decisions(day(40)).await.unwrap(), PRUNE_BATCH as u64 + 7);
    let kept = log.decisions_of(order, 10).await.unwrap();
    assert_eq!(kept.iter().map(|r| r.at).collect::<Vec<_>>(), vec![day(40), day(41)]);
    assert_eq!(log.prune_decisions(day(40)).await.unwrap(), 0);
}

async fn journal_loads_from_snapshot_plus_tail_like_a_full_replay(backend: Backend) {
    let (_db, storage) = storage(backend).await;
    let store: Arc<dyn baedal::persistence::EventStore> = storage.events.clone();
    let id = baedal::domain::OrderId::random();
    let now = Utc::now();
    let history = sample_history(now);

    let mut journal = Journal::<Order>::new(id);
    let mut state: Option<Order> = None;
    for (i, event) in history.iter().enumerate() {
        let (next, append) = journal.prepare(state.as_ref(), std::slice::from_ref(event)).unwrap();
        let version = append.write(store.clone()).await.unwrap();
        journal.committed(version);
        state = next;
        if i == 1 {
            let snapshot = journal.snapshot_due(state.as_ref(), 2).expect("due after 2 events");
            store.save_snapshot(&snapshot).await.unwrap();
        }
    }
    let loaded = Journal::<Order>::load(store.as_ref(), id).await.unwrap();
    assert_eq!(loaded.state, state);
    assert_eq!(loaded.journal.version(), history.len() as i64);
    assert_eq!(loaded.state, Order::replay(id, history.iter()));

    // A snapshot that no longer fits the state's shape is ignored, not fatal.
    store.save_snapshot(&Snapshot { stream_id: id.as_uuid(), seq: 99, state: json!({"shape": "old"}) }).await.unwrap();
    let reloaded = Journal::<Order>::load(store.as_ref(), id).await.unwrap();
    assert_eq!(reloaded.state, state);
}

fn sample_history(now: chrono::DateTime<Utc>) -> Vec<OrderEvent> {
    let terms: baedal::domain::order::OrderTerms = serde_json::from_value(json!({
        "customer_id": Uuid::new_v4(), "store_id": Uuid::new_v4(), "zone": "default",
        "lines": [], "total": {"amount": 1000, "currency": "KRW"},
        "pickup": {"lat": 37.5, "lon": 127.0}, "dropoff": {"lat": 37.51, "lon": 127.0},
        "store_accept_secs": 60, "request_fingerprint": "x"
    }))
    .unwrap();
    vec![
        OrderEvent::Placed { terms, at: now },
        OrderEvent::PaymentAuthorized { authorization: "a".into(), store_deadline: now, at: now },
        OrderEvent::StoreAccepted { prep_minutes: 10, ready_by: now, at: now },
        OrderEvent::MarkedReady { at: now },
    ]
}

async fn migrations_run_once_and_reconnects_keep_data(backend: Backend) {
    let db = TestDb::new(backend).await;
    let first = Storage::connect(&db.url, 2).await.unwrap();
    let s = stream("store");
    first.events.append(&s, 0, &events(1), false).await.unwrap();
    let second = Storage::connect(&db.url, 2).await.unwrap();
    assert_eq!(second.events.load(s.id, 0).await.unwrap().len(), 1);
    second.events.ping().await.unwrap();
}

async fn a_batch_commits_what_stands_and_reports_conflicts(backend: Backend) {
    let (_db, storage) = storage(backend).await;
    let store = &storage.events;
    let (a, b, c) = (stream("order"), stream("order"), stream("store"));
    store.append(&b, 0, &events(1), false).await.unwrap();
    let batch = vec![
        AppendRequest { stream: a.clone(), expected_version: 0, events: events(2), closes: false },
        // b is at 1, not 0: a conflict that must not sink the others.
        AppendRequest { stream: b.clone(), expected_version: 0, events: events(3), closes: false },
        AppendRequest { stream: c.clone(), expected_version: 0, events: events(1), closes: true },
    ];
    let results = store.append_batch(&batch).await;
    assert_eq!(results[0].as_ref().ok(), Some(&2));
    assert!(matches!(results[1], Err(StorageError::Conflict { actual: Some(1), .. })), "{results:?}");
    assert_eq!(results[2].as_ref().ok(), Some(&1));
    assert_eq!(store.load(a.id, 0).await.unwrap().len(), 2);
    assert_eq!(store.load(b.id, 0).await.unwrap().len(), 1, "the conflicting request wrote nothing");
    assert!(store.open_streams("store").await.unwrap().is_empty(), "c was closed by its append");
    // Two requests for one stream in one batch are applied in order.
    let twice = vec![
        AppendRequest { stream: a.clone(), expected_version: 2, events: events(1), closes: false },
        AppendRequest { stream: a.clone(), expected_version: 3, events: events(1), closes: false },
    ];
    let results = store.append_batch(&twice).await;
    assert_eq!(results.iter().map(|r| r.as_ref().ok().copied()).collect::<Vec<_>>(), vec![Some(3), Some(4)]);
}

async fn group_commit_acknowledges_every_append_durably(backend: Backend) {
    let (_db, storage) = storage(backend).await;
    let grouped = storage.clone().with_group_commit(&GroupCommitSettings::default());
    let writers = (0..64).map(|_| {
        let store = grouped.events.clone();
        tokio::spawn(async move {
            let s = stream("order");
            let mut version = 0;
            for _ in 0..10 {
                version = store.append(&s, version, &events(1), false).await.expect("append");
            }
            (s, version)
        })
    });
    for (s, version) in futures_util::future::join_all(writers).await.into_iter().map(Result::unwrap) {
        assert_eq!(version, 10);
        // Read back through the plain store: acknowledged means committed.
        assert_eq!(storage.events.load(s.id, 0).await.unwrap().len(), 10);
    }
    // Stale writers still conflict through the group writer.
    let s = stream("order");
    grouped.events.append(&s, 0, &events(1), false).await.unwrap();
    assert!(matches!(grouped.events.append(&s, 0, &events(1), false).await, Err(StorageError::Conflict { .. })));
}

async fn a_full_queue_refuses_instead_of_buffering(backend: Backend) {
    let (_db, storage) = storage(backend).await;
    let tiny = GroupCommitSettings { enabled: true, queue: 1, max_batch: 1 };
    let grouped = storage.with_group_commit(&tiny);
    let attempts = (0..200).map(|_| {
        let store = grouped.events.clone();
        tokio::spawn(async move { store.append(&stream("order"), 0, &events(1), false).await })
    });
    let results: Vec<_> = futures_util::future::join_all(attempts).await.into_iter().map(Result::unwrap).collect();
    let busy = results.iter().filter(|r| matches!(r, Err(StorageError::Busy))).count();
    let ok = results.iter().filter(|r| r.is_ok()).count();
    assert!(busy > 0, "a queue of one must turn some of 200 concurrent appends away");
    assert_eq!(busy + ok, 200, "{results:?}");
}

on_both_backends!(
    a_batch_commits_what_stands_and_reports_conflicts,
    group_commit_acknowledges_every_append_durably,
    a_full_queue_refuses_instead_of_buffering,
    appends_are_ordered_and_versioned,
    stale_writers_conflict_and_write_nothing,
    closed_streams_are_not_reopened_at_start,
    snapshots_only_move_forward,
    positions_keep_the_latest,
    old_decisions_are_pruned_and_recent_ones_kept,
    journal_loads_from_snapshot_plus_tail_like_a_full_replay,
    migrations_run_once_and_reconnects_keep_data,
);

#[tokio::test]
async fn an_unknown_database_url_is_refused() {
    assert!(Storage::connect("mysql://localhost/x", 1).await.is_err());
}
