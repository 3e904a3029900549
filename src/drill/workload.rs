//! The drills' load: customers placing orders, store tablets accepting and marking them
//! ready, riders taking offers, picking up and delivering, all over the REST API and all
//! riding through server restarts and database outages by retrying.
//!
//! Every command the server acknowledged (a 2xx) is written in the [`Ledger`] with the
//! event it must have made durable; the audit later holds the database to it.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::auth::{Identity, JwtAuthenticator, Role};
use crate::domain::GeoPoint;

use super::audit::{self, Audit};
use super::server::Endpoint;

/// The size of the load.
#[derive(Clone, Debug)]
pub struct WorkloadPlan {
    pub stores: usize,
    pub riders: usize,
    pub customers: usize,
    /// Orders each customer places, one after another.
    pub orders_per_customer: usize,
    /// Pause between a customer's orders.
    pub pause: Duration,
}

/// What the clients saw acknowledged, and how the server answered while it was failing.
#[derive(Default)]
pub struct Ledger {
    acked: Mutex<BTreeMap<String, BTreeSet<&'static str>>>,
    pub attempted: AtomicU64,
    pub placed: AtomicU64,
    pub refused: AtomicU64,
    pub retried: AtomicU64,
    /// 503 answers, and the slowest of them in milliseconds.
    pub unavailable: AtomicU64,
    pub slowest_unavailable_ms: AtomicU64,
    /// Requests that got no HTTP answer at all (connection refused or reset).
    pub transport_errors: AtomicU64,
    /// Requests that took longer than [`SLOW`] to get any answer.
    pub slow: AtomicU64,
}

/// An answer slower than this while the database is down counts as hanging.
pub const SLOW: Duration = Duration::from_secs(5);

impl Ledger {
    fn ack(&self, order: &str, event: &'static str) {
        if let Ok(mut acked) = self.acked.lock() {
            acked.entry(order.to_owned()).or_default().insert(event);
        }
    }

    /// Each acknowledged order with the events its acknowledged commands made.
    pub fn acknowledged(&self) -> BTreeMap<String, BTreeSet<&'static str>> {
        self.acked.lock().map(|a| a.clone()).unwrap_or_default()
    }
}

/// One answer from the server, as far as the drill cares.
enum Answer {
    Done(Value),
    Refused(StatusCode),
    /// No answer, a 5xx or a 429: try again.
    Retry(Option<Duration>),
}

/// A shared HTTP client that knows where the server is and records how it answered.
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    endpoint: Endpoint,
    ledger: Arc<Ledger>,
}

impl Client {
    pub fn new(endpoint: Endpoint, ledger: Arc<Ledger>) -> anyhow::Result<Client> {
        let http = reqwest::Client::builder().timeout(Duration::from_secs(30)).pool_max_idle_per_host(64).build()?;
        Ok(Client { http, endpoint, ledger })
    }

    async fn call(&self, method: Method, path: &str, token: &str, body: Option<&Value>, key: Option<&str>) -> Answer {
        let started = Instant::now();
        let mut request = self.http.request(method, format!("{}{path}", self.endpoint.base())).bearer_auth(token);
        if let Some(body) = body {
            request = request.json(body);
        }
        if let Some(key) = key {
            request = request.header("Idempotency-Key", key);
        }
        let response = request.send().await;
        let elapsed = started.elapsed();
        if elapsed > SLOW {
            self.ledger.slow.fetch_add(1, Ordering::Relaxed);
        }
        let response = match response {
            Ok(response) => response,
            Err(_) => {
                self.ledger.transport_errors.fetch_add(1, Ordering::Relaxed);
                return Answer::Retry(None);
            }
        };
        let status = response.status();
        if status.is_success() {
            return match response.json().await {
                Ok(value) => Answer::Done(value),
                Err(_) => Answer::Retry(None),
            };
        }
        if status == StatusCode::SERVICE_UNAVAILABLE {
            self.ledger.unavailable.fetch_add(1, Ordering::Relaxed);
            self.ledger.slowest_unavailable_ms.fetch_max(elapsed.as_millis() as u64, Ordering::Relaxed);
        }
        if status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS {
            let after = response
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok()?.parse::<u64>().ok())
                .map(Duration::from_secs);
            return Answer::Retry(after);
        }
        Answer::Refused(status)
    }
}

/// The city the load runs in, made through the operator API.
struct City {
    stores: Vec<Store>,
    riders: Vec<String>,
}

struct Store {
    id: String,
    item: String,
    at: GeoPoint,
}

/// Tokens for every actor of the load, signed with the server's key.
pub struct Tokens {
    auth: JwtAuthenticator,
}

impl Tokens {
    pub fn new(kid: &str, secret: &str) -> anyhow::Result<Tokens> {
        let auth = JwtAuthenticator::new(&[(kid.to_owned(), secret.to_owned())])
            .map_err(|e| anyhow::anyhow!("signing key: {e}"))?;
        Ok(Tokens { auth })
    }

    pub fn issue(&self, role: Role, subject: &str) -> String {
        let subject =
            subject.parse().unwrap_or_else(|_| uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_OID, subject.as_bytes()));
        self.auth.issue(Identity { role, subject }, super::DRILL_TOKEN_TTL_SECS)
    }
}

fn centre() -> GeoPoint {
    crate::sim::demo::centre()
}

/// Stores around the centre, riders online beside them.
async fn build_city(client: &Client, operator: &str, plan: &WorkloadPlan) -> anyhow::Result<City> {
    let mut rng = SmallRng::seed_from_u64(7);
    let mut stores = Vec::new();
    for i in 0..plan.stores {
        let at = centre().offset_m(rng.gen_range(-2000.0..2000.0), rng.gen_range(-2000.0..2000.0));
        let body = json!({
            "name": format!("Drill store {i}"), "location": {"lat": at.lat(), "lon": at.lon()},
            "delivery_radius_m": 6000, "accept_deadline_secs": 120, "currency": "KRW",
            "menu": [{"name": "Bibimbap", "price": 11000}]
        });
        let store = settled(client, Method::POST, "/v1/stores", operator, Some(&body), None).await?;
        let id = store["id"].as_str().context("store id")?.to_owned();
        let item = store["menu"][0]["id"].as_str().context("menu item id")?.to_owned();
        stores.push(Store { id, item, at });
    }
    let mut riders = Vec::new();
    for i in 0..plan.riders {
        let rider = settled(
            client,
            Method::POST,
            "/v1/riders",
            operator,
            Some(&json!({"name": format!("Drill rider {i}")})),
            None,
        )
        .await?;
        let id = rider["id"].as_str().context("rider id")?.to_owned();
        let at = &stores[i % stores.len()].at;
        let body = json!({"position": {"lat": at.lat(), "lon": at.lon()}});
        settled(client, Method::POST, &format!("/v1/riders/{id}/online"), operator, Some(&body), None).await?;
        riders.push(id);
    }
    Ok(City { stores, riders })
}

/// Call until the server gives a definitive answer (for set-up, which must not fail).
async fn settled(
    client: &Client,
    method: Method,
    path: &str,
    token: &str,
    body: Option<&Value>,
    key: Option<&str>,
) -> anyhow::Result<Value> {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        match client.call(method.clone(), path, token, body, key).await {
            Answer::Done(value) => return Ok(value),
            Answer::Refused(status) => anyhow::bail!("{method} {path} refused with {status}"),
            Answer::Retry(after) if Instant::now() < deadline => {
                tokio::time::sleep(after.unwrap_or(Duration::from_millis(200)).min(Duration::from_secs(2))).await;
            }
            Answer::Retry(_) => anyhow::bail!("{method} {path} got no answer for 120 s"),
        }
    }
}

/// A load under way against one server, with the ledger of what it was told.
pub struct Session {
    pub ledger: Arc<Ledger>,
    pub client: Client,
    pub operator: String,
    running: Running,
}

impl Session {
    /// Build the city and start every client.
    pub async fn begin(endpoint: Endpoint, tokens: &Tokens, plan: &WorkloadPlan) -> anyhow::Result<Session> {
        let ledger = Arc::new(Ledger::default());
        let client = Client::new(endpoint, ledger.clone())?;
        let operator = tokens.issue(Role::Operator, &uuid::Uuid::new_v4().to_string());
        let city = build_city(&client, &operator, plan).await?;
        let running = start(&client, tokens, &city, plan);
        Ok(Session { ledger, client, operator, running })
    }

    pub fn acknowledged_so_far(&self) -> u64 {
        self.ledger.placed.load(Ordering::Relaxed)
    }

    /// Let the customers finish, wait up to `settle` for every order the clients were told
    /// of and every order stored to end, stop the load, and audit the database.
    pub async fn finish(
        mut self,
        database_url: &str,
        settle: Duration,
    ) -> anyhow::Result<(Arc<Ledger>, Vec<String>, Audit)> {
        self.running.customers_done().await;
        let mut orders: Vec<String> = self.ledger.acknowledged().into_keys().collect();
        for stored in audit::order_events(database_url).await?.into_keys() {
            if !orders.contains(&stored) {
                orders.push(stored);
            }
        }
        let open = settle_orders(&self.client, &self.operator, &orders, settle).await;
        self.running.stop().await;
        let audit = Audit::check(&self.ledger.acknowledged(), &audit::order_events(database_url).await?);
        Ok((self.ledger, open, audit))
    }
}

/// The running load: customers until they are done; stores and riders until stopped.
struct Running {
    customers: Vec<tokio::task::JoinHandle<()>>,
    staff: Vec<tokio::task::JoinHandle<()>>,
    stop: Arc<AtomicBool>,
}

impl Running {
    /// Wait for every customer to have placed (or given up on) all their orders.
    async fn customers_done(&mut self) {
        for task in self.customers.drain(..) {
            let _ = task.await;
        }
    }

    async fn stop(mut self) {
        self.stop.store(true, Ordering::Relaxed);
        self.customers_done().await;
        for task in self.staff.drain(..) {
            let _ = task.await;
        }
    }
}

/// Start every client of the load.
fn start(client: &Client, tokens: &Tokens, city: &City, plan: &WorkloadPlan) -> Running {
    let stop = Arc::new(AtomicBool::new(false));
    let operator = tokens.issue(Role::Operator, &uuid::Uuid::new_v4().to_string());
    let mut staff = Vec::new();
    for store in &city.stores {
        let token = tokens.issue(Role::Store, &store.id);
        staff.push(tokio::spawn(store_tablet(client.clone(), token, store.id.clone(), stop.clone())));
    }
    for rider in &city.riders {
        let token = tokens.issue(Role::Rider, rider);
        let at = city.stores[0].at;
        staff.push(tokio::spawn(rider_app(client.clone(), token, operator.clone(), rider.clone(), at, stop.clone())));
    }
    let mut customers = Vec::new();
    for i in 0..plan.customers {
        let customer = uuid::Uuid::new_v4().to_string();
        let token = tokens.issue(Role::Customer, &customer);
        let stores: Vec<(String, String, GeoPoint)> =
            city.stores.iter().map(|s| (s.id.clone(), s.item.clone(), s.at)).collect();
        customers.push(tokio::spawn(customer_app(client.clone(), token, stores, plan.clone(), i as u64, stop.clone())));
    }
    Running { customers, staff, stop }
}

async fn customer_app(
    client: Client,
    token: String,
    stores: Vec<(String, String, GeoPoint)>,
    plan: WorkloadPlan,
    seed: u64,
    stop: Arc<AtomicBool>,
) {
    let mut rng = SmallRng::seed_from_u64(seed);
    for _ in 0..plan.orders_per_customer {
        let (store, item, at) = &stores[rng.gen_range(0..stores.len())];
        let to = at.offset_m(rng.gen_range(-1500.0..1500.0), rng.gen_range(-1500.0..1500.0));
        let body = json!({
            "store_id": store, "items": [{"item_id": item, "quantity": 1}],
            "delivery_point": {"lat": to.lat(), "lon": to.lon()}
        });
        let key = uuid::Uuid::new_v4().to_string();
        client.ledger.attempted.fetch_add(1, Ordering::Relaxed);
        // The same key until a definitive answer: a retry never makes a second order.
        loop {
            if stop.load(Ordering::Relaxed) {
                return;
            }
            match client.call(Method::POST, "/v1/orders", &token, Some(&body), Some(&key)).await {
                Answer::Done(order) => {
                    if let Some(id) = order["id"].as_str() {
                        client.ledger.ack(id, "placed");
                        client.ledger.placed.fetch_add(1, Ordering::Relaxed);
                    }
                    break;
                }
                Answer::Refused(_) => {
                    client.ledger.refused.fetch_add(1, Ordering::Relaxed);
                    break;
                }
                Answer::Retry(after) => {
                    client.ledger.retried.fetch_add(1, Ordering::Relaxed);
                    tokio::time::sleep(after.unwrap_or(Duration::from_millis(200)).min(Duration::from_secs(1))).await;
                }
            }
        }
        tokio::time::sleep(plan.pause).await;
    }
}

/// The store's tablet: accept what waits, mark ready what cooks.
async fn store_tablet(client: Client, token: String, store: String, stop: Arc<AtomicBool>) {
    while !stop.load(Ordering::Relaxed) {
        if let Answer::Done(board) =
            client.call(Method::GET, &format!("/v1/stores/{store}/orders"), &token, None, None).await
        {
            for entry in board["orders"].as_array().into_iter().flatten() {
                let Some(order) = entry["order_id"].as_str() else { continue };
                let (path, body, event) = match entry["status"].as_str() {
                    Some("awaiting_store") => ("accept", Some(json!({"prep_minutes": 1})), "store_accepted"),
                    Some("preparing") => ("ready", None, "marked_ready"),
                    _ => continue,
                };
                let path = format!("/v1/stores/{store}/orders/{order}/{path}");
                if let Answer::Done(_) = client.call(Method::POST, &path, &token, body.as_ref(), None).await {
                    client.ledger.ack(order, event);
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
}

/// The rider's app: ping, and act on whatever the current duty is.
async fn rider_app(
    client: Client,
    token: String,
    operator: String,
    rider: String,
    start: GeoPoint,
    stop: Arc<AtomicBool>,
) {
    let mut at = start;
    let mut points: HashMap<String, (Value, Value)> = HashMap::new();
    while !stop.load(Ordering::Relaxed) {
        let ping = json!({"lat": at.lat(), "lon": at.lon()});
        let view = client.call(Method::PUT, &format!("/v1/riders/{rider}/location"), &token, Some(&ping), None).await;
        if let Answer::Done(view) = view {
            let duty = &view["duty"];
            if let Some(order) = duty["order"].as_str() {
                if !points.contains_key(order) {
                    if let Answer::Done(o) =
                        client.call(Method::GET, &format!("/v1/orders/{order}"), &operator, None, None).await
                    {
                        points.insert(order.to_owned(), (o["pickup_point"].clone(), o["delivery_point"].clone()));
                    }
                }
                let (pickup, drop) = points.get(order).cloned().unwrap_or_default();
                let step = match duty["status"].as_str() {
                    Some("offered") => Some(("offers", "accept", None, "rider_accepted")),
                    Some("en_route_to_store") => {
                        at = point(&pickup).unwrap_or(at);
                        Some(("jobs", "pickup", None, "picked_up"))
                    }
                    Some("delivering") => {
                        at = point(&drop).unwrap_or(at);
                        Some(("jobs", "deliver", Some(json!({"position": drop})), "delivered"))
                    }
                    _ => None,
                };
                // The server judges a pickup or a delivery by the rider's pings: arrive first.
                if matches!(step, Some(("jobs", ..))) {
                    let here = json!({"lat": at.lat(), "lon": at.lon()});
                    client.call(Method::PUT, &format!("/v1/riders/{rider}/location"), &token, Some(&here), None).await;
                }
                if let Some((kind, verb, body, event)) = step {
                    let path = format!("/v1/riders/{rider}/{kind}/{order}/{verb}");
                    match client.call(Method::POST, &path, &token, body.as_ref(), None).await {
                        Answer::Done(_) => {
                            client.ledger.ack(order, event);
                            if event == "delivered" {
                                points.remove(order);
                            }
                            continue;
                        }
                        // As a rider app does: wait as told (or a moment) before trying again.
                        Answer::Retry(after) => {
                            tokio::time::sleep(after.unwrap_or(Duration::from_millis(150)).min(Duration::from_secs(2)))
                                .await;
                            continue;
                        }
                        Answer::Refused(_) => {}
                    }
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
}

fn point(value: &Value) -> Option<GeoPoint> {
    GeoPoint::new(value["lat"].as_f64()?, value["lon"].as_f64()?).ok()
}

/// Wait until every order in `orders` is in a terminal state, or `within` passes. Returns
/// the orders still open.
async fn settle_orders(client: &Client, operator: &str, orders: &[String], within: Duration) -> Vec<String> {
    let deadline = Instant::now() + within;
    let mut open: Vec<String> = orders.to_vec();
    loop {
        let mut still = Vec::new();
        for order in open {
            match client.call(Method::GET, &format!("/v1/orders/{order}"), operator, None, None).await {
                Answer::Done(view) if is_terminal(view["status"].as_str().unwrap_or_default()) => {}
                _ => still.push(order),
            }
        }
        open = still;
        if open.is_empty() || Instant::now() > deadline {
            return open;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

fn is_terminal(status: &str) -> bool {
    matches!(status, "delivered" | "rejected" | "cancelled")
}
