//! Dispatch through the real server: the batch matcher, the widening search radius, the
//! operator alert and the give-up policy, on both backends.

mod common;

use baedal::auth::Role;
use chrono::{DateTime, Utc};
use common::server::order_body;
use common::ws::{connect, token};
use common::{Backend, TestDb, TestServer};
use serde_json::{json, Value};

const STORE: (f64, f64) = (37.5665, 126.978);
const DROPOFF: (f64, f64) = (37.5765, 126.978);
const CUSTOMER: &str = "5d7e9f1a-2b3c-4d5e-8f9a-0b1c2d3e4f5a";

fn time(order: &Value, field: &str) -> DateTime<Utc> {
    order[field].as_str().unwrap_or_else(|| panic!("{field} missing in {order:#}")).parse().unwrap()
}

async fn accepted_order(server: &TestServer, store: &str, item: &str, key: &str) -> String {
    let api = &server.api;
    let (status, body) = api.place(key, &order_body(store, item, CUSTOMER, DROPOFF)).await;
    assert_eq!(status, 201, "{body}");
    let id = body["id"].as_str().unwrap().to_owned();
    api.wait_status(&id, "awaiting_store").await;
    let (status, body) = api.post(&format!("/v1/stores/{store}/orders/{id}/accept"), json!({"prep_minutes": 10})).await;
    assert_eq!(status, 200, "{body}");
    id
}

/// One rider 1.2 km away, beyond the starting radius: the radius must grow to reach it. The
/// offer lapses, nobody else is out there, the operator is alerted when the radius hits its
/// cap, and the order is cancelled with a refund at the give-up time.
async fn an_unserved_job_widens_its_radius_then_escalates_then_gives_up(backend: Backend) {
    let db = TestDb::new(backend).await;
    let server = TestServer::start(
        &db,
        &[
            ("BAEDAL__DISPATCH__BASE_RADIUS_M", "300"),
            ("BAEDAL__DISPATCH__RADIUS_GROWTH_M_PER_MIN", "60000"),
            ("BAEDAL__DISPATCH__MAX_RADIUS_M", "3000"),
            ("BAEDAL__DISPATCH__OFFER_TIMEOUT_SECS", "1"),
            ("BAEDAL__DISPATCH__GIVE_UP_AFTER_SECS", "6"),
        ],
    );
    let api = &server.api;
    let (store, item) = api.create_store(STORE, 60).await;
    let rider = api.create_rider("Far", (37.5773, 126.978)).await;
    let id = accepted_order(&server, &store, &item, "unserved").await;

    let offered = api.wait_order(&id, 20, |o| o["dispatch"] == "offered").await;
    assert_eq!(offered["rider_id"], rider.as_str());
    let offered_at = time(&offered, "offer_expires_at") - chrono::Duration::seconds(1);
    let waited = (offered_at - time(&offered, "accepted_at")).num_milliseconds();
    assert!(waited >= 600, "offered after {waited} ms: the radius had to widen to 1.2 km first");

    let alerted = api.wait_order(&id, 20, |o| o["dispatch_alerted_at"].is_string()).await;
    assert_eq!(alerted["status"], "preparing", "an alert does not end the order");
    let alert_after = (time(&alerted, "dispatch_alerted_at") - time(&alerted, "accepted_at")).num_milliseconds();
    assert!((2000..4500).contains(&alert_after), "alerted {alert_after} ms after dispatch started (cap at 2.7 s)");

    let cancelled = api.wait_order(&id, 20, |o| o["status"] == "cancelled" && o["payment"]["status"] == "voided").await;
    assert_eq!(cancelled["cancellation"]["code"], "no_rider_found");
    let (_, rider) = api.get(&format!("/v1/riders/{rider}")).await;
    assert_eq!(rider["duty"]["status"], "idle");
}

/// Two jobs, two riders, arranged so that greedy would hand the first job the rider the
/// second one needs: the batch gives each job the rider that keeps the total pickup lowest.
/// The server is set up with dispatch idle, then restarted, so that the first tick after
/// recovery sees both jobs and both riders at once.
async fn the_tick_assigns_jobs_as_a_batch(backend: Backend) {
    let db = TestDb::new(backend).await;
    let mut server = TestServer::start(
        &db,
        &[("BAEDAL__DISPATCH__TICK_MS", "3600000"), ("BAEDAL__DISPATCH__BASE_RADIUS_M", "5000")],
    );
    let api = server.api.clone();
    // Store A at the centre, store B 1.2 km north. Rider 1 sits 200 m north of A (between
    // the stores), rider 2 sits 300 m south of A. Greedy, taking A first, would give A rider 1
    // and leave B with rider 2 (1.5 km away); the optimum gives A rider 2 and B rider 1.
    let (store_a, item_a) = api.create_store(STORE, 60).await;
    let (store_b, item_b) = api.create_store((37.5773, 126.978), 60).await;
    let r1 = api.create_rider("Between", (37.5683, 126.978)).await;
    let r2 = api.create_rider("South", (37.5638, 126.978)).await;
    let a = accepted_order(&server, &store_a, &item_a, "batch-a").await;
    let b = accepted_order(&server, &store_b, &item_b, "batch-b").await;
    assert!(server.terminate().success());
    server.restart_with(&[("BAEDAL__DISPATCH__TICK_MS", "100")]);
    let api = server.api.clone();
    let a = api.wait_order(&a, 20, |o| o["dispatch"] == "offered").await;
    let b = api.wait_order(&b, 20, |o| o["dispatch"] == "offered").await;
    assert_eq!(a["rider_id"], r2.as_str());
    assert_eq!(b["rider_id"], r1.as_str());
    assert!(a["eta"]["pickup_at"].is_string() && b["eta"]["dropoff_at"].is_string(), "offers carry ETAs");

    // Each offer left its reasons: A weighed both riders and left rider 1 to B.
    let log_of = |order: &Value| format!("/v1/ops/orders/{}/dispatch", order["id"].as_str().unwrap());
    let (status, log) = api.get(&log_of(&a)).await;
    assert_eq!(status, 200, "{log}");
    let decisions = log["decisions"].as_array().unwrap();
    assert_eq!(decisions.len(), 1, "{log}");
    assert_eq!(decisions[0]["rider"], r2.as_str());
    let verdict_of = |rider: &str| {
        decisions[0]["candidates"].as_array().unwrap().iter().find(|c| c["rider"] == rider).cloned().unwrap_or_default()
    };
    assert_eq!(verdict_of(&r2)["verdict"], "chosen", "{log}");
    assert_eq!(verdict_of(&r1)["verdict"], "offered_another_order", "{log}");
    assert_eq!(verdict_of(&r1)["order"], b["id"], "{log}");
    // Kept durably: the same after a restart.
    assert!(server.terminate().success());
    server.restart_with(&[("BAEDAL__DISPATCH__TICK_MS", "100")]);
    let (status, again) = server.api.get(&log_of(&a)).await;
    assert_eq!((status, &again["decisions"]), (200, &log["decisions"]));
    // Only operators read it, and only of orders that exist.
    let (status, _) = server.api.get(&format!("/v1/ops/orders/{}/dispatch", uuid::Uuid::new_v4())).await;
    assert_eq!(status, 404);
    let (status, _) = server.api.get("/v1/ops/orders/not-an-id/dispatch").await;
    assert_eq!(status, 404);
}

/// A rider whose app stops answering holds every order it is offered for the whole offer
/// timeout. After three lapsed offers in a row the platform sets it offline, says so on its
/// socket, and the operator sees it; going online again clears the mark.
async fn a_rider_who_lets_three_offers_lapse_goes_offline(backend: Backend) {
    let db = TestDb::new(backend).await;
    let server = TestServer::start(&db, &[("BAEDAL__DISPATCH__OFFER_TIMEOUT_SECS", "1")]);
    let api = &server.api;
    let (store, item) = api.create_store(STORE, 60).await;
    let rider = api.create_rider("Pocket", STORE).await;
    let mut app = connect(&api.base, "/v1/ws/rider", &token(Role::Rider, &rider)).await;
    app.until("the snapshot", |m| m["type"] == "snapshot").await;
    let mut orders = Vec::new();
    for n in 0..4 {
        orders.push(accepted_order(&server, &store, &item, &format!("lapse-{n}")).await);
    }
    let mut offered = Vec::new();
    let told = loop {
        let message = app.until("an offer or the rider", |m| m["type"] == "offer" || m["type"] == "rider").await;
        match message["type"].as_str() {
            Some("offer") => offered.push(message["order"]["id"].as_str().unwrap().to_owned()),
            _ => break message,
        }
    };
    assert_eq!(offered.len(), 3, "set offline at the third lapse, not before or after: {offered:?}");
    for id in &offered {
        let (status, log) = api.get(&format!("/v1/ops/orders/{id}/dispatch")).await;
        assert_eq!(status, 200, "{log}");
        assert_eq!(log["decisions"][0]["rider"], rider.as_str(), "every offer has its decision: {log}");
    }
    assert_eq!(
        (told["rider"]["online"].as_bool(), told["rider"]["offline_reason"].as_str()),
        (Some(false), Some("unanswered_offers")),
        "{told}"
    );
    let (_, view) = api.get(&format!("/v1/riders/{rider}")).await;
    assert_eq!(view["offline_reason"], "unanswered_offers", "{view}");
    let (status, city) = api.get("/v1/ops/city").await;
    assert_eq!(status, 200, "{city}");
    assert_eq!(city["kpis"]["riders_unanswering"], 1, "{}", city["kpis"]);
    // Offline, it is offered nothing more; the orders wait for someone else.
    for id in &orders {
        let order = api.order(id).await;
        assert_ne!(order["dispatch"], "offered", "{order}");
    }
    // Back online by its own word: the mark is gone.
    let (status, view) =
        api.post(&format!("/v1/riders/{rider}/online"), json!({"position": {"lat": STORE.0, "lon": STORE.1}})).await;
    assert_eq!(status, 200, "{view}");
    assert!(view.get("offline_reason").is_none_or(Value::is_null), "{view}");
}

/// Released to the kitchen's time: a rider at the store is not sent while the food has ten
/// minutes to go (it would stand at the counter, held from other orders), and is sent the
/// moment the kitchen says the food is ready. Food due within the rider's ride is sent at
/// once.
async fn a_rider_is_sent_to_arrive_as_the_food_is_ready(backend: Backend) {
    let db = TestDb::new(backend).await;
    let server = TestServer::start(&db, &[("BAEDAL__DISPATCH__RELEASE", "before_ready")]);
    let api = &server.api;
    let (store, item) = api.create_store(STORE, 60).await;
    let rider = api.create_rider("Near", STORE).await;
    let id = accepted_order(&server, &store, &item, "release-1").await;
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    let waiting = api.order(&id).await;
    assert_eq!((waiting["dispatch"].as_str(), &waiting["rider_id"]), (Some("searching"), &Value::Null), "{waiting}");
    let (_, view) = api.get(&format!("/v1/riders/{rider}")).await;
    assert_eq!(view["duty"]["status"], "idle", "the rider stays free meanwhile: {view}");

    let (status, body) = api.post(&format!("/v1/stores/{store}/orders/{id}/ready"), json!({})).await;
    assert_eq!(status, 200, "{body}");
    let offered = api.wait_order(&id, 10, |o| o["dispatch"] == "offered").await;
    assert_eq!(offered["rider_id"], rider.as_str());

    // One minute of cooking: the ride covers it, so the rider is sent at once.
    let (_, placed) = api.place("release-2", &order_body(&store, &item, CUSTOMER, DROPOFF)).await;
    let quick = placed["id"].as_str().unwrap().to_owned();
    api.wait_status(&quick, "awaiting_store").await;
    let other = api.create_rider("Second", STORE).await;
    let (status, body) =
        api.post(&format!("/v1/stores/{store}/orders/{quick}/accept"), json!({"prep_minutes": 1})).await;
    assert_eq!(status, 200, "{body}");
    let offered = api.wait_order(&quick, 10, |o| o["dispatch"] == "offered").await;
    assert_eq!(offered["rider_id"], other.as_str());
}

on_both_backends!(
    a_rider_is_sent_to_arrive_as_the_food_is_ready,
    an_unserved_job_widens_its_radius_then_escalates_then_gives_up,
    the_tick_assigns_jobs_as_a_batch,
    a_rider_who_lets_three_offers_lapse_goes_offline
);
