//! The protocol under failure, black-box: a reconnecting app hears of everything that
//! changed while it was away, a socket's commands run in order and are bounded, and free
//! text with control characters is refused at the edge on REST and socket alike.

mod common;

use baedal::auth::Role;
use common::server::order_body;
use common::ws::{connect, token};
use common::{Backend, TestDb, TestServer};
use serde_json::json;

const STORE: (f64, f64) = (37.5665, 126.978);
const DROPOFF: (f64, f64) = (37.5765, 126.978);

async fn a_reconnecting_app_hears_of_an_order_that_finished_while_it_was_away(backend: Backend) {
    let db = TestDb::new(backend).await;
    let server = TestServer::start(&db, &[]);
    let api = &server.api;
    let (store, item) = api.create_store(STORE, 600).await;
    let customer = uuid::Uuid::new_v4().to_string();
    let (status, order) = api.place("away-1", &order_body(&store, &item, &customer, DROPOFF)).await;
    assert_eq!(status, 201, "{order}");
    let id = order["id"].as_str().unwrap().to_owned();
    api.wait_status(&id, "awaiting_store").await;

    let mine = token(Role::Customer, &customer);
    let mut app = connect(&api.base, "/v1/ws/customer", &mine).await;
    let snapshot = app.until("the snapshot", |m| m["type"] == "snapshot").await;
    assert_eq!(snapshot["orders"][0]["id"], id.as_str());
    let held = snapshot["orders"][0]["version"].as_i64().unwrap();
    drop(app);

    // While the app is away the order ends (cancelled, refunded).
    let (status, body) =
        api.as_role(Role::Customer, &customer).post(&format!("/v1/orders/{id}/cancel"), json!({})).await;
    assert_eq!(status, 200, "{body}");
    api.wait_order(&id, 20, |o| o["payment"]["status"] == "voided").await;

    // Back, it says what it holds, and hears how that ended.
    let path = format!("/v1/ws/customer?orders={id}:{held}");
    let mut app = connect(&api.base, &path, &mine).await;
    let snapshot = app.until("the snapshot", |m| m["type"] == "snapshot").await;
    let orders = snapshot["orders"].as_array().unwrap();
    assert_eq!(orders.len(), 1, "{snapshot}");
    assert_eq!(orders[0]["status"], "cancelled");
    assert!(orders[0]["version"].as_i64().unwrap() > held);

    // Holding the latest version already, it is told nothing twice.
    let latest = orders[0]["version"].as_i64().unwrap();
    let mut app = connect(&api.base, &format!("/v1/ws/customer?orders={id}:{latest}"), &mine).await;
    let snapshot = app.until("the snapshot", |m| m["type"] == "snapshot").await;
    assert_eq!(snapshot["orders"], json!([]));
    // Another customer naming the order learns nothing of it.
    let other = token(Role::Customer, &uuid::Uuid::new_v4().to_string());
    let mut nosy = connect(&api.base, &format!("/v1/ws/customer?orders={id}:0"), &other).await;
    let snapshot = nosy.until("the snapshot", |m| m["type"] == "snapshot").await;
    assert_eq!(snapshot["orders"], json!([]));
    // A malformed list is refused before the upgrade.
    let refused = common::ws::try_connect(&api.base, "/v1/ws/customer?orders=junk", Some(&mine)).await;
    assert_eq!(refused.err(), Some(422));
}

async fn a_store_snapshot_shows_only_paid_orders(backend: Backend) {
    let db = TestDb::new(backend).await;
    let server = TestServer::start(&db, &[("BAEDAL__PAYMENT__LATENCY_MS", "4000")]);
    let api = &server.api;
    let (store, item) = api.create_store(STORE, 600).await;
    let customer = uuid::Uuid::new_v4().to_string();
    let (status, order) = api.place("unpaid-1", &order_body(&store, &item, &customer, DROPOFF)).await;
    assert_eq!(status, 201, "{order}");
    assert_eq!(api.order(order["id"].as_str().unwrap()).await["status"], "awaiting_payment");
    let mut tablet = connect(&api.base, "/v1/ws/store", &token(Role::Store, &store)).await;
    let snapshot = tablet.until("the snapshot", |m| m["type"] == "snapshot").await;
    assert_eq!(snapshot["orders"], json!([]), "the live stream hides unpaid orders, and so does the snapshot");
}

async fn a_socket_runs_its_commands_in_order_and_bounds_them(backend: Backend) {
    let db = TestDb::new(backend).await;
    let server = TestServer::start(&db, &[("BAEDAL__WS__COMMANDS_QUEUED", "4")]);
    let api = &server.api;
    let rider = api.create_rider("Busy", STORE).await;
    let mut socket = connect(&api.base, "/v1/ws/rider", &token(Role::Rider, &rider)).await;
    socket.until("the snapshot", |m| m["type"] == "snapshot").await;
    // One burst of changes that each write an event: every command is waiting before the
    // first has been stored and answered.
    let sent = 40;
    socket
        .send_burst((0..sent).map(|n| match n % 2 {
            0 => json!({"type": "online", "request_id": n.to_string(), "position": {"lat": STORE.0, "lon": STORE.1}}),
            _ => json!({"type": "offline", "request_id": n.to_string()}),
        }))
        .await;
    let mut answered = Vec::new();
    let mut refused = 0;
    while answered.len() + refused < sent as usize {
        let message = socket.until("an answer", |m| m["type"] == "ack" || m["type"] == "error").await;
        if message["code"] == "too_many_commands" {
            refused += 1;
        } else {
            answered.push(message["request_id"].as_str().unwrap().parse::<u32>().unwrap());
        }
    }
    assert!(refused > 0, "40 commands at once on a queue of 4: some are refused");
    let mut in_order = answered.clone();
    in_order.sort_unstable();
    assert_eq!(answered, in_order, "answers come in the order the commands were sent");
    // The socket still works: with the queue drained, one more command is run (it goes online
    // or, already online, is told so), not refused.
    socket.send(json!({"type": "online", "request_id": "last", "position": {"lat": STORE.0, "lon": STORE.1}})).await;
    let last = socket.until("the last answer", |m| m["request_id"] == "last").await;
    assert_ne!(last["code"], "too_many_commands", "{last}");
}

async fn reasons_with_control_characters_are_refused_at_the_edge(backend: Backend) {
    let db = TestDb::new(backend).await;
    let server = TestServer::start(&db, &[]);
    let api = &server.api;
    let (store, item) = api.create_store(STORE, 600).await;
    let customer = uuid::Uuid::new_v4().to_string();
    let (_, order) = api.place("nul-1", &order_body(&store, &item, &customer, DROPOFF)).await;
    let id = order["id"].as_str().unwrap().to_owned();
    api.wait_status(&id, "awaiting_store").await;

    let path = format!("/v1/stores/{store}/orders/{id}/reject");
    let (status, body) = api.post(&path, json!({"reason": "bad\u{0}reason"})).await;
    assert_eq!((status, body["error"]["field"].as_str()), (422, Some("reason")), "{body}");
    let mut tablet = connect(&api.base, "/v1/ws/store", &token(Role::Store, &store)).await;
    tablet.send(json!({"type": "reject", "request_id": "t1", "order_id": id, "reason": "bell\u{7}"})).await;
    let answer = tablet.until("the answer", |m| m["request_id"] == "t1").await;
    assert_eq!((answer["type"].as_str(), answer["field"].as_str()), (Some("error"), Some("reason")), "{answer}");
    let (status, body) = api.post(&format!("/v1/orders/{id}/cancel"), json!({"reason": "ops\u{1b}[31m"})).await;
    assert_eq!((status, body["error"]["field"].as_str()), (422, Some("reason")), "{body}");
    // Nothing was half-written: the order still waits for the store, and a clean reason works.
    assert_eq!(api.order(&id).await["status"], "awaiting_store");
    let (status, body) = api.post(&path, json!({"reason": "out of rice"})).await;
    assert_eq!(status, 200, "{body}");
}

on_both_backends!(
    a_reconnecting_app_hears_of_an_order_that_finished_while_it_was_away,
    a_store_snapshot_shows_only_paid_orders,
    a_socket_runs_its_commands_in_order_and_bounds_them,
    reasons_with_control_characters_are_refused_at_the_edge,
);
