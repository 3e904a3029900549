//! The demo city comes alive by itself: with the simulator on (short timings), customers
//! order, stores accept and cook, riders ride and deliver, all through the platform's own
//! command path, so the operator's view of the city shows it happen.

mod common;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use common::city::FAST_CITY;
use common::{Backend, TestDb, TestServer};
use serde_json::Value;

fn positions(city: &Value) -> HashMap<String, (f64, f64)> {
    city["riders"]
        .as_array()
        .expect("riders")
        .iter()
        .filter_map(|r| {
            Some((r["id"].as_str()?.to_owned(), (r["position"]["lat"].as_f64()?, r["position"]["lon"].as_f64()?)))
        })
        .collect()
}

async fn the_demo_city_delivers_orders_by_itself(backend: Backend) {
    let db = TestDb::new(backend).await;
    let server = TestServer::start(&db, FAST_CITY);
    let api = server.api.clone();

    let (status, first) = api.get("/v1/ops/city").await;
    assert_eq!(status, 200, "{first}");
    assert_eq!(first["stores"].as_array().map(Vec::len), Some(12), "the demo stores are on the map");
    assert_eq!(first["riders"].as_array().map(Vec::len), Some(36), "the demo riders are on the map");
    let start = positions(&first);

    let deadline = Instant::now() + Duration::from_secs(120);
    let mut moved = 0;
    let city = loop {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let (status, city) = api.get("/v1/ops/city").await;
        assert_eq!(status, 200, "{city}");
        moved = moved.max(positions(&city).iter().filter(|(id, p)| start.get(*id) != Some(p)).count());
        if city["kpis"]["delivered_today"].as_u64().unwrap_or(0) >= 3 && moved >= 3 {
            break city;
        }
        assert!(Instant::now() < deadline, "the city did not come alive: {moved} riders moved; {:#}", city["kpis"]);
    };
    let kpis = &city["kpis"];
    assert!(kpis["orders_today"].as_u64().unwrap() >= kpis["delivered_today"].as_u64().unwrap());
    assert!(kpis["mean_click_to_door_secs"].as_f64().is_some_and(|secs| secs > 0.0), "{kpis}");

    // A delivered order went the whole way, as its customer sees it through the API.
    let delivered = city["finished_orders"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["status"] == "delivered")
        .expect("a delivered order on the board");
    let id = delivered["id"].as_str().unwrap();
    let order = api.wait_order(id, 20, |o| o["payment"]["status"] == "captured").await;
    assert!(order["rider_id"].is_string() && order["accepted_at"].is_string(), "{order:#}");
    let store = order["pickup_point"].clone();
    let home = order["delivery_point"].clone();
    assert_ne!(store, home);

    // Only an operator reads the city.
    let customer = api.as_role(baedal::auth::Role::Customer, &uuid::Uuid::new_v4().to_string());
    assert_eq!(customer.get("/v1/ops/city").await.0, 403);
    assert_eq!(api.with_token(None).get("/v1/ops/city").await.0, 401);
}

async fn the_simulator_can_be_turned_off(backend: Backend) {
    let db = TestDb::new(backend).await;
    let mut env = FAST_CITY.to_vec();
    env.push(("BAEDAL__SIMULATOR__ENABLED", "false"));
    let server = TestServer::start(&db, &env);
    let before = positions(&server.api.get("/v1/ops/city").await.1);
    tokio::time::sleep(Duration::from_secs(4)).await;
    let (_, city) = server.api.get("/v1/ops/city").await;
    assert_eq!(city["kpis"]["orders_today"], 0, "nobody orders in a city without its simulator");
    assert_eq!(positions(&city), before, "and no rider moves");
    assert_eq!(city["riders"].as_array().map(Vec::len), Some(36), "the demo city is still there");
}

on_both_backends!(the_demo_city_delivers_orders_by_itself, the_simulator_can_be_turned_off);
