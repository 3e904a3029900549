//! The order saga end to end, over HTTP against the real server, on both backends.

mod common;

use baedal::auth::Role;

use common::server::order_body;
use common::{Backend, TestDb, TestServer};
use serde_json::{json, Value};

const STORE: (f64, f64) = (37.5665, 126.978);
const NEAR: (f64, f64) = (37.5674, 126.978); // ~100 m from the store
const FARTHER: (f64, f64) = (37.5715, 126.978); // ~550 m
const DROPOFF: (f64, f64) = (37.5765, 126.978); // ~1.1 km
const CUSTOMER: &str = "7a1b0c6e-3f4d-4b8a-9c2d-1e5f6a7b8c9d";

/// Fields drop in order: the server stops before its database goes.
struct City {
    server: TestServer,
    _db: TestDb,
    store: String,
    item: String,
}

async fn city(backend: Backend, accept_secs: u32, env: &[(&str, &str)]) -> City {
    let db = TestDb::new(backend).await;
    let server = TestServer::start(&db, env);
    let (store, item) = server.api.create_store(STORE, accept_secs).await;
    City { server, _db: db, store, item }
}

impl City {
    async fn place(&self, key: &str) -> Value {
        let (status, body) = self.server.api.place(key, &order_body(&self.store, &self.item, CUSTOMER, DROPOFF)).await;
        assert_eq!(status, 201, "place: {body}");
        assert_eq!(body["status"], "awaiting_payment");
        body
    }

    async fn store_action(&self, order: &str, action: &str, body: Value) -> (u16, Value) {
        self.server.api.post(&format!("/v1/stores/{}/orders/{order}/{action}", self.store), body).await
    }

    async fn rider_action(&self, rider: &str, path: &str, body: Value) -> (u16, Value) {
        self.server.api.post(&format!("/v1/riders/{rider}/{path}"), body).await
    }
}

fn payment(order: &Value) -> &str {
    order["payment"]["status"].as_str().unwrap_or_default()
}

async fn happy_path(backend: Backend) {
    let city = city(backend, 60, &[]).await;
    let api = &city.server.api;
    let near = api.create_rider("Near", NEAR).await;
    let _farther = api.create_rider("Farther", FARTHER).await;

    let order = city.place("happy-1").await;
    let id = order["id"].as_str().unwrap();
    let order = api.wait_status(id, "awaiting_store").await;
    assert_eq!(payment(&order), "authorized");
    assert!(order["store_accept_by"].is_string());

    let (status, board) = api.get(&format!("/v1/stores/{}/orders", city.store)).await;
    assert_eq!(status, 200);
    assert_eq!(board["orders"][0]["order_id"], id);

    let (status, accepted) = city.store_action(id, "accept", json!({"prep_minutes": 12})).await;
    assert_eq!(status, 200, "{accepted}");
    assert_eq!(accepted["status"], "preparing");
    assert_eq!(accepted["prep_minutes"], 12);

    // The nearest free rider gets the offer.
    let offered = api.wait_order(id, 20, |o| o["dispatch"] == "offered").await;
    assert_eq!(offered["rider_id"], near.as_str());
    let (_, rider) = api.get(&format!("/v1/riders/{near}")).await;
    assert_eq!(rider["duty"]["status"], "offered");

    let (status, body) = city.rider_action(&near, &format!("offers/{id}/accept"), json!({})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["dispatch"], "assigned");

    // Picking up before the kitchen is done is refused.
    let (status, body) = city.rider_action(&near, &format!("jobs/{id}/pickup"), json!({})).await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["error"]["code"], "not_ready");

    let (status, body) = city.store_action(id, "ready", json!({})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "ready_for_pickup");
    let (status, body) = city.rider_action(&near, &format!("jobs/{id}/pickup"), json!({})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "picked_up");

    // Delivering far from the drop-off is refused; at the drop-off it lands.
    let (status, body) = city.rider_action(&near, &format!("jobs/{id}/deliver"), json!({})).await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"]["field"], "position");
    let (status, _) = api
        .send(
            reqwest::Method::PUT,
            &format!("/v1/riders/{near}/location"),
            Some(json!({"lat": DROPOFF.0, "lon": DROPOFF.1})),
            &[],
        )
        .await;
    assert_eq!(status, 200);
    let (status, body) = city.rider_action(&near, &format!("jobs/{id}/deliver"), json!({})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "delivered");

    let done = api.wait_order(id, 20, |o| payment(o) == "captured").await;
    assert_eq!(done["status"], "delivered");
    let (_, rider) = api.get(&format!("/v1/riders/{near}")).await;
    assert_eq!(rider["duty"]["status"], "idle");
    let (_, board) = api.get(&format!("/v1/stores/{}/orders", city.store)).await;
    assert_eq!(board["orders"], json!([]));

    // A finished order refuses further transitions with its state.
    let (status, body) =
        api.as_role(Role::Customer, CUSTOMER).post(&format!("/v1/orders/{id}/cancel"), json!({})).await;
    assert_eq!(status, 409);
    assert_eq!(body["error"]["current_status"], "delivered");
}

async fn store_rejects_and_the_payment_is_voided(backend: Backend) {
    let city = city(backend, 60, &[]).await;
    let api = &city.server.api;
    let order = city.place("reject-1").await;
    let id = order["id"].as_str().unwrap();
    api.wait_status(id, "awaiting_store").await;

    let (status, body) = city.store_action(id, "reject", json!({"reason": "  "})).await;
    assert_eq!(status, 422, "a reason is required: {body}");
    assert_eq!(body["error"]["field"], "reason");

    let (status, body) = city.store_action(id, "reject", json!({"reason": "out of rice"})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "cancelled");
    assert_eq!(body["cancellation"]["code"], "store_rejected");
    let order = api.wait_order(id, 20, |o| payment(o) == "voided").await;
    assert!(order["cancellation"]["message"].as_str().unwrap().contains("out of rice"));
}

async fn silent_store_auto_rejects(backend: Backend) {
    let city = city(backend, 1, &[]).await;
    let api = &city.server.api;
    let order = city.place("silent-1").await;
    let id = order["id"].as_str().unwrap();
    let order = api.wait_order(id, 20, |o| o["status"] == "cancelled" && payment(o) == "voided").await;
    assert_eq!(order["cancellation"]["code"], "store_did_not_confirm");
    let (status, _) = city.store_action(id, "accept", json!({"prep_minutes": 5})).await;
    assert_eq!(status, 409, "too late to accept");
}

async fn a_declined_offer_goes_to_the_next_rider(backend: Backend) {
    let city = city(backend, 60, &[]).await;
    let api = &city.server.api;
    let near = api.create_rider("Near", NEAR).await;
    let farther = api.create_rider("Farther", FARTHER).await;
    let order = city.place("decline-1").await;
    let id = order["id"].as_str().unwrap();
    api.wait_status(id, "awaiting_store").await;
    city.store_action(id, "accept", json!({"prep_minutes": 10})).await;

    api.wait_order(id, 20, |o| o["dispatch"] == "offered" && o["rider_id"] == near.as_str()).await;
    // Someone else cannot answer this offer, nor learn that it exists.
    let (status, _) = city.rider_action(&farther, &format!("offers/{id}/accept"), json!({})).await;
    assert_eq!(status, 404);
    let (status, body) = city.rider_action(&near, &format!("offers/{id}/decline"), json!({})).await;
    assert_eq!(status, 200, "{body}");
    let order = api.wait_order(id, 20, |o| o["dispatch"] == "offered" && o["rider_id"] == farther.as_str()).await;
    assert_eq!(order["status"], "preparing");
    let (_, rider) = api.get(&format!("/v1/riders/{near}")).await;
    assert_eq!(rider["duty"]["status"], "idle");
}

async fn an_offer_that_times_out_goes_to_the_next_rider(backend: Backend) {
    let city = city(backend, 60, &[("BAEDAL__DISPATCH__OFFER_TIMEOUT_SECS", "1")]).await;
    let api = &city.server.api;
    let near = api.create_rider("Near", NEAR).await;
    let farther = api.create_rider("Farther", FARTHER).await;
    let order = city.place("timeout-1").await;
    let id = order["id"].as_str().unwrap();
    api.wait_status(id, "awaiting_store").await;
    city.store_action(id, "accept", json!({"prep_minutes": 10})).await;
    api.wait_order(id, 20, |o| o["rider_id"] == near.as_str()).await;
    api.wait_order(id, 20, |o| o["dispatch"] == "offered" && o["rider_id"] == farther.as_str()).await;
    // The lapsed offer cannot be taken any more: to that rider it is gone.
    let (status, _) = city.rider_action(&near, &format!("offers/{id}/accept"), json!({})).await;
    assert_eq!(status, 404);
}

async fn a_rider_going_offline_sends_the_order_back_to_dispatch(backend: Backend) {
    let city = city(backend, 60, &[]).await;
    let api = &city.server.api;
    let near = api.create_rider("Near", NEAR).await;
    let order = city.place("offline-1").await;
    let id = order["id"].as_str().unwrap();
    api.wait_status(id, "awaiting_store").await;
    city.store_action(id, "accept", json!({"prep_minutes": 10})).await;
    api.wait_order(id, 20, |o| o["rider_id"] == near.as_str()).await;
    city.rider_action(&near, &format!("offers/{id}/accept"), json!({})).await;

    let (status, body) = city.rider_action(&near, "offline", json!({})).await;
    assert_eq!(status, 200, "{body}");
    api.wait_order(id, 20, |o| o["dispatch"] == "searching" && o["rider_id"].is_null()).await;
    let other = api.create_rider("Other", FARTHER).await;
    let order = api.wait_order(id, 20, |o| o["dispatch"] == "offered").await;
    assert_eq!(order["rider_id"], other.as_str());

    // A rider carrying food cannot go offline.
    city.rider_action(&other, &format!("offers/{id}/accept"), json!({})).await;
    city.store_action(id, "ready", json!({})).await;
    // 550 m away is too far to pick up; at the store it is not.
    let (status, body) = city.rider_action(&other, &format!("jobs/{id}/pickup"), json!({})).await;
    assert_eq!((status, body["error"]["code"].as_str()), (422, Some("outside_geofence")), "{body}");
    api.ping(&other, STORE).await;
    let (status, _) = city.rider_action(&other, &format!("jobs/{id}/pickup"), json!({})).await;
    assert_eq!(status, 200);
    let (status, body) = city.rider_action(&other, "offline", json!({})).await;
    assert_eq!(status, 409, "{body}");
}

async fn the_customer_cancels_before_the_store_accepts(backend: Backend) {
    let city = city(backend, 60, &[]).await;
    let api = &city.server.api;
    let order = city.place("cancel-1").await;
    let id = order["id"].as_str().unwrap();
    api.wait_status(id, "awaiting_store").await;
    let (status, body) =
        api.as_role(Role::Customer, CUSTOMER).post(&format!("/v1/orders/{id}/cancel"), json!({})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["cancellation"]["code"], "customer_cancelled");
    api.wait_order(id, 20, |o| payment(o) == "voided").await;

    // After the store accepts, the customer can no longer cancel on their own.
    let second = city.place("cancel-2").await;
    let id = second["id"].as_str().unwrap();
    api.wait_status(id, "awaiting_store").await;
    city.store_action(id, "accept", json!({"prep_minutes": 10})).await;
    let (status, body) =
        api.as_role(Role::Customer, CUSTOMER).post(&format!("/v1/orders/{id}/cancel"), json!({})).await;
    assert_eq!(status, 409);
    assert_eq!(body["error"]["current_status"], "preparing");
    // The store may still cancel it, and the money is released.
    let (status, _) = city.store_action(id, "cancel", json!({"reason": "fryer broke"})).await;
    assert_eq!(status, 200);
    api.wait_order(id, 20, |o| payment(o) == "voided").await;
}

/// Cancelled while the provider is still deciding: the hold it grants afterwards is voided,
/// not left on the customer's card.
async fn a_cancel_during_authorization_voids_the_late_hold(backend: Backend) {
    let city = city(backend, 60, &[("BAEDAL__PAYMENT__LATENCY_MS", "600")]).await;
    let api = &city.server.api;
    let order = city.place("early-cancel").await;
    let id = order["id"].as_str().unwrap();
    let (status, body) =
        api.as_role(Role::Customer, CUSTOMER).post(&format!("/v1/orders/{id}/cancel"), json!({})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "cancelled");
    assert_eq!(payment(&body), "pending", "the provider has not answered yet");
    let order = api.wait_order(id, 20, |o| payment(o) == "voided").await;
    assert_eq!(order["status"], "cancelled");
}

async fn the_same_idempotency_key_never_makes_a_second_order(backend: Backend) {
    let city = city(backend, 60, &[]).await;
    let api = &city.server.api;
    let body = order_body(&city.store, &city.item, CUSTOMER, DROPOFF);
    let (first_status, first) = api.place("same-key", &body).await;
    assert_eq!(first_status, 201);
    let (second_status, second) = api.place("same-key", &body).await;
    assert_eq!(second_status, 200);
    assert_eq!(first["id"], second["id"]);

    // Concurrent retries of one request: one order.
    let racing = (0..8).map(|_| {
        let api = api.clone();
        let body = body.clone();
        tokio::spawn(async move { api.place("racing-key", &body).await })
    });
    let mut ids = std::collections::HashSet::new();
    for handle in racing {
        let (status, order) = handle.await.unwrap();
        assert!(status == 200 || status == 201, "{status} {order}");
        ids.insert(order["id"].as_str().unwrap().to_owned());
    }
    assert_eq!(ids.len(), 1);

    // The same key for a different order is refused.
    let mut other = body.clone();
    other["items"][0]["quantity"] = json!(5);
    let (status, error) = api.place("same-key", &other).await;
    assert_eq!(status, 422);
    assert_eq!(error["error"]["code"], "idempotency_key_reused");

    let (_, board) = api.get(&format!("/v1/stores/{}/orders", city.store)).await;
    assert_eq!(board["orders"].as_array().unwrap().len(), 2);
}

async fn a_declined_payment_rejects_the_order(backend: Backend) {
    let city = city(backend, 60, &[("BAEDAL__PAYMENT__DECLINE_RATE", "1.0")]).await;
    let api = &city.server.api;
    let order = city.place("declined-1").await;
    let id = order["id"].as_str().unwrap();
    let order = api.wait_status(id, "rejected").await;
    assert_eq!(payment(&order), "declined");
    assert!(order["rejection_reason"].as_str().unwrap().contains("declined"));
    let (_, board) = api.get(&format!("/v1/stores/{}/orders", city.store)).await;
    assert_eq!(board["orders"], json!([]));
}

async fn bad_input_gets_a_clear_error_and_writes_nothing(backend: Backend) {
    let city = city(backend, 60, &[]).await;
    let api = &city.server.api;
    let good = order_body(&city.store, &city.item, CUSTOMER, DROPOFF);

    let huge: &'static str = Box::leak(format!("{{\"customer_id\": \"{}\"}}", "x".repeat(100_000)).into_boxed_str());
    let (status, body) = api.raw(reqwest::Method::POST, "/v1/orders", huge).await;
    assert_eq!((status, body["error"]["code"].as_str()), (413, Some("body_too_large")), "{body}");

    let (status, body) = api.raw(reqwest::Method::POST, "/v1/orders", "{\"customer_id\": ").await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"]["code"], "malformed_json");

    let mut missing = good.clone();
    missing.as_object_mut().unwrap().remove("delivery_point");
    let (status, body) = api.place("bad-1", &missing).await;
    assert_eq!((status, body["error"]["field"].as_str()), (422, Some("delivery_point")), "{body}");

    let mut wrong_type = good.clone();
    wrong_type["items"][0]["quantity"] = json!("two");
    let (status, body) = api.place("bad-2", &wrong_type).await;
    assert_eq!((status, body["error"]["field"].as_str()), (422, Some("items[0].quantity")), "{body}");

    let mut off_map = good.clone();
    off_map["delivery_point"] = json!({"lat": 123.0, "lon": 0.0});
    let (status, body) = api.place("bad-3", &off_map).await;
    assert_eq!((status, body["error"]["field"].as_str()), (422, Some("delivery_point")), "{body}");

    let mut too_far = good.clone();
    too_far["delivery_point"] = json!({"lat": 37.7, "lon": 126.978});
    let (status, body) = api.place("bad-4", &too_far).await;
    assert_eq!((status, body["error"]["field"].as_str()), (422, Some("delivery_point")), "{body}");

    let mut unknown_item = good.clone();
    unknown_item["items"][0]["item_id"] = json!(uuid::Uuid::new_v4());
    let (status, body) = api.place("bad-5", &unknown_item).await;
    assert_eq!((status, body["error"]["field"].as_str()), (422, Some("items")), "{body}");

    let customer = api.as_role(Role::Customer, CUSTOMER);
    let (status, body) = customer.post("/v1/orders", good.clone()).await;
    assert_eq!((status, body["error"]["field"].as_str()), (400, Some("Idempotency-Key")), "{body}");
    // Another customer's id in the body is refused; a store or rider cannot order at all.
    let (status, body) = api.as_role(Role::Customer, &uuid::Uuid::new_v4().to_string()).place("bad-7", &good).await;
    assert_eq!((status, body["error"]["field"].as_str()), (403, Some("customer_id")), "{body}");
    let (status, _) = api.as_role(Role::Store, &city.store).place("bad-8", &good).await;
    assert_eq!(status, 403);

    let (status, body) = api.get(&format!("/v1/orders/{}", uuid::Uuid::new_v4())).await;
    assert_eq!((status, body["error"]["code"].as_str()), (404, Some("not_found")));
    let (status, _) = api.get("/v1/orders/not-a-uuid").await;
    assert_eq!(status, 404);
    let (status, _) = api.get("/v1/nowhere").await;
    assert_eq!(status, 404);

    let (status, body) = api
        .post(&format!("/v1/stores/{}/orders/{}/accept", city.store, uuid::Uuid::new_v4()), json!({"prep_minutes": 5}))
        .await;
    assert_eq!(status, 404, "{body}");

    // A closed store takes no orders.
    let (status, _) = api.post(&format!("/v1/stores/{}/close", city.store), json!({})).await;
    assert_eq!(status, 200);
    let (status, body) = api.place("bad-6", &good).await;
    assert_eq!((status, body["error"]["code"].as_str()), (409, Some("store_closed")), "{body}");

    // None of it left an order behind.
    let (_, board) = api.get(&format!("/v1/stores/{}/orders", city.store)).await;
    assert_eq!(board["orders"], json!([]));
    for key in ["bad-1", "bad-2", "bad-3", "bad-4", "bad-5", "bad-6"] {
        let id = uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_OID, format!("order:{CUSTOMER}:{key}").as_bytes());
        let (status, _) = api.get(&format!("/v1/orders/{id}")).await;
        assert_eq!(status, 404, "{key} left an order");
    }

    // An accept with a bad prep time names the field.
    api.post(&format!("/v1/stores/{}/open", city.store), json!({})).await;
    let order = city.place("good-1").await;
    let id = order["id"].as_str().unwrap();
    api.wait_status(id, "awaiting_store").await;
    let (status, body) = city.store_action(id, "accept", json!({"prep_minutes": 0})).await;
    assert_eq!((status, body["error"]["field"].as_str()), (422, Some("prep_minutes")), "{body}");
    let (status, body) = city.store_action(id, "accept", json!({})).await;
    assert_eq!((status, body["error"]["field"].as_str()), (422, Some("prep_minutes")), "{body}");
    assert_eq!(api.order(id).await["status"], "awaiting_store");
}

on_both_backends!(
    happy_path,
    store_rejects_and_the_payment_is_voided,
    silent_store_auto_rejects,
    a_declined_offer_goes_to_the_next_rider,
    an_offer_that_times_out_goes_to_the_next_rider,
    a_rider_going_offline_sends_the_order_back_to_dispatch,
    the_customer_cancels_before_the_store_accepts,
    a_cancel_during_authorization_voids_the_late_hold,
    the_same_idempotency_key_never_makes_a_second_order,
    a_declined_payment_rejects_the_order,
    bad_input_gets_a_clear_error_and_writes_nothing,
);
