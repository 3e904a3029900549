//! Durable commands per second through the whole stack: HTTP, the store actors, the event
//! store and PostgreSQL, with the load generator on the same machine. Each client is a
//! store tablet flipping a menu item between sold out and available: one small command,
//! one event, acknowledged only once durable. The server runs twice on fresh databases,
//! with group commit and with one transaction per command, so the ratio comes from one run.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper::header::{HeaderValue, AUTHORIZATION, CONTENT_TYPE};
use hyper::{Request, Uri};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::{json, Value};

use crate::auth::Role;

use super::server::Endpoint;
use super::workload::Tokens;

#[derive(Clone, Debug)]
pub struct ThroughputPlan {
    /// Concurrent clients, each with a store of its own.
    pub clients: usize,
    pub warmup: Duration,
    pub measure: Duration,
}

/// One measured run.
#[derive(Clone, Debug)]
pub struct Throughput {
    pub acks: u64,
    pub errors: u64,
    pub seconds: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
}

impl Throughput {
    pub fn per_sec(&self) -> f64 {
        self.acks as f64 / self.seconds
    }
}

impl std::fmt::Display for Throughput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{:>9.0} acks/s  p50 {:>6.2} ms  p99 {:>6.2} ms  ({} acks, {} errors in {:.1} s)",
            self.per_sec(),
            self.p50_ms,
            self.p99_ms,
            self.acks,
            self.errors,
            self.seconds
        )
    }
}

/// Create the stores, run the clients through the warm-up and the measured window.
pub async fn measure(endpoint: &Endpoint, tokens: &Tokens, plan: &ThroughputPlan) -> anyhow::Result<Throughput> {
    let http =
        reqwest::Client::builder().timeout(Duration::from_secs(30)).pool_max_idle_per_host(plan.clients).build()?;
    let base = endpoint.base();
    let operator = tokens.issue(Role::Operator, &uuid::Uuid::new_v4().to_string());
    let mut stores = Vec::with_capacity(plan.clients);
    for i in 0..plan.clients {
        let body = json!({
            "name": format!("Throughput store {i}"), "location": {"lat": 37.5665, "lon": 126.978},
            "delivery_radius_m": 3000, "accept_deadline_secs": 120, "currency": "KRW",
            "menu": [{"name": "Bibimbap", "price": 11000}]
        });
        let store: Value = http
            .post(format!("{base}/v1/stores"))
            .bearer_auth(&operator)
            .json(&body)
            .send()
            .await?
            .error_for_status()
            .context("creating a store")?
            .json()
            .await?;
        let id = store["id"].as_str().context("store id")?.to_owned();
        let item = store["menu"][0]["id"].as_str().context("item id")?.to_owned();
        stores.push((id, item));
    }

    // The commands go through hyper directly, on kept-alive connections, each request built
    // from a parsed URI and ready header values: the load generator shares the machine, and
    // what it spends per request the server cannot.
    let mut connector = HttpConnector::new();
    connector.set_nodelay(true);
    let commands: Client<HttpConnector, Full<Bytes>> =
        Client::builder(TokioExecutor::new()).pool_max_idle_per_host(plan.clients).build(connector);
    let started = Instant::now();
    let window_opens = started + plan.warmup;
    let window_closes = window_opens + plan.measure;
    let acks = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let latencies = Arc::new(Mutex::new(Vec::<u32>::new()));
    let mut clients = Vec::with_capacity(plan.clients);
    for (store, item) in stores {
        let bearer = HeaderValue::from_str(&format!("Bearer {}", tokens.issue(Role::Store, &store)))?;
        let uri: Uri = format!("{base}/v1/stores/{store}/menu/{item}").parse()?;
        let (http, acks, errors, latencies) = (commands.clone(), acks.clone(), errors.clone(), latencies.clone());
        clients.push(tokio::spawn(async move {
            let json = HeaderValue::from_static("application/json");
            let mut mine = Vec::new();
            let mut available = false;
            while Instant::now() < window_closes {
                let sent = Instant::now();
                let body: &'static [u8] = if available { b"{\"available\":true}" } else { b"{\"available\":false}" };
                let mut request = Request::put(uri.clone()).body(Full::new(Bytes::from_static(body)));
                if let Ok(request) = &mut request {
                    request.headers_mut().insert(AUTHORIZATION, bearer.clone());
                    request.headers_mut().insert(CONTENT_TYPE, json.clone());
                }
                // The whole answer is read, so the connection goes back to the pool.
                let answer = match request {
                    Ok(request) => tokio::time::timeout(Duration::from_secs(30), async {
                        let response = http.request(request).await?;
                        let status = response.status();
                        let body = response.into_body().collect().await?.to_bytes();
                        anyhow::Ok((status, body))
                    })
                    .await
                    .unwrap_or_else(|_| Err(anyhow::anyhow!("no answer within 30 s"))),
                    Err(error) => Err(error.into()),
                };
                let ok = matches!(&answer, Ok((status, _)) if status.is_success());
                match &answer {
                    Ok((status, body)) if !ok => {
                        report_error(&errors, &format!("{status}: {}", String::from_utf8_lossy(body)));
                    }
                    Ok(_) => {}
                    Err(error) => report_error(&errors, &format!("{error:#}")),
                }
                let in_window = sent >= window_opens && sent < window_closes;
                if ok {
                    available = !available;
                    if in_window {
                        acks.fetch_add(1, Ordering::Relaxed);
                        mine.push(sent.elapsed().as_micros().min(u128::from(u32::MAX)) as u32);
                    }
                } else {
                    if in_window {
                        errors.fetch_add(1, Ordering::Relaxed);
                    }
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            }
            if let Ok(mut all) = latencies.lock() {
                all.extend(mine);
            }
        }));
    }
    for client in clients {
        client.await?;
    }
    let mut all = std::mem::take(&mut *latencies.lock().map_err(|_| anyhow::anyhow!("latency lock poisoned"))?);
    all.sort_unstable();
    let quantile = |q: f64| {
        if all.is_empty() {
            return 0.0;
        }
        let at = ((all.len() as f64 * q).ceil() as usize).clamp(1, all.len()) - 1;
        f64::from(all[at]) / 1000.0
    };
    Ok(Throughput {
        acks: acks.load(Ordering::Relaxed),
        errors: errors.load(Ordering::Relaxed),
        seconds: plan.measure.as_secs_f64(),
        p50_ms: quantile(0.50),
        p99_ms: quantile(0.99),
    })
}

/// Print the first few failures, so a failing run says why.
fn report_error(errors: &AtomicU64, what: &str) {
    if errors.load(Ordering::Relaxed) < 3 {
        eprintln!("command failed: {what}");
    }
}
