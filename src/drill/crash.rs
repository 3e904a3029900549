//! The crash drill: orders in flight, SIGKILL the server at a random moment, start it
//! again on the same database, let the load finish, then audit.

use std::ops::Range;
use std::sync::atomic::Ordering;
use std::time::Duration;

use rand::Rng;

use super::audit::Audit;
use super::server::ServerProcess;
use super::workload::{Session, Tokens, WorkloadPlan};

#[derive(Clone, Debug)]
pub struct CrashPlan {
    pub workload: WorkloadPlan,
    pub kills: u32,
    /// Each kill comes this long (uniformly at random) after the load or the last restart started.
    pub kill_after: Range<Duration>,
    /// How long orders may take to reach a terminal state once placing has ended.
    pub settle: Duration,
}

#[derive(Debug)]
pub struct CrashReport {
    pub kills: u32,
    pub attempted: u64,
    pub placed: u64,
    pub refused: u64,
    pub retried: u64,
    pub audit: Audit,
    /// Orders (acknowledged or stored) still not terminal after settling.
    pub open: Vec<String>,
}

impl CrashReport {
    pub fn passed(&self) -> bool {
        self.audit.passed() && self.open.is_empty() && self.placed > 0
    }
}

impl std::fmt::Display for CrashReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "crash drill: {} SIGKILL(s) under load", self.kills)?;
        writeln!(
            f,
            "orders: {} attempted, {} acknowledged, {} refused, {} retries",
            self.attempted, self.placed, self.refused, self.retried
        )?;
        writeln!(f, "{}", self.audit)?;
        writeln!(f, "not terminal after settling: {}", self.open.len())?;
        write!(f, "result: {}", if self.passed() { "PASS" } else { "FAIL" })
    }
}

pub async fn run(
    server: &mut ServerProcess,
    database_url: &str,
    tokens: &Tokens,
    plan: &CrashPlan,
) -> anyhow::Result<CrashReport> {
    let session = Session::begin(server.endpoint.clone(), tokens, &plan.workload).await?;
    for _ in 0..plan.kills {
        let wait = rand::thread_rng().gen_range(plan.kill_after.clone());
        tokio::time::sleep(wait).await;
        println!(
            "SIGKILL after {:.1} s; {} orders acknowledged so far",
            wait.as_secs_f64(),
            session.acknowledged_so_far()
        );
        tokio::task::block_in_place(|| {
            server.kill();
            server.restart()
        })?;
    }
    let (ledger, open, audit) = session.finish(database_url, plan.settle).await?;
    Ok(CrashReport {
        kills: plan.kills,
        attempted: ledger.attempted.load(Ordering::Relaxed),
        placed: ledger.placed.load(Ordering::Relaxed),
        refused: ledger.refused.load(Ordering::Relaxed),
        retried: ledger.retried.load(Ordering::Relaxed),
        audit,
        open,
    })
}
