//! The database-outage drill: take PostgreSQL down under load. While it is down `/ready`
//! must say so and commands must fail fast with 503; once it is back the server must
//! recover by itself, and no acknowledged event may be missing.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use super::audit::Audit;
use super::postgres::Cluster;
use super::server::ServerProcess;
use super::workload::{Session, Tokens, WorkloadPlan, SLOW};

#[derive(Clone, Debug)]
pub struct OutagePlan {
    pub workload: WorkloadPlan,
    /// Load before the database goes down.
    pub after: Duration,
    pub down_for: Duration,
    pub settle: Duration,
}

#[derive(Debug)]
pub struct OutageReport {
    pub down_for: Duration,
    /// /ready answers while the database was down: (503s, 200s).
    pub ready_while_down: (u32, u32),
    /// 503 answers to commands over the whole run, and the slowest of them.
    pub unavailable: u64,
    pub slowest_unavailable_ms: u64,
    /// Any answer slower than [`SLOW`]: a hang.
    pub hung: u64,
    /// From the database's return to the first ready answer.
    pub recovered_after: Option<Duration>,
    pub placed: u64,
    pub attempted: u64,
    pub audit: Audit,
    pub open: Vec<String>,
}

impl OutageReport {
    pub fn passed(&self) -> bool {
        self.ready_while_down.0 > 0
            && self.ready_while_down.1 == 0
            && self.hung == 0
            && self.recovered_after.is_some()
            && self.audit.passed()
            && self.open.is_empty()
            && self.placed > 0
    }
}

impl std::fmt::Display for OutageReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "database outage drill: PostgreSQL down for {:.1} s under load", self.down_for.as_secs_f64())?;
        writeln!(f, "/ready while down: {} x 503, {} x 200", self.ready_while_down.0, self.ready_while_down.1)?;
        writeln!(
            f,
            "commands answered 503: {} (slowest {} ms); answers slower than {} s: {}",
            self.unavailable,
            self.slowest_unavailable_ms,
            SLOW.as_secs(),
            self.hung
        )?;
        match self.recovered_after {
            Some(after) => writeln!(f, "ready again {:.1} s after the database came back", after.as_secs_f64())?,
            None => writeln!(f, "never ready again")?,
        }
        writeln!(f, "orders: {} attempted, {} acknowledged", self.attempted, self.placed)?;
        writeln!(f, "{}", self.audit)?;
        writeln!(f, "not terminal after settling: {}", self.open.len())?;
        write!(f, "result: {}", if self.passed() { "PASS" } else { "FAIL" })
    }
}

pub async fn run(
    server: &ServerProcess,
    cluster: &Cluster,
    database_url: &str,
    tokens: &Tokens,
    plan: &OutagePlan,
) -> anyhow::Result<OutageReport> {
    let session = Session::begin(server.endpoint.clone(), tokens, &plan.workload).await?;
    tokio::time::sleep(plan.after).await;

    println!("stopping PostgreSQL; {} orders acknowledged so far", session.acknowledged_so_far());
    tokio::task::block_in_place(|| cluster.stop())?;
    let down_since = Instant::now();
    let mut ready_while_down = (0, 0);
    let http = reqwest::Client::builder().timeout(SLOW).build()?;
    while down_since.elapsed() < plan.down_for {
        match http.get(format!("{}/ready", server.endpoint.base())).send().await {
            Ok(r) if r.status() == reqwest::StatusCode::SERVICE_UNAVAILABLE => ready_while_down.0 += 1,
            Ok(r) if r.status().is_success() => ready_while_down.1 += 1,
            _ => {}
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    tokio::task::block_in_place(|| cluster.start())?;
    let back_since = Instant::now();
    println!("PostgreSQL started again after {:.1} s", down_since.elapsed().as_secs_f64());
    let mut recovered_after = None;
    while back_since.elapsed() < Duration::from_secs(60) {
        if let Ok(r) = http.get(format!("{}/ready", server.endpoint.base())).send().await {
            if r.status().is_success() {
                recovered_after = Some(back_since.elapsed());
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let (ledger, open, audit) = session.finish(database_url, plan.settle).await?;
    Ok(OutageReport {
        down_for: plan.down_for,
        ready_while_down,
        unavailable: ledger.unavailable.load(Ordering::Relaxed),
        slowest_unavailable_ms: ledger.slowest_unavailable_ms.load(Ordering::Relaxed),
        hung: ledger.slow.load(Ordering::Relaxed),
        recovered_after,
        placed: ledger.placed.load(Ordering::Relaxed),
        attempted: ledger.attempted.load(Ordering::Relaxed),
        audit,
        open,
    })
}
