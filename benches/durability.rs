//! Durable appends per second, with group commit and with one transaction per command, on
//! the local PostgreSQL and on SQLite, in the same run.
//!
//! Each of `CLIENTS` concurrent clients plays an actor: it appends one event to its own
//! stream, waits for the acknowledgement (the commit), and goes again, for `SECONDS`. The
//! figures are acknowledged appends per second and the ack latency percentiles; the ratio
//! is group commit over the one-per-transaction baseline.
//!
//! `cargo bench --bench durability` (PostgreSQL at BAEDAL_TEST_PG_URL or
//! postgres://postgres@127.0.0.1:5432/postgres).

use std::sync::Arc;
use std::time::{Duration, Instant};

use baedal::persistence::{EventStore, GroupCommit, GroupCommitSettings, NewEvent, Storage, StreamRef};
use serde_json::json;
use sqlx::Connection;
use uuid::Uuid;

const CLIENTS: usize = 256;
const SECONDS: u64 = 5;

struct Outcome {
    acks_per_sec: f64,
    p50_ms: f64,
    p99_ms: f64,
}

async fn drive(store: Arc<dyn EventStore>) -> Outcome {
    let stop = Instant::now() + Duration::from_secs(SECONDS);
    let tasks: Vec<_> = (0..CLIENTS)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move {
                let stream = StreamRef { id: Uuid::new_v4(), kind: "bench", zone: "default".into() };
                let event = NewEvent { event_type: "ticked", payload: json!({"at": "now", "n": 1}) };
                let mut version = 0;
                let mut latencies = Vec::new();
                while Instant::now() < stop {
                    let started = Instant::now();
                    match store.append(&stream, version, std::slice::from_ref(&event), false).await {
                        Ok(v) => {
                            version = v;
                            latencies.push(started.elapsed().as_secs_f64() * 1e3);
                        }
                        Err(error) => panic!("append failed: {error}"),
                    }
                }
                latencies
            })
        })
        .collect();
    let started = Instant::now();
    let mut all = Vec::new();
    for task in tasks {
        all.extend(task.await.expect("client"));
    }
    let seconds = started.elapsed().as_secs_f64();
    all.sort_by(f64::total_cmp);
    let pct = |p: f64| all.get(((all.len().max(1) - 1) as f64 * p) as usize).copied().unwrap_or(f64::NAN);
    Outcome { acks_per_sec: all.len() as f64 / seconds, p50_ms: pct(0.50), p99_ms: pct(0.99) }
}

async fn compare(label: &str, url: &str) {
    let direct = Storage::connect(url, 16).await.expect("connect");
    let baseline = drive(direct.events.clone()).await;
    let grouped: Arc<dyn EventStore> =
        Arc::new(GroupCommit::start(direct.events.clone(), &GroupCommitSettings::default()));
    let group = drive(grouped).await;
    println!("{label}: {CLIENTS} concurrent clients, {SECONDS} s each");
    println!(
        "  one transaction per command {:>9.0} acks/s   p50 {:>6.2} ms   p99 {:>7.2} ms",
        baseline.acks_per_sec, baseline.p50_ms, baseline.p99_ms
    );
    println!(
        "  group commit                {:>9.0} acks/s   p50 {:>6.2} ms   p99 {:>7.2} ms   {:.1}x the baseline",
        group.acks_per_sec,
        group.p50_ms,
        group.p99_ms,
        group.acks_per_sec / baseline.acks_per_sec
    );
}

#[tokio::main]
async fn main() {
    let dir = tempfile::tempdir().expect("temp dir");
    compare("SQLite (WAL, synchronous=FULL)", &format!("sqlite://{}/bench.db", dir.path().display())).await;

    let admin =
        std::env::var("BAEDAL_TEST_PG_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let name = format!("baedal_bench_{}", Uuid::new_v4().simple());
    let mut conn = sqlx::PgConnection::connect(&admin).await.expect("PostgreSQL for the benchmark");
    sqlx::query(&format!("CREATE DATABASE {name}")).execute(&mut conn).await.expect("create database");
    let base = admin.rsplit_once('/').map(|(b, _)| b.to_owned()).unwrap_or(admin.clone());
    compare("PostgreSQL (fsync on)", &format!("{base}/{name}")).await;
    sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).execute(&mut conn).await.ok();
}
