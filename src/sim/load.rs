//! The load generator: many websocket clients of each kind against a running server,
//! driving a realistic mix: riders ping every few seconds, customers order at a rate, store
//! tablets accept and mark ready, riders take offers, pick up and deliver. It reports the
//! connections held, messages per second, location pings ingested, and the end-to-end
//! latency of status updates: from the event in the server (the order's `updated_at`) to
//! the frame at the client. Client and server share the machine, so they share the clock.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use futures_util::{SinkExt, StreamExt};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};
use tokio::sync::{mpsc, Semaphore};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

use crate::auth::{Identity, JwtAuthenticator, Role};
use crate::domain::GeoPoint;

/// What to run.
#[derive(Clone, Debug)]
pub struct LoadPlan {
    pub base: String,
    pub secret: String,
    pub kid: String,
    pub customers: usize,
    pub stores: usize,
    pub riders: usize,
    pub orders_per_sec: f64,
    pub ping_every: Duration,
    pub duration: Duration,
    /// Seconds a store takes from accepting to "ready".
    pub cook_secs: u64,
}

#[derive(Default)]
struct Stats {
    connected: AtomicU64,
    failed: AtomicU64,
    closed: AtomicU64,
    messages: AtomicU64,
    status_updates: AtomicU64,
    pings: AtomicU64,
    ping_errors: AtomicU64,
    placed: AtomicU64,
    place_errors: AtomicU64,
    delivered: AtomicU64,
    errors: AtomicU64,
    latencies_us: Mutex<Vec<u64>>,
    measuring: std::sync::atomic::AtomicBool,
}

/// The outcome, printed by the binary.
#[derive(Debug)]
pub struct LoadReport {
    pub connections_attempted: u64,
    pub connections_held: u64,
    pub seconds: f64,
    pub messages_per_sec: f64,
    pub status_updates_per_sec: f64,
    pub pings_per_sec: f64,
    pub ping_errors: u64,
    pub orders_placed: u64,
    pub order_errors: u64,
    pub orders_delivered: u64,
    /// Error replies the server sent (a refused ping or command).
    pub errors: u64,
    /// Of a sample of riders, how many had a position younger than two ping intervals at the
    /// end, as the server reports it: the pings were ingested, not just sent.
    pub fresh_positions: (usize, usize),
    pub latency_ms: [(f64, f64); 4],
    pub samples: usize,
}

impl std::fmt::Display for LoadReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "connections held       {} of {}", self.connections_held, self.connections_attempted)?;
        writeln!(f, "measured for           {:.1} s", self.seconds)?;
        writeln!(f, "messages received      {:.0}/s", self.messages_per_sec)?;
        writeln!(f, "status updates         {:.0}/s ({} latency samples)", self.status_updates_per_sec, self.samples)?;
        writeln!(
            f,
            "location pings         {:.0}/s sent ({} not sent); server positions fresh for {} of {} sampled riders",
            self.pings_per_sec, self.ping_errors, self.fresh_positions.0, self.fresh_positions.1
        )?;
        writeln!(f, "error replies          {}", self.errors)?;
        writeln!(
            f,
            "orders                 {} placed ({} refused), {} delivered",
            self.orders_placed, self.order_errors, self.orders_delivered
        )?;
        let lat: Vec<String> = self.latency_ms.iter().map(|(p, ms)| format!("p{p}={ms:.1}")).collect();
        write!(f, "event -> frame latency {} ms", lat.join(" "))
    }
}

fn centre() -> GeoPoint {
    crate::sim::demo::centre()
}

struct Setup {
    stores: Vec<(String, String, GeoPoint)>,
    riders: Vec<(String, GeoPoint)>,
    customers: Vec<String>,
}

/// Register the stores and riders the run uses (through the REST API, as operators would).
async fn setup(plan: &LoadPlan, http: &reqwest::Client, operator: &str, rng: &mut SmallRng) -> anyhow::Result<Setup> {
    let gate = Arc::new(Semaphore::new(32));
    let mut tasks = Vec::new();
    for i in 0..plan.stores {
        let at = centre().offset_m(rng.gen_range(-4000.0..4000.0), rng.gen_range(-4000.0..4000.0));
        let (http, base, gate, operator) = (http.clone(), plan.base.clone(), gate.clone(), operator.to_owned());
        tasks.push(tokio::spawn(async move {
            let _permit = gate.acquire().await?;
            let body = json!({
                "name": format!("Load store {i}"), "location": {"lat": at.lat(), "lon": at.lon()},
                "delivery_radius_m": 5000, "accept_deadline_secs": 300, "currency": "KRW",
                "menu": [{"name": "Bibimbap", "price": 11000}]
            });
            let store: Value = http
                .post(format!("{base}/v1/stores"))
                .bearer_auth(&operator)
                .json(&body)
                .send()
                .await?
                .error_for_status()?
                .json()
                .await?;
            let id = store["id"].as_str().unwrap_or_default().to_owned();
            let item = store["menu"][0]["id"].as_str().unwrap_or_default().to_owned();
            anyhow::Ok(Some((id, item, at)))
        }));
    }
    let mut stores = Vec::new();
    for task in tasks {
        if let Some(store) = task.await?? {
            stores.push(store);
        }
    }
    let mut tasks = Vec::new();
    for i in 0..plan.riders {
        let at = centre().offset_m(rng.gen_range(-5000.0..5000.0), rng.gen_range(-5000.0..5000.0));
        let (http, base, gate, operator) = (http.clone(), plan.base.clone(), gate.clone(), operator.to_owned());
        tasks.push(tokio::spawn(async move {
            let _permit = gate.acquire().await?;
            let rider: Value = http
                .post(format!("{base}/v1/riders"))
                .bearer_auth(&operator)
                .json(&json!({"name": format!("Load rider {i}")}))
                .send()
                .await?
                .error_for_status()?
                .json()
                .await?;
            let id = rider["id"].as_str().unwrap_or_default().to_owned();
            http.post(format!("{base}/v1/riders/{id}/online"))
                .bearer_auth(&operator)
                .json(&json!({"position": {"lat": at.lat(), "lon": at.lon()}}))
                .send()
                .await?
                .error_for_status()?;
            anyhow::Ok((id, at))
        }));
    }
    let mut riders = Vec::new();
    for task in tasks {
        riders.push(task.await??);
    }
    let customers = (0..plan.customers).map(|_| uuid::Uuid::new_v4().to_string()).collect();
    Ok(Setup { stores, riders, customers })
}

/// The latency of a status update: now minus the event's time in the server.
fn record(stats: &Stats, message: &Value) {
    stats.messages.fetch_add(1, Ordering::Relaxed);
    if message["type"] == "error" {
        stats.errors.fetch_add(1, Ordering::Relaxed);
    }
    if !matches!(message["type"].as_str(), Some("order" | "offer")) {
        return;
    }
    stats.status_updates.fetch_add(1, Ordering::Relaxed);
    if !stats.measuring.load(Ordering::Relaxed) {
        return;
    }
    if let Some(at) = message["order"]["updated_at"].as_str().and_then(|s| s.parse::<DateTime<Utc>>().ok()) {
        let us = (Utc::now() - at).num_microseconds().unwrap_or(0).max(0) as u64;
        if let Ok(mut lat) = stats.latencies_us.lock() {
            lat.push(us);
        }
    }
}

type Reply = Box<dyn FnMut(&Value) -> Vec<Value> + Send>;

/// One websocket client: connect, then read, answer through `react`, and send whatever
/// arrives on `outbox`, until `stop`.
async fn client(
    url: String,
    token: String,
    stats: Arc<Stats>,
    mut react: Reply,
    mut outbox: mpsc::Receiver<Value>,
    stop: Instant,
    gate: Arc<Semaphore>,
) {
    let mut request = match url.into_client_request() {
        Ok(request) => request,
        Err(_) => return,
    };
    if let Ok(value) = format!("Bearer {token}").parse() {
        request.headers_mut().insert("Authorization", value);
    }
    let connected = {
        let _permit = gate.acquire().await;
        let connecting = tokio_tungstenite::connect_async_with_config(request, None, true);
        tokio::time::timeout(Duration::from_secs(20), connecting).await
    };
    let Ok(Ok((socket, _))) = connected else {
        stats.failed.fetch_add(1, Ordering::Relaxed);
        return;
    };
    stats.connected.fetch_add(1, Ordering::Relaxed);
    let (mut sink, mut stream) = socket.split();
    let deadline = tokio::time::Instant::from_std(stop);
    loop {
        tokio::select! {
            _ = tokio::time::sleep_until(deadline) => break,
            frame = stream.next() => match frame {
                Some(Ok(Message::Text(text))) => {
                    let Ok(message) = serde_json::from_str::<Value>(&text) else { continue };
                    record(&stats, &message);
                    for answer in react(&message) {
                        if sink.send(Message::Text(answer.to_string())).await.is_err() {
                            break;
                        }
                    }
                }
                Some(Ok(_)) => {}
                _ => {
                    stats.closed.fetch_add(1, Ordering::Relaxed);
                    return;
                }
            },
            Some(out) = outbox.recv() => {
                if sink.send(Message::Text(out.to_string())).await.is_err() {
                    stats.closed.fetch_add(1, Ordering::Relaxed);
                    return;
                }
            }
        }
    }
    let _ = sink.send(Message::Close(None)).await;
}

fn store_reactions(cook: Duration, ready_tx: mpsc::Sender<Value>) -> Reply {
    Box::new(move |message: &Value| {
        let order = &message["order"];
        if message["type"] != "order" || order["status"] != "awaiting_store" {
            return Vec::new();
        }
        let id = order["id"].clone();
        let tx = ready_tx.clone();
        let ready = json!({"type": "ready", "order_id": id.clone()});
        tokio::spawn(async move {
            tokio::time::sleep(cook).await;
            let _ = tx.send(ready).await;
        });
        vec![json!({"type": "accept", "order_id": id, "prep_minutes": 1})]
    })
}

/// A location ping at `point` (`{"lat", "lon"}`).
fn at(point: &Value) -> Value {
    json!({"type": "location", "lat": point["lat"], "lon": point["lon"]})
}

fn rider_reactions(stats: Arc<Stats>) -> Reply {
    Box::new(move |message: &Value| {
        let order = &message["order"];
        match (message["type"].as_str(), order["status"].as_str()) {
            (Some("offer"), _) => vec![json!({"type": "accept_offer", "order_id": order["id"]})],
            // The server judges pickups and deliveries by the rider's pings: ping at the
            // store, then pick up; ping at the door, then deliver.
            (Some("order"), Some("ready_for_pickup")) if order["dispatch"] == "assigned" => {
                vec![at(&order["pickup_point"]), json!({"type": "pick_up", "order_id": order["id"]})]
            }
            (Some("ack"), _) if message["result"]["status"] == "picked_up" => {
                let result = &message["result"];
                vec![
                    at(&result["delivery_point"]),
                    json!({"type": "deliver", "order_id": result["id"], "position": result["delivery_point"]}),
                ]
            }
            (Some("ack"), _) if message["result"]["status"] == "delivered" => {
                stats.delivered.fetch_add(1, Ordering::Relaxed);
                Vec::new()
            }
            _ => Vec::new(),
        }
    })
}

/// Run the plan: set up, connect everyone, drive the mix, measure, report.
pub async fn run(plan: LoadPlan) -> anyhow::Result<LoadReport> {
    let mut rng = SmallRng::seed_from_u64(42);
    let http = reqwest::Client::builder().timeout(Duration::from_secs(30)).build()?;
    let auth = JwtAuthenticator::new(&[(plan.kid.clone(), plan.secret.clone())])
        .map_err(|e| anyhow::anyhow!("signing key: {e}"))?;
    let token = |role, subject: &str| {
        let subject = subject.parse().unwrap_or_default();
        // The server's default token lifetime: a longer one is refused, and a run is minutes.
        auth.issue(Identity { role, subject }, 3600)
    };
    println!("setting up {} stores and {} riders...", plan.stores, plan.riders);
    let operator = token(Role::Operator, &uuid::Uuid::new_v4().to_string());
    let city = setup(&plan, &http, &operator, &mut rng).await?;
    let ws = plan.base.replacen("http", "ws", 1);
    let stats = Arc::new(Stats::default());
    let connect_gate = Arc::new(Semaphore::new(64));
    let total = plan.customers + plan.stores + plan.riders;
    // Everyone connects, then the measured window runs for `duration`.
    let connect_budget = Duration::from_secs(30 + total as u64 / 200);
    let stop = Instant::now() + connect_budget + plan.duration;
    let mut clients = Vec::with_capacity(total);

    println!("connecting {total} websocket clients...");
    for customer in &city.customers {
        let (_tx, rx) = mpsc::channel(1);
        let react: Reply = Box::new(|_: &Value| Vec::new());
        clients.push(tokio::spawn(client(
            format!("{ws}/v1/ws/customer"),
            token(Role::Customer, customer),
            stats.clone(),
            react,
            rx,
            stop,
            connect_gate.clone(),
        )));
    }
    for (store, _, _) in &city.stores {
        let (tx, rx) = mpsc::channel(1024);
        let react = store_reactions(Duration::from_secs(plan.cook_secs), tx);
        clients.push(tokio::spawn(client(
            format!("{ws}/v1/ws/store"),
            token(Role::Store, store),
            stats.clone(),
            react,
            rx,
            stop,
            connect_gate.clone(),
        )));
    }
    for (index, (rider, at)) in city.riders.iter().enumerate() {
        let (tx, rx) = mpsc::channel(16);
        let react = rider_reactions(stats.clone());
        clients.push(tokio::spawn(client(
            format!("{ws}/v1/ws/rider"),
            token(Role::Rider, rider),
            stats.clone(),
            react,
            rx,
            stop,
            connect_gate.clone(),
        )));
        // Pings, spread over the interval so they arrive evenly.
        let (stats, every, at) = (stats.clone(), plan.ping_every, *at);
        let offset = every.mul_f64(index as f64 / city.riders.len().max(1) as f64);
        tokio::spawn(async move {
            tokio::time::sleep(offset).await;
            let mut tick = tokio::time::interval(every);
            let mut rng = SmallRng::seed_from_u64(index as u64);
            while Instant::now() < stop {
                tick.tick().await;
                let p = at.offset_m(rng.gen_range(-50.0..50.0), rng.gen_range(-50.0..50.0));
                match tx.try_send(json!({"type": "location", "lat": p.lat(), "lon": p.lon()})) {
                    Ok(()) => stats.pings.fetch_add(1, Ordering::Relaxed),
                    Err(_) => stats.ping_errors.fetch_add(1, Ordering::Relaxed),
                };
            }
        });
    }
    let connect_deadline = Instant::now() + connect_budget;
    while Instant::now() < connect_deadline {
        let done = stats.connected.load(Ordering::Relaxed) + stats.failed.load(Ordering::Relaxed);
        if done as usize >= total {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    println!(
        "{} connected, {} failed; measuring for {} s",
        stats.connected.load(Ordering::Relaxed),
        stats.failed.load(Ordering::Relaxed),
        plan.duration.as_secs()
    );

    // The measured window.
    let start = Instant::now();
    let base_counts = (
        stats.messages.load(Ordering::Relaxed),
        stats.status_updates.load(Ordering::Relaxed),
        stats.pings.load(Ordering::Relaxed),
    );
    stats.measuring.store(true, Ordering::Relaxed);
    let orders = {
        let (http, base, stats) = (http.clone(), plan.base.clone(), stats.clone());
        let (stores, customers) = (city.stores.clone(), city.customers.clone());
        let tokens: std::collections::HashMap<String, String> =
            customers.iter().map(|c| (c.clone(), token(Role::Customer, c))).collect();
        let rate = plan.orders_per_sec.max(0.01);
        let duration = plan.duration;
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / rate));
            let mut rng = SmallRng::seed_from_u64(7);
            let mut n = 0u64;
            while start.elapsed() < duration {
                tick.tick().await;
                n += 1;
                let (store, item, at) = &stores[rng.gen_range(0..stores.len())];
                let to = at.offset_m(rng.gen_range(-1500.0..1500.0), rng.gen_range(-1500.0..1500.0));
                let customer = &customers[rng.gen_range(0..customers.len())];
                let body = json!({
                    "customer_id": customer, "store_id": store, "items": [{"item_id": item, "quantity": 1}],
                    "delivery_point": {"lat": to.lat(), "lon": to.lon()}
                });
                let request = http
                    .post(format!("{base}/v1/orders"))
                    .bearer_auth(&tokens[customer])
                    .header("Idempotency-Key", format!("load-{n}"))
                    .json(&body);
                let stats = stats.clone();
                tokio::spawn(async move {
                    match request.send().await {
                        Ok(response) if response.status().is_success() => stats.placed.fetch_add(1, Ordering::Relaxed),
                        _ => stats.place_errors.fetch_add(1, Ordering::Relaxed),
                    };
                });
            }
        })
    };
    tokio::time::sleep(plan.duration).await;
    stats.measuring.store(false, Ordering::Relaxed);
    let seconds = start.elapsed().as_secs_f64();
    orders.abort();
    let held = stats.connected.load(Ordering::Relaxed) - stats.closed.load(Ordering::Relaxed);
    let rate = |now: u64, then: u64| (now.saturating_sub(then)) as f64 / seconds;
    let mut latencies = stats.latencies_us.lock().map(|l| l.clone()).unwrap_or_default();
    latencies.sort_unstable();
    let pct = |p: f64| {
        if latencies.is_empty() {
            return f64::NAN;
        }
        let i = ((p / 100.0) * (latencies.len() - 1) as f64).round() as usize;
        latencies[i] as f64 / 1000.0
    };
    let mut fresh = 0;
    let sample: Vec<&(String, GeoPoint)> = city.riders.iter().step_by((city.riders.len() / 50).max(1)).collect();
    for (rider, _) in &sample {
        let view: Option<Value> =
            match http.get(format!("{}/v1/riders/{rider}", plan.base)).bearer_auth(&operator).send().await {
                Ok(response) => response.json().await.ok(),
                Err(_) => None,
            };
        let at = view.as_ref().and_then(|v| v["position_at"].as_str()).and_then(|s| s.parse::<DateTime<Utc>>().ok());
        if at.is_some_and(|at| (Utc::now() - at).to_std().unwrap_or(Duration::MAX) < plan.ping_every * 2) {
            fresh += 1;
        }
    }
    let report = LoadReport {
        connections_attempted: total as u64,
        connections_held: held,
        seconds,
        messages_per_sec: rate(stats.messages.load(Ordering::Relaxed), base_counts.0),
        status_updates_per_sec: rate(stats.status_updates.load(Ordering::Relaxed), base_counts.1),
        pings_per_sec: rate(stats.pings.load(Ordering::Relaxed), base_counts.2),
        ping_errors: stats.ping_errors.load(Ordering::Relaxed),
        orders_placed: stats.placed.load(Ordering::Relaxed),
        order_errors: stats.place_errors.load(Ordering::Relaxed),
        orders_delivered: stats.delivered.load(Ordering::Relaxed),
        errors: stats.errors.load(Ordering::Relaxed),
        fresh_positions: (fresh, sample.len()),
        latency_ms: [(50.0, pct(50.0)), (90.0, pct(90.0)), (99.0, pct(99.0)), (100.0, pct(100.0))],
        samples: latencies.len(),
    };
    for client in clients {
        client.abort();
    }
    Ok(report)
}
