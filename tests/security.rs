//! Accounts and tokens, and the payment circuit breaker, against the real server.

mod common;

use baedal::auth::Role;
use common::server::order_body;
use common::{Backend, TestDb, TestServer};
use serde_json::json;

const STORE: (f64, f64) = (37.5665, 126.978);
const DROPOFF: (f64, f64) = (37.5765, 126.978);

async fn accounts_sign_up_log_in_refresh_and_log_out(backend: Backend) {
    let db = TestDb::new(backend).await;
    let server = TestServer::start(&db, &[]);
    let api = server.api.with_token(None);
    let (status, tokens) = api
        .post("/v1/auth/signup", json!({"email": "Min@Example.com", "password": "correct horse", "name": "Min"}))
        .await;
    assert_eq!(status, 201, "{tokens}");
    assert_eq!(tokens["role"], "customer");
    let access = tokens["access_token"].as_str().unwrap().to_owned();
    let me = api.with_token(Some(access.clone())).get("/v1/auth/me").await.1;
    assert_eq!(me["subject"], tokens["subject"]);

    let (status, body) = api
        .post("/v1/auth/signup", json!({"email": "min@example.com", "password": "another one", "name": "Min"}))
        .await;
    assert_eq!((status, body["error"]["code"].as_str()), (409, Some("email_taken")));
    let (status, body) = api.post("/v1/auth/signup", json!({"email": "x@y.z", "password": "short", "name": "X"})).await;
    assert_eq!((status, body["error"]["field"].as_str()), (422, Some("password")));

    let (status, _) = api.post("/v1/auth/login", json!({"email": "min@example.com", "password": "wrong horse"})).await;
    assert_eq!(status, 401);
    let (status, _) =
        api.post("/v1/auth/login", json!({"email": "nobody@example.com", "password": "correct horse"})).await;
    assert_eq!(status, 401);
    let (status, login) =
        api.post("/v1/auth/login", json!({"email": "MIN@example.com", "password": "correct horse"})).await;
    assert_eq!(status, 200);

    // A refresh token works once; the new one works; a logged-out one does not.
    let refresh = login["refresh_token"].as_str().unwrap().to_owned();
    let (status, renewed) = api.post("/v1/auth/refresh", json!({"refresh_token": refresh})).await;
    assert_eq!(status, 200);
    let (status, _) = api.post("/v1/auth/refresh", json!({"refresh_token": refresh})).await;
    assert_eq!(status, 401, "a used refresh token is refused");
    let next = renewed["refresh_token"].as_str().unwrap().to_owned();
    let (status, _) = api.post("/v1/auth/logout", json!({"refresh_token": next})).await;
    assert_eq!(status, 204);
    let (status, _) = api.post("/v1/auth/refresh", json!({"refresh_token": next})).await;
    assert_eq!(status, 401, "a revoked refresh token is refused");

    // Operators create staff accounts bound to a store; staff log in and act for it alone.
    let (store, _) = server.api.create_store(STORE, 60).await;
    let (status, _) = api
        .as_role(Role::Customer, &uuid::Uuid::new_v4().to_string())
        .post("/v1/accounts", json!({"email": "staff@x.dev", "password": "staff password", "name": "S", "role": "store", "subject": store}))
        .await;
    assert_eq!(status, 403, "customers cannot create accounts");
    let (status, body) = server
        .api
        .post("/v1/accounts", json!({"email": "staff@x.dev", "password": "staff password", "name": "S", "role": "store", "subject": store}))
        .await;
    assert_eq!(status, 201, "{body}");
    let (_, staff) = api.post("/v1/auth/login", json!({"email": "staff@x.dev", "password": "staff password"})).await;
    let staff_api = api.with_token(Some(staff["access_token"].as_str().unwrap().to_owned()));
    assert_eq!(staff_api.get(&format!("/v1/stores/{store}/orders")).await.0, 200);
    let (other, _) = server.api.create_store(STORE, 60).await;
    assert_eq!(staff_api.get(&format!("/v1/stores/{other}/orders")).await.0, 403);
    assert_eq!(api.get(&format!("/v1/stores/{store}/orders")).await.0, 401, "no token");
}

async fn the_payment_circuit_opens_fails_fast_and_closes_again(backend: Backend) {
    let db = TestDb::new(backend).await;
    let server = TestServer::start(
        &db,
        &[
            ("BAEDAL__PAYMENT__BREAKER__FAILURE_THRESHOLD", "2"),
            ("BAEDAL__PAYMENT__BREAKER__OPEN_SECS", "5"),
            ("BAEDAL__ORDERS__PAYMENT_RETRY_MS", "200"),
            ("BAEDAL__ORDERS__PAYMENT_TIMEOUT_SECS", "1"),
        ],
    );
    let api = &server.api;
    let (store, item) = api.create_store(STORE, 60).await;
    let customer = uuid::Uuid::new_v4().to_string();
    let body = order_body(&store, &item, &customer, DROPOFF);

    let (status, sandbox) =
        api.send(reqwest::Method::PUT, "/v1/ops/payment-sandbox", Some(json!({"failing": true})), &[]).await;
    assert_eq!((status, sandbox["circuit"].as_str()), (200, Some("closed")));
    let (status, _) = api
        .as_role(Role::Store, &store)
        .send(reqwest::Method::PUT, "/v1/ops/payment-sandbox", Some(json!({"failing": false})), &[])
        .await;
    assert_eq!(status, 403, "only operators flip the switch");

    // An order meets the failing provider: its authorization is retried until the payment
    // timeout, then it is rejected; the failures open the circuit.
    let (status, order) = api.place("cb-1", &body).await;
    assert_eq!(status, 201);
    let order = api.wait_status(order["id"].as_str().unwrap(), "rejected").await;
    assert!(order["rejection_reason"].as_str().unwrap().contains("unavailable"), "{order}");
    let (_, sandbox) = api.get("/v1/ops/payment-sandbox").await;
    assert_eq!(sandbox["circuit"], "open");
    // While open, orders fail fast with a clear 503 and nothing is written.
    let (status, error) = api.place("cb-2", &body).await;
    assert_eq!((status, error["error"]["code"].as_str()), (503, Some("payment_unavailable")), "{error}");

    // The provider recovers; after the open period a probe goes through and closes it.
    api.send(reqwest::Method::PUT, "/v1/ops/payment-sandbox", Some(json!({"failing": false})), &[]).await;
    tokio::time::sleep(std::time::Duration::from_millis(5200)).await;
    let (status, order) = api.place("cb-4", &body).await;
    assert_eq!(status, 201, "{order}");
    api.wait_status(order["id"].as_str().unwrap(), "awaiting_store").await;
    let (_, sandbox) = api.get("/v1/ops/payment-sandbox").await;
    assert_eq!(sandbox["circuit"], "closed");
}

async fn logins_and_orders_are_rate_limited(backend: Backend) {
    let db = TestDb::new(backend).await;
    let server = TestServer::start(
        &db,
        &[
            ("BAEDAL__LIMITS__LOGIN_FAILURES_PER_MINUTE_PER_ACCOUNT_AND_IP", "3"),
            ("BAEDAL__LIMITS__LOGIN_PER_MINUTE_PER_IP", "5"),
            ("BAEDAL__LIMITS__ORDERS_PER_MINUTE_PER_ACCOUNT", "2"),
        ],
    );
    let api = server.api.with_token(None);
    let guess = |email: &str| json!({"email": email, "password": "guessing badly"});
    for _ in 0..3 {
        assert_eq!(api.post("/v1/auth/login", guess("victim@example.com")).await.0, 401);
    }
    let response = reqwest::Client::new()
        .post(format!("{}/v1/auth/login", api.base))
        .json(&guess("victim@example.com"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 429);
    let retry: u64 = response.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry), "Retry-After {retry}");
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "rate_limited");
    // Other accounts from the same address: allowed until the per-address limit.
    assert_eq!(api.post("/v1/auth/login", guess("a@example.com")).await.0, 401);
    assert_eq!(api.post("/v1/auth/login", guess("b@example.com")).await.0, 429, "the address is over its limit");

    let (store, item) = server.api.create_store(STORE, 60).await;
    let customer = uuid::Uuid::new_v4().to_string();
    let body = order_body(&store, &item, &customer, DROPOFF);
    assert_eq!(server.api.place("rl-1", &body).await.0, 201);
    assert_eq!(server.api.place("rl-2", &body).await.0, 201);
    let (status, error) = server.api.place("rl-3", &body).await;
    assert_eq!((status, error["error"]["code"].as_str()), (429, Some("rate_limited")));
    let other = uuid::Uuid::new_v4().to_string();
    assert_eq!(server.api.place("rl-4", &order_body(&store, &item, &other, DROPOFF)).await.0, 201);
}

on_both_backends!(
    accounts_sign_up_log_in_refresh_and_log_out,
    the_payment_circuit_opens_fails_fast_and_closes_again,
    logins_and_orders_are_rate_limited,
);
