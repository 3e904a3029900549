//! Request ids, structured logs that follow a request into the actors, and the Prometheus
//! metrics an operator needs.

mod common;

use baedal::auth::Role;
use common::server::order_body;
use common::ws::{connect, token};
use common::{Backend, TestDb, TestServer};
use serde_json::{json, Value};

const STORE: (f64, f64) = (37.5665, 126.978);
const DROPOFF: (f64, f64) = (37.5765, 126.978);

fn metric(text: &str, name: &str, labels: &[&str]) -> Option<f64> {
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .find(|line| line.starts_with(name) && labels.iter().all(|l| line.contains(l)))
        .and_then(|line| line.rsplit(' ').next())
        .and_then(|value| value.parse().ok())
}

async fn metrics_logs_and_request_ids(backend: Backend) {
    let db = TestDb::new(backend).await;
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("server.log");
    let server = TestServer::start_logging(&db, &[("BAEDAL__LOG__FORMAT", "json"), ("RUST_LOG", "info")], &log);
    let api = &server.api;
    let (store, item) = api.create_store(STORE, 60).await;
    api.create_rider("Near", (37.5668, 126.978)).await;
    let customer = uuid::Uuid::new_v4().to_string();
    let _socket = connect(&api.base, "/v1/ws/customer", &token(Role::Customer, &customer)).await;

    // The request id comes back in a header...
    let response = reqwest::Client::new()
        .post(format!("{}/v1/orders", api.base))
        .bearer_auth(token(Role::Customer, &customer))
        .header("Idempotency-Key", "obs-1")
        .json(&order_body(&store, &item, &customer, DROPOFF))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 201);
    let request_id = response.headers()["x-request-id"].to_str().unwrap().to_owned();
    let order: Value = response.json().await.unwrap();
    let id = order["id"].as_str().unwrap();
    api.wait_status(id, "awaiting_store").await;
    let (status, _) = api.post(&format!("/v1/stores/{store}/orders/{id}/accept"), json!({"prep_minutes": 10})).await;
    assert_eq!(status, 200);
    api.wait_order(id, 20, |o| o["dispatch"] == "offered").await;

    // ...and the order actor's log lines for the placement carry it, as JSON.
    let logs = std::fs::read_to_string(&log).unwrap();
    let lines: Vec<Value> = logs.lines().filter_map(|l| serde_json::from_str(l).ok()).collect();
    assert!(!lines.is_empty(), "JSON log lines: {logs}");
    let placed = lines
        .iter()
        .find(|l| l["fields"]["message"] == "order events" && l.to_string().contains("placed"))
        .expect("the placement is logged");
    assert!(placed.to_string().contains(&request_id), "the actor's log line carries the request id: {placed}");
    assert!(!logs.contains("access_token"), "tokens never reach the logs");

    let (status, _) = api.get("/metrics").await;
    assert_eq!(status, 200);
    let text = reqwest::get(format!("{}/metrics", api.base)).await.unwrap().text().await.unwrap();
    assert!(
        metric(&text, "baedal_http_request_duration_seconds_count", &["route=\"/v1/orders\"", "status=\"201\""])
            .is_some_and(|n| n >= 1.0),
        "{text}"
    );
    assert!(text.contains("baedal_http_request_duration_seconds_bucket"), "latency is a histogram");
    assert_eq!(metric(&text, "baedal_orders_live", &["status=\"preparing\""]), Some(1.0), "{text}");
    assert_eq!(metric(&text, "baedal_websocket_connections", &[]), Some(1.0));
    assert!(metric(&text, "baedal_event_append_duration_seconds_count", &[]).is_some_and(|n| n >= 3.0));
    assert!(text.contains("baedal_event_append_batch_size_bucket"));
    assert!(metric(&text, "baedal_dispatch_tick_duration_seconds_count", &[]).is_some_and(|n| n >= 1.0), "{text}");
}

on_both_backends!(metrics_logs_and_request_ids);
