//! Every route x every role x own / foreign resource -> the expected status. The routes are
//! read from the server's own OpenAPI document, and every route there must have a row here
//! (and every row a route), so a new route without a row fails this test.
//!
//! Columns, in order: anonymous, customer (own), customer (foreign), store (own), store
//! (foreign), rider (own), rider (foreign), operator. `A` = allowed (anything but 401, 404
//! and a "forbidden" 403; a domain refusal such as 409 or "not your job" still counts as
//! allowed by authorization), `1` = 401, `3` = 403, `4` = 404.

mod common;

use std::collections::BTreeSet;

use baedal::auth::Role;
use common::server::{order_body, Api, OPERATOR};
use common::ws::token;
use common::{Backend, TestDb, TestServer};
use serde_json::{json, Value};

const STORE: (f64, f64) = (37.5665, 126.978);
const DROPOFF: (f64, f64) = (37.5765, 126.978);

struct World {
    store: String,
    item: String,
    other_store: String,
    rider: String,
    other_rider: String,
    customer: String,
    other_customer: String,
    /// Placed by `customer` at `store`, accepted, assigned to `rider`.
    assigned: String,
}

#[derive(Clone, Copy)]
enum Target {
    /// The world's assigned order.
    Assigned,
    /// A new order of a third customer at `store`, awaiting the store.
    Fresh,
}

struct Row {
    method: &'static str,
    path: &'static str,
    body: fn(&World, usize) -> Value,
    target: Target,
    expect: &'static str,
}

fn none(_: &World, _: usize) -> Value {
    json!({})
}

fn rows() -> Vec<Row> {
    use Target::*;
    let row =
        |method, path, expect, body: fn(&World, usize) -> Value, target| Row { method, path, body, target, expect };
    vec![
        row("get", "/health", "AAAAAAAA", none, Assigned),
        row("get", "/ready", "AAAAAAAA", none, Assigned),
        row("get", "/metrics", "AAAAAAAA", none, Assigned),
        row(
            "post",
            "/v1/auth/signup",
            "AAAAAAAA",
            |_, n| json!({"email": format!("new{n}@x.dev"), "password": "long enough", "name": "N"}),
            Assigned,
        ),
        row(
            "post",
            "/v1/auth/login",
            "AAAAAAAA",
            |_, _| json!({"email": "known@x.dev", "password": "long enough"}),
            Assigned,
        ),
        row("post", "/v1/auth/refresh", "11111111", |_, _| json!({"refresh_token": "not-a-token"}), Assigned),
        row("post", "/v1/auth/logout", "AAAAAAAA", |_, _| json!({"refresh_token": "not-a-token"}), Assigned),
        row("get", "/v1/auth/me", "1AAAAAAA", none, Assigned),
        row(
            "post",
            "/v1/accounts",
            "1333333A",
            |_, n| json!({"email": format!("op{n}@x.dev"), "password": "long enough", "name": "O", "role": "operator"}),
            Assigned,
        ),
        row("get", "/v1/ops/payment-sandbox", "1333333A", none, Assigned),
        row("put", "/v1/ops/payment-sandbox", "1333333A", |_, _| json!({"failing": false}), Assigned),
        row("get", "/v1/ops/city", "1333333A", none, Assigned),
        row("get", "/v1/ops/orders/{order}/dispatch", "1333333A", none, Assigned),
        row("post", "/v1/ops/orders/{order}/reassign", "1333333A", none, Fresh),
        row("get", "/v1/stores", "AAAAAAAA", none, Assigned),
        row(
            "post",
            "/v1/stores",
            "1333333A",
            |_, _| json!({"name": "S", "location": {"lat": STORE.0, "lon": STORE.1}, "delivery_radius_m": 3000, "currency": "KRW", "menu": [{"name": "I", "price": 1000}]}),
            Assigned,
        ),
        row("get", "/v1/stores/{store}", "AAAAAAAA", none, Assigned),
        row("get", "/v1/stores/{store}/menu", "AAAAAAAA", none, Assigned),
        row("put", "/v1/stores/{store}/menu/{item}", "133A333A", |_, _| json!({"available": true}), Assigned),
        row("get", "/v1/stores/{store}/orders", "133A333A", none, Assigned),
        row("post", "/v1/stores/{store}/orders/{order}/accept", "133A333A", |_, _| json!({"prep_minutes": 10}), Fresh),
        row("post", "/v1/stores/{store}/orders/{order}/reject", "133A333A", |_, _| json!({"reason": "busy"}), Fresh),
        row("post", "/v1/stores/{store}/orders/{order}/ready", "133A333A", none, Fresh),
        row("post", "/v1/stores/{store}/orders/{order}/cancel", "133A333A", |_, _| json!({"reason": "oops"}), Fresh),
        row(
            "post",
            "/v1/orders",
            "1AA33333",
            |w, _| json!({"store_id": w.store, "items": [{"item_id": w.item, "quantity": 1}], "delivery_point": {"lat": DROPOFF.0, "lon": DROPOFF.1}}),
            Assigned,
        ),
        row("get", "/v1/orders/{order}", "1A4A4A4A", none, Assigned),
        row("post", "/v1/riders", "1333333A", |_, _| json!({"name": "R"}), Assigned),
        row("get", "/v1/riders/{rider}", "13333A3A", none, Assigned),
        row("put", "/v1/riders/{rider}/location", "13333A33", |_, _| json!({"lat": STORE.0, "lon": STORE.1}), Assigned),
        row("post", "/v1/riders/{rider}/offer/accept", "13333A33", none, Assigned),
        row("post", "/v1/riders/{rider}/offer/decline", "13333A33", none, Assigned),
        row("post", "/v1/riders/{rider}/offers/{order}/accept", "13333A33", none, Assigned),
        row("post", "/v1/riders/{rider}/offers/{order}/decline", "13333A33", none, Assigned),
        row("post", "/v1/riders/{rider}/jobs/{order}/pickup", "13333A33", none, Assigned),
        row(
            "post",
            "/v1/riders/{rider}/jobs/{order}/deliver",
            "13333A33",
            |_, _| json!({"position": {"lat": DROPOFF.0, "lon": DROPOFF.1}}),
            Assigned,
        ),
        row("get", "/v1/ws/customer", "1AA33333", none, Assigned),
        row("get", "/v1/ws/store", "133AA333", none, Assigned),
        row("get", "/v1/ws/rider", "13333AA3", none, Assigned),
        // Last: these change the world the rows above rely on.
        row("post", "/v1/orders/{order}/cancel", "1A43434A", |_, _| json!({"reason": "operator says"}), Assigned),
        row(
            "post",
            "/v1/riders/{rider}/online",
            "13333A3A",
            |_, _| json!({"position": {"lat": STORE.0, "lon": STORE.1}}),
            Assigned,
        ),
        row("post", "/v1/riders/{rider}/offline", "13333A3A", none, Assigned),
        row("post", "/v1/stores/{store}/open", "133A333A", none, Assigned),
        row("post", "/v1/stores/{store}/close", "133A333A", none, Assigned),
    ]
}

fn callers(w: &World) -> Vec<(&'static str, Option<String>)> {
    vec![
        ("anonymous", None),
        ("customer", Some(token(Role::Customer, &w.customer))),
        ("other customer", Some(token(Role::Customer, &w.other_customer))),
        ("store", Some(token(Role::Store, &w.store))),
        ("other store", Some(token(Role::Store, &w.other_store))),
        ("rider", Some(token(Role::Rider, &w.rider))),
        ("other rider", Some(token(Role::Rider, &w.other_rider))),
        ("operator", Some(token(Role::Operator, OPERATOR))),
    ]
}

async fn world(api: &Api) -> World {
    let (store, item) = api.create_store(STORE, 600).await;
    let (other_store, _) = api.create_store(STORE, 600).await;
    let rider = api.create_rider("Own", (37.5668, 126.978)).await;
    let other_rider = api.create_rider("Other", (37.60, 126.978)).await;
    let customer = uuid::Uuid::new_v4().to_string();
    let (status, order) = api.place("authz-assigned", &order_body(&store, &item, &customer, DROPOFF)).await;
    assert_eq!(status, 201);
    let assigned = order["id"].as_str().unwrap().to_owned();
    api.wait_status(&assigned, "awaiting_store").await;
    api.post(&format!("/v1/stores/{store}/orders/{assigned}/accept"), json!({"prep_minutes": 10})).await;
    api.wait_order(&assigned, 20, |o| o["rider_id"] == rider.as_str()).await;
    let (status, _) = api.post(&format!("/v1/riders/{rider}/offers/{assigned}/accept"), json!({})).await;
    assert_eq!(status, 200);
    let anon = api.with_token(None);
    anon.post("/v1/auth/signup", json!({"email": "known@x.dev", "password": "long enough", "name": "K"})).await;
    World {
        store,
        item,
        other_store,
        rider,
        other_rider,
        customer,
        other_customer: uuid::Uuid::new_v4().to_string(),
        assigned,
    }
}

async fn fresh_order(api: &Api, w: &World, n: usize) -> String {
    let someone = uuid::Uuid::new_v4().to_string();
    let (status, order) = api.place(&format!("fresh-{n}"), &order_body(&w.store, &w.item, &someone, DROPOFF)).await;
    assert_eq!(status, 201, "{order}");
    let id = order["id"].as_str().unwrap().to_owned();
    api.wait_status(&id, "awaiting_store").await;
    id
}

async fn every_route_by_every_role(backend: Backend) {
    let db = TestDb::new(backend).await;
    let server = TestServer::start(&db, &[("BAEDAL__LIMITS__LOGIN_PER_MINUTE_PER_IP", "600")]);
    let api = server.api.clone();

    let (status, doc) = api.get("/openapi.json").await;
    assert_eq!(status, 200);
    let mut documented = BTreeSet::new();
    for (path, ops) in doc["paths"].as_object().expect("paths") {
        for method in ops.as_object().unwrap().keys() {
            documented.insert((method.clone(), path.clone()));
        }
    }
    let rows = rows();
    let tabled: BTreeSet<(String, String)> = rows.iter().map(|r| (r.method.to_owned(), r.path.to_owned())).collect();
    let missing: Vec<_> = documented.difference(&tabled).collect();
    assert!(missing.is_empty(), "routes without a row in the authorization table: {missing:?}");
    let stale: Vec<_> = tabled.difference(&documented).collect();
    assert!(stale.is_empty(), "rows for routes that are not in the OpenAPI document: {stale:?}");

    // The interactive page is served by the binary itself, with nothing from a CDN.
    let page = reqwest::get(format!("{}/docs/", api.base)).await.unwrap();
    assert_eq!(page.status().as_u16(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("swagger-ui"), "{html}");
    for asset in ["swagger-ui.css", "swagger-ui-bundle.js", "swagger-initializer.js"] {
        let response = reqwest::get(format!("{}/docs/{asset}", api.base)).await.unwrap();
        assert_eq!(response.status().as_u16(), 200, "{asset} is served locally");
    }
    assert!(!html.contains("src=\"http") && !html.contains("href=\"http"), "no external assets");

    let w = world(&api).await;
    let mut failures = Vec::new();
    let mut n = 0;
    for row in &rows {
        for (column, (who, caller_token)) in callers(&w).into_iter().enumerate() {
            n += 1;
            let order = match row.target {
                Target::Assigned => w.assigned.clone(),
                Target::Fresh if row.path.contains("{order}") => fresh_order(&api, &w, n).await,
                Target::Fresh => w.assigned.clone(),
            };
            let path = row
                .path
                .replace("{store}", &w.store)
                .replace("{item}", &w.item)
                .replace("{order}", &order)
                .replace("{rider}", &w.rider);
            let method = reqwest::Method::from_bytes(row.method.to_uppercase().as_bytes()).unwrap();
            let body = (row.body)(&w, n);
            let headers: &[(&str, &str)] = if row.path == "/v1/orders" { &[("Idempotency-Key", "k")] } else { &[] };
            let key = format!("authz-{n}");
            let headers: Vec<(&str, &str)> = headers.iter().map(|(k, _)| (*k, key.as_str())).collect();
            let (status, response) = api.with_token(caller_token).send(method, &path, Some(body), &headers).await;
            let expected = row.expect.as_bytes()[column];
            let forbidden = status == 403 && response["error"]["code"] == "forbidden";
            let ok = match expected {
                b'A' => status != 401 && status != 404 && !forbidden,
                b'1' => status == 401,
                b'3' => forbidden,
                b'4' => status == 404,
                _ => unreachable!(),
            };
            if !ok {
                failures.push(format!(
                    "{} {} as {who}: expected {}, got {status} {response}",
                    row.method, row.path, expected as char
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{} of {n} checks failed:\n{}", failures.len(), failures.join("\n"));
}

on_both_backends!(every_route_by_every_role);
