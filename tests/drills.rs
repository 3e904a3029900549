//! The failure drills in a short form: the same code `baedal-drill` runs, with a smaller
//! load. A SIGKILL under load on each backend, and PostgreSQL taken down under load (a
//! private cluster, so the other tests' database stays up).

mod common;

use std::path::PathBuf;
use std::time::Duration;

use baedal::drill::postgres::{Cluster, Database};
use baedal::drill::server::{ServerProcess, ServerSpec};
use baedal::drill::workload::{Tokens, WorkloadPlan};
use baedal::drill::{crash, outage, server_env};
use common::{Backend, TestDb};

fn small_load() -> WorkloadPlan {
    WorkloadPlan { stores: 3, riders: 8, customers: 8, orders_per_customer: 12, pause: Duration::from_millis(600) }
}

fn spec(database_url: &str, secret: &str) -> ServerSpec {
    ServerSpec {
        binary: PathBuf::from(env!("CARGO_BIN_EXE_baedal")),
        database_url: database_url.to_owned(),
        env: server_env(secret),
        log: None,
    }
}

async fn crash_under_load(backend: Backend) {
    let db = TestDb::new(backend).await;
    let secret = uuid::Uuid::new_v4().to_string();
    let tokens = Tokens::new("k1", &secret).expect("tokens");
    let plan = crash::CrashPlan {
        workload: small_load(),
        kills: 2,
        kill_after: Duration::from_millis(1000)..Duration::from_millis(3000),
        settle: Duration::from_secs(90),
    };
    let mut server = ServerProcess::start(spec(&db.url, &secret)).expect("server starts");
    let report = crash::run(&mut server, &db.url, &tokens, &plan).await.expect("drill runs");
    println!("{report}");
    assert_eq!(server.starts, 3, "two kills, two restarts");
    assert!(report.placed >= 10, "the load placed orders: {report}");
    assert!(report.passed(), "{report}");
}

on_both_backends!(crash_under_load);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_outage_under_load() {
    let cluster = tokio::task::block_in_place(Cluster::private).expect("a private PostgreSQL cluster");
    let database = Database::create(&cluster).await.expect("drill database");
    let secret = uuid::Uuid::new_v4().to_string();
    let tokens = Tokens::new("k1", &secret).expect("tokens");
    let plan = outage::OutagePlan {
        workload: small_load(),
        after: Duration::from_secs(2),
        down_for: Duration::from_secs(4),
        settle: Duration::from_secs(90),
    };
    let server = ServerProcess::start(spec(&database.url, &secret)).expect("server starts");
    let report = outage::run(&server, &cluster, &database.url, &tokens, &plan).await.expect("drill runs");
    println!("{report}");
    assert!(report.unavailable > 0, "commands during the outage were refused with 503: {report}");
    // The first calls into the outage wait out the pool's 1 s acquire timeout; the rest
    // are refused at once.
    assert!(report.slowest_unavailable_ms < 2500, "refusals were fast: {report}");
    assert!(report.passed(), "{report}");
}
