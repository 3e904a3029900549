//! Stop the server with orders in every live state, start it again, and find everything as
//! it was: order states, rider jobs, store boards, and deadlines that still fire (one that
//! passed while the server was down fires at start). Both SIGKILL and SIGTERM, both backends.

mod common;

use std::collections::BTreeMap;

use common::server::order_body;
use common::{Backend, TestDb, TestServer};
use serde_json::{json, Value};

const STORE: (f64, f64) = (37.5665, 126.978);
const DROPOFF: (f64, f64) = (37.5765, 126.978);
const CUSTOMER: &str = "2b9c6f0e-1d2a-4c3b-8e7f-6a5b4c3d2e1f";

#[derive(Clone, Copy, PartialEq)]
enum Stop {
    Kill,
    Terminate,
}

fn summary(order: &Value) -> (Value, Value, Value) {
    (order["status"].clone(), order["dispatch"].clone(), order["rider_id"].clone())
}

async fn restart_mid_order(backend: Backend, stop: Stop) {
    let db = TestDb::new(backend).await;
    // One order per rider, so that each rider stands for one stage of an order's life
    // (trips of several orders are recovered the same way, order by order).
    let mut server = TestServer::start(
        &db,
        &[("BAEDAL__ORDERS__SNAPSHOT_EVERY", "3"), ("BAEDAL__DISPATCH__TRIPS__MAX_ORDERS", "1")],
    );
    let api = server.api.clone();
    let (store, item) = api.create_store(STORE, 600).await;
    let (quick_store, quick_item) = api.create_store(STORE, 3).await;
    let r1 = api.create_rider("One", (37.5668, 126.978)).await;
    let r2 = api.create_rider("Two", (37.5692, 126.978)).await;
    let r3 = api.create_rider("Three", (37.5715, 126.978)).await;

    let place = |key: &'static str, store: String, item: String| {
        let api = api.clone();
        async move {
            let (status, body) = api.place(key, &order_body(&store, &item, CUSTOMER, DROPOFF)).await;
            assert_eq!(status, 201, "{body}");
            let id = body["id"].as_str().unwrap().to_owned();
            api.wait_status(&id, "awaiting_store").await;
            id
        }
    };
    let store_do = |order: String, action: &'static str, body: Value| {
        let api = api.clone();
        let store = store.clone();
        async move {
            let (status, body) = api.post(&format!("/v1/stores/{store}/orders/{order}/{action}"), body).await;
            assert_eq!(status, 200, "{action}: {body}");
        }
    };
    let rider_do = |rider: String, path: String| {
        let api = api.clone();
        async move {
            let (status, body) = api.post(&format!("/v1/riders/{rider}/{path}"), json!({})).await;
            assert_eq!(status, 200, "{path}: {body}");
        }
    };

    let waiting = place("waiting", store.clone(), item.clone()).await;

    let assigned = place("assigned", store.clone(), item.clone()).await;
    store_do(assigned.clone(), "accept", json!({"prep_minutes": 20})).await;
    api.wait_order(&assigned, 20, |o| o["rider_id"] == r1.as_str()).await;
    rider_do(r1.clone(), format!("offers/{assigned}/accept")).await;

    let carried = place("carried", store.clone(), item.clone()).await;
    store_do(carried.clone(), "accept", json!({"prep_minutes": 5})).await;
    api.wait_order(&carried, 20, |o| o["rider_id"] == r2.as_str()).await;
    rider_do(r2.clone(), format!("offers/{carried}/accept")).await;
    store_do(carried.clone(), "ready", json!({})).await;
    // At the counter: a pickup is judged by the rider's pings.
    api.ping(&r2, STORE).await;
    rider_do(r2.clone(), format!("jobs/{carried}/pickup")).await;

    let offered = place("offered", store.clone(), item.clone()).await;
    store_do(offered.clone(), "accept", json!({"prep_minutes": 15})).await;
    api.wait_order(&offered, 20, |o| o["dispatch"] == "offered" && o["rider_id"] == r3.as_str()).await;

    let searching = place("searching", store.clone(), item.clone()).await;
    store_do(searching.clone(), "accept", json!({"prep_minutes": 15})).await;
    api.wait_order(&searching, 20, |o| o["dispatch"] == "searching").await;

    let ids = [&waiting, &assigned, &carried, &offered, &searching];
    let mut before = BTreeMap::new();
    for id in ids {
        before.insert(id.clone(), summary(&api.order(id).await));
    }
    let mut duties = BTreeMap::new();
    for rider in [&r1, &r2, &r3] {
        duties.insert(rider.clone(), api.get(&format!("/v1/riders/{rider}")).await.1["duty"].clone());
    }
    let board: Vec<Value> = api.get(&format!("/v1/stores/{store}/orders")).await.1["orders"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| json!([e["order_id"], e["status"]]))
        .collect();
    assert_eq!(board.len(), 5);

    // Its store has 3 s to accept; the server is down for longer than that.
    let doomed = place("doomed", quick_store.clone(), quick_item.clone()).await;

    match stop {
        Stop::Kill => server.kill(),
        Stop::Terminate => {
            assert!(server.terminate().success(), "graceful exit");
            // A graceful stop leaves a snapshot at the head of every live stream.
            let storage = baedal::persistence::Storage::connect(&db.url, 1).await.unwrap();
            for id in ids.iter().copied().chain([&doomed]) {
                let id: uuid::Uuid = id.parse().unwrap();
                let head = storage.events.load(id, 0).await.unwrap().last().unwrap().seq;
                let snapshot = storage.events.load_snapshot(id).await.unwrap().expect("snapshot on shutdown");
                assert_eq!(snapshot.seq, head, "snapshot of {id} is at the head of its stream");
            }
        }
    }
    tokio::time::sleep(std::time::Duration::from_millis(3500)).await;
    server.restart();
    let api = server.api.clone();

    for id in ids {
        assert_eq!(summary(&api.order(id).await), before[id], "order {id} after restart");
    }
    for (rider, duty) in &duties {
        assert_eq!(&api.get(&format!("/v1/riders/{rider}")).await.1["duty"], duty, "rider {rider} after restart");
    }
    let board_after: Vec<Value> = api.get(&format!("/v1/stores/{store}/orders")).await.1["orders"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| json!([e["order_id"], e["status"]]))
        .collect();
    assert_eq!(board_after, board, "store board after restart");

    // The deadline that passed while down fired at start, with its compensation.
    let order = api.wait_order(&doomed, 20, |o| o["status"] == "cancelled" && o["payment"]["status"] == "voided").await;
    assert_eq!(order["cancellation"]["code"], "store_did_not_confirm");

    // Everything goes on from where it was.
    let (status, _) = api.post(&format!("/v1/riders/{r3}/offers/{offered}/accept"), json!({})).await;
    assert_eq!(status, 200);
    api.ping(&r2, DROPOFF).await;
    let (status, body) = api.post(&format!("/v1/riders/{r2}/jobs/{carried}/deliver"), json!({})).await;
    assert_eq!(status, 200, "{body}");
    api.wait_order(&carried, 20, |o| o["payment"]["status"] == "captured").await;
    // r2 is free again, and the searching order gets it.
    api.wait_order(&searching, 20, |o| o["dispatch"] == "offered" && o["rider_id"] == r2.as_str()).await;
    let (status, _) =
        api.post(&format!("/v1/stores/{store}/orders/{waiting}/accept"), json!({"prep_minutes": 10})).await;
    assert_eq!(status, 200);

    // An acknowledged order was never duplicated: placing it again replays it.
    let (status, again) = api.place("carried", &order_body(&store, &item, CUSTOMER, DROPOFF)).await;
    assert_eq!((status, again["id"].as_str()), (200, Some(carried.as_str())));
}

async fn sigkill_mid_order(backend: Backend) {
    restart_mid_order(backend, Stop::Kill).await
}

async fn sigterm_mid_order(backend: Backend) {
    restart_mid_order(backend, Stop::Terminate).await
}

on_both_backends!(sigkill_mid_order, sigterm_mid_order);
