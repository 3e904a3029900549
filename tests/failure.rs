//! Correctness under failure, made deterministic with a fault-injecting event store around
//! the real one (SQLite and PostgreSQL): an outage must not turn into a retry storm, a
//! first write whose fate is unknown must not make the platform forget what may exist, and
//! one caller's bad write must not fail another's.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use baedal::actors::{CommandError, Execute, GetOrder, GetRider, Ping, RiderCmd};
use baedal::domain::order::{Courier, Order, OrderCommand, OrderStatus, Payment, Phase};
use baedal::domain::rider::RiderCommand;
use baedal::domain::{CustomerId, OrderId, RiderId, ZoneId};
use baedal::persistence::{EventStore, GroupCommitSettings, NewEvent, Storage, StreamRef};
use baedal::startup::Application;
use common::faults::{Fault, Faulty};
use common::inproc::{city, settings_on};
use common::{Backend, TestDb};
use serde_json::json;

async fn app(db: &TestDb) -> (Application, Arc<Faulty>) {
    let mut faulty = None;
    let app = Application::build_with(settings_on(&db.url), |events| {
        let wrapped = Faulty::around(events);
        faulty = Some(wrapped.clone());
        wrapped as Arc<dyn EventStore>
    })
    .await
    .expect("application");
    (app, faulty.expect("wrapped"))
}

async fn order_until(app: &Application, id: OrderId, what: &str, check: impl Fn(&Order) -> bool) -> Order {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(addr) = app.platform().order(id) {
            if let Ok(Ok(Some(order))) = addr.send(GetOrder).await {
                if check(&order) {
                    return order;
                }
            }
        }
        assert!(Instant::now() < deadline, "order {id} never became {what}");
        actix_rt::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn an_outage_makes_no_retry_storm(backend: Backend) {
    let db = TestDb::new(backend).await;
    let (app, faulty) = app(&db).await;
    let city = city(&app).await;
    let id = OrderId::random();
    city.place(&app, id, CustomerId::random()).await;
    order_until(&app, id, "awaiting the store", |o| o.status() == OrderStatus::AwaitingStore).await;
    let addr = app.platform().order(id).unwrap();
    addr.send(Execute::new(OrderCommand::Accept { prep_minutes: 10 })).await.unwrap().unwrap();
    order_until(&app, id, "offered", |o| o.rider() == Some(city.rider_id)).await;
    addr.send(Execute::new(OrderCommand::AcceptOffer { rider: city.rider_id })).await.unwrap().unwrap();

    // The database goes away while the assigned rider keeps riding (each ping changes the
    // order's ETA, which the order writes).
    faulty.set(Fault::Unavailable);
    let before = faulty.appends();
    let started = Instant::now();
    let riding = async {
        for step in 0..30 {
            let position = city.here.offset_m(300.0 + 150.0 * f64::from(step), 0.0);
            city.rider.send(Ping { position }).await.unwrap().unwrap();
            actix_rt::time::sleep(Duration::from_millis(100)).await;
        }
    };
    // A storm starves everything else on the thread: give up rather than hang.
    assert!(actix_rt::time::timeout(Duration::from_secs(30), riding).await.is_ok(), "the pings stalled");
    let tries = faulty.appends() - before;
    let per_second = tries as f64 / started.elapsed().as_secs_f64();
    println!("appends tried while the database was down: {tries} in {:.1} s", started.elapsed().as_secs_f64());
    assert!(per_second < 10.0, "a retry storm: {tries} appends in {:?}", started.elapsed());

    // Back: the order goes on by itself, and takes commands again.
    faulty.set(Fault::None);
    let deadline = Instant::now() + Duration::from_secs(40);
    loop {
        let reply = addr.send(Execute::new(OrderCommand::MarkReady)).await.unwrap();
        if let Ok(order) = reply {
            assert_eq!(order.status(), OrderStatus::ReadyForPickup);
            break;
        }
        assert!(Instant::now() < deadline, "the order never took a command again: {reply:?}");
        actix_rt::time::sleep(Duration::from_millis(100)).await;
    }
    let order = order_until(&app, id, "assigned", |o| {
        matches!(o.phase, Phase::Active { courier: Courier::Assigned { .. }, .. })
    })
    .await;
    assert!(order.eta.is_some());
}

async fn a_first_write_in_doubt_is_reloaded_not_forgotten(backend: Backend) {
    let db = TestDb::new(backend).await;
    let (app, faulty) = app(&db).await;
    let city = city(&app).await;

    // Committed, then the connection dropped: the caller hears "in doubt"...
    faulty.set(Fault::FirstWriteLandsInDoubt);
    let id = OrderId::random();
    let quote = city.store.quote(&[(city.item.id, 1)], &city.here).unwrap();
    let terms = quote.into_terms(&city.store, CustomerId::random(), city.here, "test".into());
    let placed = app.platform().start_order(id).send(Execute::new(OrderCommand::Place(terms.clone()))).await.unwrap();
    assert!(matches!(placed, Err(CommandError::InDoubt(_))), "{placed:?}");
    let rider_id = RiderId::random();
    let registered = app
        .platform()
        .start_rider(rider_id)
        .send(RiderCmd(RiderCommand::Register { name: "Doubt".into(), zone: ZoneId::default() }))
        .await
        .unwrap();
    assert!(matches!(registered, Err(CommandError::InDoubt(_))), "{registered:?}");
    faulty.set(Fault::None);

    // ...and the order, which exists, goes on by itself: paid for and offered to the store.
    order_until(&app, id, "awaiting the store", |o| o.status() == OrderStatus::AwaitingStore).await;
    let rider = app.platform().find_rider(rider_id).await.unwrap().expect("the rider exists");
    let view = rider.send(GetRider).await.unwrap().unwrap().expect("loaded");
    assert_eq!(view.name, "Doubt");

    // Lost before it committed: reloaded, found empty, and only then forgotten.
    faulty.set(Fault::FirstWriteLostInDoubt);
    let lost = OrderId::random();
    let placed = app.platform().start_order(lost).send(Execute::new(OrderCommand::Place(terms))).await.unwrap();
    assert!(matches!(placed, Err(CommandError::InDoubt(_))), "{placed:?}");
    faulty.set(Fault::None);
    let deadline = Instant::now() + Duration::from_secs(10);
    while app.platform().order(lost).is_some() {
        assert!(Instant::now() < deadline, "an order never written is still registered");
        actix_rt::time::sleep(Duration::from_millis(20)).await;
    }
}

/// PostgreSQL's `jsonb` refuses `\u0000`; SQLite keeps it. Either way, the appends batched
/// with it must land.
async fn one_bad_write_fails_no_other_callers(backend: Backend) {
    let db = TestDb::new(backend).await;
    let storage = Storage::connect(&db.url, 4).await.expect("connect");
    let grouped = storage.clone().with_group_commit(&GroupCommitSettings::default());
    let appends = (0..120).map(|n| {
        let store = grouped.events.clone();
        tokio::spawn(async move {
            let stream = StreamRef { id: uuid::Uuid::new_v4(), kind: "order", zone: "default".into() };
            let payload = if n == 60 { json!({"reason": "bad\u{0}reason"}) } else { json!({"n": n}) };
            (n, store.append(&stream, 0, &[NewEvent { event_type: "tested", payload }], false).await)
        })
    });
    let mut failed = Vec::new();
    for append in futures_util::future::join_all(appends).await {
        let (n, result) = append.unwrap();
        if result.is_err() {
            failed.push(n);
        }
    }
    match backend {
        Backend::Postgres => assert_eq!(failed, vec![60], "only the bad write fails"),
        Backend::Sqlite => assert!(failed.is_empty(), "{failed:?}"),
    }
}

macro_rules! on_both {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[actix_rt::test]
                async fn $name() {
                    super::$name(super::Backend::Sqlite).await
                }
            )*
        }
        mod postgres {
            $(
                #[actix_rt::test]
                async fn $name() {
                    super::$name(super::Backend::Postgres).await
                }
            )*
        }
    };
}

/// The provider grants the hold but its answers never arrive: past the payment timeout the
/// order is rejected, and the hold it may have been granted is voided by the order id.
async fn an_unanswered_authorization_is_voided(backend: Backend) {
    let db = TestDb::new(backend).await;
    let mut settings = settings_on(&db.url);
    settings.payment.lose_answers = true;
    settings.orders.payment_timeout_secs = 1;
    settings.orders.payment_retry_ms = 100;
    settings.payment.breaker.open_secs = 1;
    let app = Application::build(settings).await.expect("application");
    let city = city(&app).await;
    let id = OrderId::random();
    city.place(&app, id, CustomerId::random()).await;
    let deadline = Instant::now() + Duration::from_secs(30);
    let order = loop {
        let order = baedal::persistence::Journal::<Order>::load(app.platform().storage.events.as_ref(), id)
            .await
            .unwrap()
            .state
            .unwrap();
        if matches!(order.payment, Payment::Abandoned { .. }) {
            break order;
        }
        assert!(Instant::now() < deadline, "never voided: {:?}", order.payment);
        actix_rt::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(order.status(), OrderStatus::Rejected);
    // The provider agrees: the order's hold is gone, and a new authorization for it is refused.
    let amount = order.terms.total;
    let again = app.platform().gateway.authorize(id, amount).await;
    assert!(matches!(again, Err(baedal::payment::PaymentError::Declined(_))), "{again:?}");
    assert!(order.is_settled());
}

on_both!(
    an_outage_makes_no_retry_storm,
    a_first_write_in_doubt_is_reloaded_not_forgotten,
    one_bad_write_fails_no_other_callers,
    an_unanswered_authorization_is_voided,
);
