//! Dispatch through the real server: the batch matcher, the widening search radius, the
//! operator alert and the give-up policy, on both backends.

mod common;

use baedal::auth::Role;
use std::collections::{BTreeMap, BTreeSet};

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
    accepted_order_to(server, store, item, key, DROPOFF).await
}

async fn accepted_order_to(server: &TestServer, store: &str, item: &str, key: &str, door: (f64, f64)) -> String {
    let api = &server.api;
    let (status, body) = api.place(key, &order_body(store, item, CUSTOMER, door)).await;
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
    // One order per offer: a rider excluded from every order of a lapsed trip would have
    // nothing left to be offered.
    let server = TestServer::start(
        &db,
        &[("BAEDAL__DISPATCH__OFFER_TIMEOUT_SECS", "1"), ("BAEDAL__DISPATCH__TRIPS__MAX_ORDERS", "1")],
    );
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
        let offline = |m: &Value| m["type"] == "rider" && m["rider"]["online"] == false;
        let message = app.until("an offer or the rider offline", |m| m["type"] == "offer" || offline(m)).await;
        match message["type"].as_str() {
            Some("offer") => offered.push((
                message["deadline"].as_str().unwrap().to_owned(),
                message["order"]["id"].as_str().unwrap().to_owned(),
            )),
            _ => break message,
        }
    };
    // The orders of one offer (one trip) share its deadline and lapse as one offer.
    let offers: BTreeSet<&str> = offered.iter().map(|(deadline, _)| deadline.as_str()).collect();
    assert_eq!(offers.len(), 3, "set offline at the third lapse, not before or after: {offered:?}");
    for (_, id) in &offered {
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

/// Two orders of one store, due together, are offered to one rider as one trip over its
/// socket: both offers share a deadline, the rider's route lists both pickups before both
/// doors, and one `accept_trip` takes both. A third order of the store joins the trip under
/// way. The store sees who comes; the rider picks up and delivers stop by stop; every offer
/// has its decision, naming the trip.
async fn orders_of_one_store_ride_as_one_trip_and_a_third_joins_it(backend: Backend) {
    const DOORS: [(f64, f64); 3] = [(37.5765, 126.978), (37.5745, 126.979), (37.5755, 126.9765)];
    let db = TestDb::new(backend).await;
    // Three doors take more than the default detour allows (each door costs the next one its
    // hand-over time): a wider cap lets all three share the trip.
    let server = TestServer::start(&db, &[("BAEDAL__DISPATCH__TRIPS__MAX_DETOUR_SECS", "900")]);
    let api = &server.api;
    let (store, item) = api.create_store(STORE, 60).await;
    let a = accepted_order_to(&server, &store, &item, "trip-a", DOORS[0]).await;
    let b = accepted_order_to(&server, &store, &item, "trip-b", DOORS[1]).await;
    let (status, body) = api.post("/v1/riders", json!({"name": "Tripper"})).await;
    assert_eq!(status, 201, "{body}");
    let rider = body["id"].as_str().unwrap().to_owned();
    let mut app = connect(&api.base, "/v1/ws/rider", &token(Role::Rider, &rider)).await;
    app.until("the snapshot", |m| m["type"] == "snapshot").await;
    app.send(json!({"type": "online", "request_id": "on", "position": {"lat": STORE.0, "lon": STORE.1}})).await;

    let mut offered: BTreeMap<String, String> = BTreeMap::new();
    while offered.len() < 2 {
        let offer = app.until("an offer", |m| m["type"] == "offer").await;
        offered.insert(offer["order"]["id"].as_str().unwrap().into(), offer["deadline"].as_str().unwrap().into());
    }
    assert_eq!(offered.keys().cloned().collect::<BTreeSet<_>>(), BTreeSet::from([a.clone(), b.clone()]));
    assert_eq!(offered.values().collect::<BTreeSet<_>>().len(), 1, "one offer, one deadline: {offered:?}");
    let four = |m: &Value| m["type"] == "rider" && m["rider"]["trip"].as_array().is_some_and(|t| t.len() == 4);
    let told = app.until("the trip on the rider's route", four).await;
    let kinds: Vec<&str> =
        told["rider"]["trip"].as_array().unwrap().iter().map(|s| s["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["pickup", "pickup", "dropoff", "dropoff"], "{told}");
    assert!(told["rider"]["trip"].as_array().unwrap().iter().all(|s| s["offered"] == true), "{told}");

    app.send(json!({"type": "accept_trip", "request_id": "take"})).await;
    let ack = app.until("the trip taken", |m| m["type"] == "ack" && m["request_id"] == "take").await;
    let route = ack["result"]["trip"].as_array().unwrap();
    assert!(route.len() == 4 && route.iter().all(|s| s["offered"] == false), "{ack}");
    for (order, other) in [(&a, &b), (&b, &a)] {
        assert_eq!(api.order(order).await["dispatch"], "assigned");
        let (_, log) = api.get(&format!("/v1/ops/orders/{order}/dispatch")).await;
        assert_eq!(log["decisions"][0]["rider"], rider.as_str(), "{log}");
        assert_eq!(log["decisions"][0]["trip"], json!([other]), "{log}");
    }

    // A third order of the same store, due with the others, joins the trip under way.
    let c = accepted_order_to(&server, &store, &item, "trip-c", DOORS[2]).await;
    app.until("the offer to join", |m| m["type"] == "offer" && m["order"]["id"] == c.as_str()).await;
    app.send(json!({"type": "accept_trip", "request_id": "join"})).await;
    let ack = app.until("the trip grown", |m| m["type"] == "ack" && m["request_id"] == "join").await;
    assert_eq!(ack["result"]["trip"].as_array().unwrap().len(), 6, "{ack}");
    let (_, log) = api.get(&format!("/v1/ops/orders/{c}/dispatch")).await;
    assert_eq!(log["decisions"][0]["joins_trip"], true, "{log}");
    let mates: BTreeSet<&str> =
        log["decisions"][0]["trip"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
    assert_eq!(mates, BTreeSet::from([a.as_str(), b.as_str()]), "{log}");

    // The store sees who comes for each order.
    let store_api = api.as_role(Role::Store, &store);
    let (_, board) = store_api.get(&format!("/v1/stores/{store}/orders")).await;
    for entry in board["orders"].as_array().unwrap() {
        assert_eq!(entry["rider_id"], rider.as_str(), "{board}");
    }

    // Stop by stop: the food is ready, the rider takes all three, then rides its route.
    for id in [&a, &b, &c] {
        let (status, body) = api.post(&format!("/v1/stores/{store}/orders/{id}/ready"), json!({})).await;
        assert_eq!(status, 200, "{body}");
    }
    api.ping(&rider, STORE).await;
    for id in [&a, &b, &c] {
        app.send(json!({"type": "pick_up", "request_id": format!("up-{id}"), "order_id": id})).await;
        let ack = app.until("the pickup", |m| m["request_id"] == format!("up-{id}").as_str()).await;
        assert_eq!(ack["result"]["status"], "picked_up", "{ack}");
    }
    let (_, view) = api.get(&format!("/v1/riders/{rider}")).await;
    let doors: Vec<(String, f64, f64)> = view["trip"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["order_id"].as_str().unwrap().to_owned(),
                s["at"]["lat"].as_f64().unwrap(),
                s["at"]["lon"].as_f64().unwrap(),
            )
        })
        .collect();
    assert_eq!(doors.len(), 3, "only the doors are left: {view}");
    // Each customer's ETA follows the route: a door later on it is promised later.
    let mut promised = Vec::new();
    for _ in 0..100 {
        promised = Vec::new();
        for (id, _, _) in &doors {
            promised.push(time(&api.order(id).await["eta"], "dropoff_at"));
        }
        if promised.windows(2).all(|w| w[0] < w[1]) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(promised.windows(2).all(|w| w[0] < w[1]), "ETAs along the route: {promised:?}");
    for (id, lat, lon) in doors {
        api.ping(&rider, (lat, lon)).await;
        app.send(json!({"type": "deliver", "request_id": format!("door-{id}"), "order_id": id})).await;
        let ack = app.until("the delivery", |m| m["request_id"] == format!("door-{id}").as_str()).await;
        assert_eq!(ack["result"]["status"], "delivered", "{ack}");
    }
    let (_, view) = api.get(&format!("/v1/riders/{rider}")).await;
    assert_eq!((view["duty"]["status"].as_str(), view["trip"].as_array().map(Vec::len)), (Some("idle"), Some(0)));
}

/// An operator takes an order from its rider before pickup: it leaves the rider's trip, goes
/// back to dispatch, and is never offered to that rider again.
async fn an_operator_reassigns_an_order_and_the_trip_shrinks(backend: Backend) {
    let db = TestDb::new(backend).await;
    let server = TestServer::start(&db, &[]);
    let api = &server.api;
    let (store, item) = api.create_store(STORE, 60).await;
    let first = api.create_rider("First", STORE).await;
    let id = accepted_order(&server, &store, &item, "reassign").await;
    api.wait_order(&id, 10, |o| o["dispatch"] == "offered" && o["rider_id"] == first.as_str()).await;
    let (status, _) = api.post(&format!("/v1/riders/{first}/offer/accept"), json!({})).await;
    assert_eq!(status, 200);
    let (status, body) =
        api.as_role(Role::Rider, &first).post(&format!("/v1/ops/orders/{id}/reassign"), json!({})).await;
    assert_eq!(status, 403, "riders do not reassign: {body}");
    let second = api.create_rider("Second", STORE).await;
    let (status, body) = api.post(&format!("/v1/ops/orders/{id}/reassign"), json!({})).await;
    assert_eq!(status, 200, "{body}");
    // The rider's trip shrinks as the order tells it.
    let mut view = Value::Null;
    for _ in 0..100 {
        view = api.get(&format!("/v1/riders/{first}")).await.1;
        if view["trip"].as_array().is_some_and(Vec::is_empty) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(view["trip"].as_array().map(Vec::len), Some(0), "{view}");
    let offered = api.wait_order(&id, 10, |o| o["dispatch"] == "offered").await;
    assert_eq!(offered["rider_id"], second.as_str(), "never back to the first rider");
    // Nothing to take from an order with its food on board, or with no rider.
    let (status, body) = api.post(&format!("/v1/ops/orders/{id}/reassign"), json!({})).await;
    assert_eq!(status, 200, "an offer can be taken back too: {body}");
    let (status, body) = api.post(&format!("/v1/ops/orders/{id}/reassign"), json!({})).await;
    assert_eq!(status, 409, "{body}");
    let (status, body) = api.post(&format!("/v1/riders/{first}/offer/accept"), json!({})).await;
    assert_eq!((status, body["error"]["code"].as_str()), (409, Some("no_offer")), "{body}");
}

/// A rider going online may say when its shift ends: it is not sent on a trip it could not
/// finish by then, and the decision says why it was left out. A shift end in the past is
/// refused, naming the field.
async fn a_rider_is_not_sent_on_a_trip_its_shift_cannot_finish(backend: Backend) {
    let db = TestDb::new(backend).await;
    let server = TestServer::start(&db, &[]);
    let api = &server.api;
    let (store, item) = api.create_store(STORE, 60).await;
    let (_, body) = api.post("/v1/riders", json!({"name": "Leaving"})).await;
    let leaving = body["id"].as_str().unwrap().to_owned();
    let online = |end: DateTime<Utc>| json!({"position": {"lat": STORE.0, "lon": STORE.1}, "shift_ends_at": end});
    let (status, body) = api.post(&format!("/v1/riders/{leaving}/online"), online(Utc::now())).await;
    assert_eq!((status, body["error"]["field"].as_str()), (422, Some("shift_ends_at")), "{body}");
    let (status, body) =
        api.post(&format!("/v1/riders/{leaving}/online"), online(Utc::now() + chrono::Duration::minutes(2))).await;
    assert_eq!(status, 200, "{body}");
    assert!(body["shift_ends_at"].is_string(), "{body}");
    let staying = api.create_rider("Staying", (37.5700, 126.978)).await;
    let id = accepted_order(&server, &store, &item, "shift").await;
    let offered = api.wait_order(&id, 10, |o| o["dispatch"] == "offered").await;
    assert_eq!(offered["rider_id"], staying.as_str(), "the nearer rider's shift ends first");
    let (_, log) = api.get(&format!("/v1/ops/orders/{id}/dispatch")).await;
    assert_eq!(log["decisions"][0]["shift_ending"], json!([leaving]), "{log}");
}

on_both_backends!(
    a_rider_is_not_sent_on_a_trip_its_shift_cannot_finish,
    orders_of_one_store_ride_as_one_trip_and_a_third_joins_it,
    an_operator_reassigns_an_order_and_the_trip_shrinks,
    a_rider_is_sent_to_arrive_as_the_food_is_ready,
    an_unserved_job_widens_its_radius_then_escalates_then_gives_up,
    the_tick_assigns_jobs_as_a_batch,
    a_rider_who_lets_three_offers_lapse_goes_offline
);
