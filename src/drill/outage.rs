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
    /// The server's CPU (share of one core) and log volume (bytes a second), under load
    /// before the outage and while the database is down.
    pub before: Upkeep,
    pub while_down: Upkeep,
}

/// What the server spends on itself over a stretch of time.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Upkeep {
    pub cpu_share: f64,
    pub log_bytes_per_sec: f64,
}

impl Upkeep {
    fn between(from: &Mark, to: &Mark) -> Upkeep {
        let secs = (to.at - from.at).as_secs_f64().max(1e-3);
        Upkeep {
            cpu_share: (to.cpu.saturating_sub(from.cpu)).as_secs_f64() / secs,
            log_bytes_per_sec: to.logged.saturating_sub(from.logged) as f64 / secs,
        }
    }

    /// Flat: no more than half again the load's own CPU (or a fifth of a core, whichever
    /// is more), and no more than twice its log volume (or 2 KiB a second). A retry storm
    /// is a whole core and megabytes of warnings.
    pub fn flat_against(&self, before: &Upkeep) -> bool {
        self.cpu_share <= (before.cpu_share * 1.5).max(0.2)
            && self.log_bytes_per_sec <= (before.log_bytes_per_sec * 2.0).max(2048.0)
    }
}

struct Mark {
    at: Instant,
    cpu: Duration,
    logged: u64,
}

impl Mark {
    fn now(server: &ServerProcess) -> Mark {
        Mark { at: Instant::now(), cpu: server.cpu_time().unwrap_or_default(), logged: server.logged_bytes() }
    }
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
            && self.while_down.flat_against(&self.before)
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
        writeln!(
            f,
            "server upkeep: CPU {:.0} % of a core and {:.0} B/s of logs under load, {:.0} % and {:.0} B/s while the database was down",
            self.before.cpu_share * 100.0,
            self.before.log_bytes_per_sec,
            self.while_down.cpu_share * 100.0,
            self.while_down.log_bytes_per_sec
        )?;
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
    let start = Mark::now(server);
    tokio::time::sleep(plan.after).await;

    println!("stopping PostgreSQL; {} orders acknowledged so far", session.acknowledged_so_far());
    let stopping = Mark::now(server);
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
    let back = Mark::now(server);
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
        before: Upkeep::between(&start, &stopping),
        while_down: Upkeep::between(&stopping, &back),
    })
}
