//! The three apps over websockets against the real server: the customer follows its order,
//! the store tablet takes it, the rider is offered it and delivers it; reconnects start from
//! a snapshot with no gap and no duplicate; slow and broken clients are closed, not served.

mod common;

use baedal::auth::Role;
use common::server::order_body;
use common::ws::{connect, token, try_connect};
use common::{Backend, TestDb, TestServer};
use futures_util::SinkExt;
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::Message;

const STORE: (f64, f64) = (37.5665, 126.978);
const DROPOFF: (f64, f64) = (37.5765, 126.978);
const CUSTOMER: &str = "0c1d2e3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f";

struct City {
    server: TestServer,
    _db: TestDb,
    store: String,
    item: String,
}

async fn city(backend: Backend, env: &[(&str, &str)]) -> City {
    let db = TestDb::new(backend).await;
    let server = TestServer::start(&db, env);
    let (store, item) = server.api.create_store(STORE, 60).await;
    City { server, _db: db, store, item }
}

fn is_order(message: &Value, id: &str, status: &str) -> bool {
    message["type"] == "order" && message["order"]["id"] == id && message["order"]["status"] == status
}

async fn the_three_apps_run_an_order_end_to_end(backend: Backend) {
    let city = city(backend, &[]).await;
    let api = &city.server.api;
    let base = &api.base;
    let rider_id = api.create_rider("Min", (37.5668, 126.978)).await;

    let mut customer = connect(base, "/v1/ws/customer", &token(Role::Customer, CUSTOMER)).await;
    let mut tablet = connect(base, "/v1/ws/store", &token(Role::Store, &city.store)).await;
    let mut rider = connect(base, "/v1/ws/rider", &token(Role::Rider, &rider_id)).await;
    assert_eq!(customer.next().await["orders"], json!([]));
    assert_eq!(tablet.next().await["type"], "snapshot");
    let snapshot = rider.next().await;
    assert_eq!(snapshot["rider"]["online"], true, "{snapshot}");

    let (status, placed) = api.place("live-1", &order_body(&city.store, &city.item, CUSTOMER, DROPOFF)).await;
    assert_eq!(status, 201);
    let id = placed["id"].as_str().unwrap().to_owned();

    // The store hears of the order as soon as it is paid for, with items and deadline.
    let new_order = tablet.until("the new order", |m| is_order(m, &id, "awaiting_store")).await;
    assert_eq!(new_order["order"]["items"][0]["quantity"], 2);
    assert!(new_order["order"]["store_accept_by"].is_string());
    customer.until("payment authorized", |m| is_order(m, &id, "awaiting_store")).await;

    tablet.send(json!({"type": "accept", "request_id": "a1", "order_id": id, "prep_minutes": 10})).await;
    let ack = tablet.until("the ack", |m| m["type"] == "ack").await;
    assert_eq!((ack["request_id"].as_str(), ack["result"]["status"].as_str()), (Some("a1"), Some("preparing")));

    // The rider is offered the job, with a deadline, and takes it.
    let offer = rider.until("an offer", |m| m["type"] == "offer").await;
    assert_eq!(offer["order"]["id"], id.as_str());
    assert!(offer["deadline"].is_string());
    rider.send(json!({"type": "accept_offer", "request_id": "r1", "order_id": id})).await;
    let ack = rider.until("the ack", |m| m["type"] == "ack").await;
    assert_eq!(ack["result"]["dispatch"], "assigned");
    customer.until("assignment", |m| m["type"] == "order" && m["order"]["dispatch"] == "assigned").await;

    // A rider app that reconnects gets its current job first.
    drop(rider);
    let mut rider = connect(base, "/v1/ws/rider", &token(Role::Rider, &rider_id)).await;
    let snapshot = rider.next().await;
    assert_eq!(snapshot["orders"][0]["id"], id.as_str(), "{snapshot}");
    assert_eq!(snapshot["rider"]["duty"]["status"], "en_route_to_store");

    // Pings move the rider on the customer's map.
    rider.send(json!({"type": "location", "lat": 37.5670, "lon": 126.978})).await;
    let moved = customer.until("the rider's position", |m| m["type"] == "rider_position").await;
    assert_eq!(moved["rider_id"], rider_id.as_str());

    tablet.send(json!({"type": "ready", "request_id": "t2", "order_id": id})).await;
    tablet.until("ready ack", |m| m["type"] == "ack").await;
    rider.send(json!({"type": "pick_up", "request_id": "r2", "order_id": id})).await;
    rider.until("pickup ack", |m| m["type"] == "ack").await;
    // At the door: the server judges the delivery by the rider's pings.
    rider.send(json!({"type": "location", "lat": DROPOFF.0, "lon": DROPOFF.1})).await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while api.get(&format!("/v1/riders/{rider_id}")).await.1["position"]["lat"] != DROPOFF.0 {
        assert!(std::time::Instant::now() < deadline, "the ping at the door never landed");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    rider.send(json!({"type": "deliver", "request_id": "r3", "order_id": id, "position": {"lat": DROPOFF.0, "lon": DROPOFF.1}})).await;
    let ack = rider.until("delivery ack", |m| m["type"] == "ack" || m["type"] == "error").await;
    assert_eq!(ack["result"]["status"], "delivered");
    let done = customer.until("delivery", |m| is_order(m, &id, "delivered")).await;
    assert!(done["order"]["version"].as_i64().unwrap() > 5);
    customer.until("the capture", |m| m["type"] == "order" && m["order"]["payment"]["status"] == "captured").await;
}

async fn a_reconnect_starts_from_a_snapshot_with_no_gap(backend: Backend) {
    let city = city(backend, &[]).await;
    let api = &city.server.api;
    let customer_token = token(Role::Customer, CUSTOMER);
    let (_, placed) = api.place("reconnect-1", &order_body(&city.store, &city.item, CUSTOMER, DROPOFF)).await;
    let id = placed["id"].as_str().unwrap().to_owned();
    api.wait_status(&id, "awaiting_store").await;

    let mut first = connect(&api.base, "/v1/ws/customer", &customer_token).await;
    let snapshot = first.next().await;
    assert_eq!(snapshot["orders"][0]["id"], id.as_str());
    let seen = snapshot["orders"][0]["version"].as_i64().unwrap();
    drop(first);

    // Things happen while the app is away.
    let (status, _) =
        api.post(&format!("/v1/stores/{}/orders/{id}/accept", city.store), json!({"prep_minutes": 9})).await;
    assert_eq!(status, 200);
    let mut second = connect(&api.base, "/v1/ws/customer", &customer_token).await;
    let snapshot = second.next().await;
    let order = &snapshot["orders"][0];
    assert_eq!(order["status"], "preparing", "the snapshot is current");
    let version = order["version"].as_i64().unwrap();
    assert!(version > seen);
    // The stream goes on from there, newer than the snapshot (the client checks that every
    // version it sees grows, so nothing from before the snapshot is repeated).
    let (status, _) = api.post(&format!("/v1/stores/{}/orders/{id}/ready", city.store), json!({})).await;
    assert_eq!(status, 200);
    let next = second.until("the ready order", |m| is_order(m, &id, "ready_for_pickup")).await;
    assert!(next["order"]["version"].as_i64().unwrap() > version);
}

async fn the_store_tablet_gets_its_board_on_connect(backend: Backend) {
    let city = city(backend, &[]).await;
    let api = &city.server.api;
    let mut ids = Vec::new();
    for key in ["board-1", "board-2"] {
        let (_, placed) = api.place(key, &order_body(&city.store, &city.item, CUSTOMER, DROPOFF)).await;
        let id = placed["id"].as_str().unwrap().to_owned();
        api.wait_status(&id, "awaiting_store").await;
        ids.push(id);
    }
    let mut tablet = connect(&api.base, "/v1/ws/store", &token(Role::Store, &city.store)).await;
    let snapshot = tablet.next().await;
    let board: Vec<&str> = snapshot["orders"].as_array().unwrap().iter().map(|o| o["id"].as_str().unwrap()).collect();
    assert_eq!(board, ids.iter().map(String::as_str).collect::<Vec<_>>());
    // Another store's order is not this tablet's to touch.
    let (other, _) = api.create_store(STORE, 60).await;
    let mut stranger = connect(&api.base, "/v1/ws/store", &token(Role::Store, &other)).await;
    stranger.next().await;
    stranger.send(json!({"type": "accept", "request_id": "x", "order_id": ids[0], "prep_minutes": 5})).await;
    let refused = stranger.until("the refusal", |m| m["type"] == "error").await;
    assert_eq!((refused["request_id"].as_str(), refused["code"].as_str()), (Some("x"), Some("not_found")));
}

async fn sockets_need_a_matching_identity(backend: Backend) {
    let city = city(backend, &[]).await;
    let base = &city.server.api.base;
    assert_eq!(try_connect(base, "/v1/ws/customer", None).await.err(), Some(401));
    assert_eq!(try_connect(base, "/v1/ws/customer", Some("garbage")).await.err(), Some(401));
    let store_token = token(Role::Store, &city.store);
    assert_eq!(try_connect(base, "/v1/ws/rider", Some(&store_token)).await.err(), Some(403));
    let unknown_rider = token(Role::Rider, "11111111-2222-4333-8444-555555555555");
    assert_eq!(try_connect(base, "/v1/ws/rider", Some(&unknown_rider)).await.err(), Some(404));
}

async fn junk_frames_get_errors_and_oversized_ones_a_close(backend: Backend) {
    let city = city(backend, &[]).await;
    let mut tablet = connect(&city.server.api.base, "/v1/ws/store", &token(Role::Store, &city.store)).await;
    tablet.next().await;
    tablet.send_raw(Message::Text("{not json".into())).await;
    assert_eq!(tablet.next().await["code"], "malformed_json");
    tablet.send(json!({"type": "launch_rockets", "request_id": "q"})).await;
    let unknown = tablet.next().await;
    assert_eq!((unknown["type"].as_str(), unknown["request_id"].as_str()), (Some("error"), Some("q")));
    tablet.send(json!({"type": "accept", "request_id": "p", "order_id": "not-a-uuid", "prep_minutes": 5})).await;
    assert_eq!(tablet.next().await["field"], "order_id");
    tablet.send_raw(Message::Binary(vec![1, 2, 3])).await;
    assert_eq!(tablet.next().await["code"], "unsupported_frame");
    // The socket still works after all that.
    tablet.send(json!({"type": "ready", "request_id": "r", "order_id": "0c1d2e3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f"})).await;
    assert_eq!(tablet.next().await["code"], "not_found");
    tablet.send_raw(Message::Text("x".repeat(64 * 1024))).await;
    assert_eq!(tablet.closed().await, Some(CloseCode::Size));
}

async fn a_slow_consumer_is_closed_and_slows_nobody(backend: Backend) {
    let city = city(backend, &[("BAEDAL__WS__OUTBOUND_QUEUE", "8")]).await;
    let api = city.server.api.clone();
    let mut slow = connect(&api.base, "/v1/ws/store", &token(Role::Store, &city.store)).await;
    slow.next().await;
    let mut healthy = connect(&api.base, "/v1/ws/customer", &token(Role::Customer, CUSTOMER)).await;
    healthy.next().await;

    // The slow client sends and never reads: every frame earns an error reply, until the
    // socket buffers fill and its queue overflows.
    let flood = tokio::spawn(async move {
        let frame = format!("{{\"type\": \"{}\"}}", "x".repeat(2000));
        for _ in 0..20_000 {
            // Once the server stops reading, sends stall: that is the end of the flood.
            let send = slow.stream.send(Message::Text(frame.clone()));
            if !matches!(tokio::time::timeout(std::time::Duration::from_secs(2), send).await, Ok(Ok(()))) {
                break;
            }
        }
        slow
    });
    // Meanwhile the healthy customer is served as usual.
    let (status, placed) = api.place("slow-1", &order_body(&city.store, &city.item, CUSTOMER, DROPOFF)).await;
    assert_eq!(status, 201);
    let id = placed["id"].as_str().unwrap().to_owned();
    healthy.until("its order", |m| is_order(m, &id, "awaiting_store")).await;

    let mut slow = tokio::time::timeout(std::time::Duration::from_secs(60), flood).await.expect("flood ends").unwrap();
    assert_eq!(slow.closed().await, Some(CloseCode::Policy), "closed as a slow consumer");
    let (status, _) = api.get(&format!("/v1/orders/{id}")).await;
    assert_eq!(status, 200);
}

on_both_backends!(
    the_three_apps_run_an_order_end_to_end,
    a_reconnect_starts_from_a_snapshot_with_no_gap,
    the_store_tablet_gets_its_board_on_connect,
    sockets_need_a_matching_identity,
    junk_frames_get_errors_and_oversized_ones_a_close,
    a_slow_consumer_is_closed_and_slows_nobody,
);
