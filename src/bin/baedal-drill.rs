//! `baedal-drill`: failure drills against the real server. Each subcommand starts the
//! `baedal` binary on a fresh database, runs a load of orders, breaks something, and exits
//! non-zero unless every acknowledged command survived. See `baedal::drill`.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;
use baedal::drill::postgres::{Cluster, Database};
use baedal::drill::server::{ServerProcess, ServerSpec};
use baedal::drill::throughput::{self, ThroughputPlan};
use baedal::drill::workload::{Tokens, WorkloadPlan};
use baedal::drill::{crash, outage, soak};
use baedal::sim::load::LoadPlan;
use clap::{Args, Parser, Subcommand};

#[derive(Parser)]
#[command(about = "Failure drills against the real baedal server")]
struct Cli {
    #[command(subcommand)]
    drill: Drill,
}

#[derive(Subcommand)]
enum Drill {
    /// SIGKILL the server under load, restart it, audit every acknowledged order.
    Crash {
        #[command(flatten)]
        load: Load,
        #[arg(long, default_value_t = 3)]
        kills: u32,
        /// Run on SQLite (a temporary file) instead of PostgreSQL.
        #[arg(long)]
        sqlite: bool,
    },
    /// Stop PostgreSQL under load (the machine's cluster, via pg_ctlcluster, unless
    /// --private-cluster), start it again, check the server failed fast and recovered.
    Outage {
        #[command(flatten)]
        load: Load,
        #[arg(long, default_value_t = 10.0)]
        down_secs: f64,
        /// Use a throwaway cluster (initdb) instead of the machine's.
        #[arg(long)]
        private_cluster: bool,
    },
    /// Durable commands per second through server and PostgreSQL, group commit against one
    /// transaction per command, in one run.
    Throughput {
        #[arg(long, default_value_t = 256)]
        clients: usize,
        #[arg(long, default_value_t = 20)]
        seconds: u64,
        #[arg(long, default_value_t = 5)]
        warmup_secs: u64,
        #[arg(long, env = "DRILL_DATABASE_URL", default_value = "postgres://postgres@127.0.0.1:5432/postgres")]
        postgres: String,
        #[arg(long)]
        server: Option<PathBuf>,
        /// Append the server's logs here.
        #[arg(long)]
        server_log: Option<PathBuf>,
    },
    /// The websocket load mix for a long while against one server, sampling its memory and
    /// open descriptors every minute; fails on a growth trend.
    Soak {
        #[arg(long, default_value_t = 30)]
        minutes: u64,
        #[arg(long, default_value_t = 2_000)]
        riders: usize,
        #[arg(long, default_value_t = 300)]
        customers: usize,
        #[arg(long, default_value_t = 50)]
        stores: usize,
        #[arg(long, default_value_t = 10.0)]
        orders_per_sec: f64,
        #[arg(long, env = "DRILL_DATABASE_URL", default_value = "postgres://postgres@127.0.0.1:5432/postgres")]
        postgres: String,
        #[arg(long)]
        server: Option<PathBuf>,
    },
}

#[derive(Args)]
struct Load {
    #[arg(long, default_value_t = 8)]
    stores: usize,
    #[arg(long, default_value_t = 24)]
    riders: usize,
    #[arg(long, default_value_t = 40)]
    customers: usize,
    #[arg(long, default_value_t = 25)]
    orders_per_customer: usize,
    /// Milliseconds between a customer's orders.
    #[arg(long, default_value_t = 300)]
    pause_ms: u64,
    /// The machine's PostgreSQL (drill databases are made and dropped in it).
    #[arg(long, env = "DRILL_DATABASE_URL", default_value = "postgres://postgres@127.0.0.1:5432/postgres")]
    postgres: String,
    /// The server binary (default: `baedal` beside this one).
    #[arg(long)]
    server: Option<PathBuf>,
    /// Append the server's logs here.
    #[arg(long)]
    server_log: Option<PathBuf>,
}

impl Load {
    fn plan(&self) -> WorkloadPlan {
        WorkloadPlan {
            stores: self.stores.max(1),
            riders: self.riders.max(1),
            customers: self.customers.max(1),
            orders_per_customer: self.orders_per_customer,
            pause: Duration::from_millis(self.pause_ms),
        }
    }

    fn spec(&self, database_url: &str, secret: &str) -> anyhow::Result<ServerSpec> {
        let binary = match &self.server {
            Some(path) => path.clone(),
            None => ServerSpec::sibling_binary()?,
        };
        Ok(ServerSpec {
            binary,
            database_url: database_url.to_owned(),
            env: baedal::drill::server_env(secret),
            log: self.server_log.clone(),
        })
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let secret = uuid::Uuid::new_v4().to_string();
    let tokens = Tokens::new("k1", &secret)?;
    let passed = match cli.drill {
        Drill::Crash { load, kills, sqlite } => {
            let plan = crash::CrashPlan {
                workload: load.plan(),
                kills,
                kill_after: Duration::from_secs(2)..Duration::from_secs(8),
                settle: Duration::from_secs(180),
            };
            let (url, database, _dir) = if sqlite {
                let dir = tempfile_dir()?;
                (format!("sqlite://{}/drill.db", dir.display()), None, Some(dir))
            } else {
                let database = Database::create(&Cluster::system(&load.postgres)?).await?;
                (database.url.clone(), Some(database), None)
            };
            let mut server = ServerProcess::start(load.spec(&url, &secret)?)?;
            let report = crash::run(&mut server, &url, &tokens, &plan).await;
            drop(server);
            if let Some(database) = database {
                database.drop_now().await?;
            }
            let report = report?;
            println!("{report}");
            report.passed()
        }
        Drill::Outage { load, down_secs, private_cluster } => {
            let cluster = if private_cluster { Cluster::private()? } else { Cluster::system(&load.postgres)? };
            let database = Database::create(&cluster).await?;
            let plan = outage::OutagePlan {
                workload: load.plan(),
                after: Duration::from_secs(3),
                down_for: Duration::from_secs_f64(down_secs),
                settle: Duration::from_secs(180),
            };
            let server = ServerProcess::start(load.spec(&database.url, &secret)?)?;
            let report = outage::run(&server, &cluster, &database.url, &tokens, &plan).await;
            drop(server);
            database.drop_now().await?;
            let report = report?;
            println!("{report}");
            report.passed()
        }
        Drill::Throughput { clients, seconds, warmup_secs, postgres, server, server_log } => {
            let plan = ThroughputPlan {
                clients: clients.max(1),
                warmup: Duration::from_secs(warmup_secs),
                measure: Duration::from_secs(seconds.max(1)),
            };
            let binary = match server {
                Some(path) => path,
                None => ServerSpec::sibling_binary()?,
            };
            let cluster = Cluster::system(&postgres)?;
            let mut results = Vec::new();
            for (label, group_commit) in [("group commit", "true"), ("one transaction per command", "false")] {
                let database = Database::create(&cluster).await?;
                let mut env = baedal::drill::server_env(&secret);
                env.push(("BAEDAL__DATABASE__GROUP_COMMIT__ENABLED".into(), group_commit.into()));
                let spec = ServerSpec {
                    binary: binary.clone(),
                    database_url: database.url.clone(),
                    env,
                    log: server_log.clone(),
                };
                let server = ServerProcess::start(spec)?;
                let result = throughput::measure(&server.endpoint, &tokens, &plan).await;
                drop(server);
                database.drop_now().await?;
                let result = result?;
                println!("{label:<28} {result}");
                results.push(result);
            }
            let (grouped, single) = (&results[0], &results[1]);
            let ratio = grouped.per_sec() / single.per_sec().max(f64::MIN_POSITIVE);
            println!("group commit / one per command: {ratio:.1}x  ({clients} clients, server + PostgreSQL + load on one machine)");
            true
        }
        Drill::Soak { minutes, riders, customers, stores, orders_per_sec, postgres, server } => {
            let binary = match server {
                Some(path) => path,
                None => ServerSpec::sibling_binary()?,
            };
            let database = Database::create(&Cluster::system(&postgres)?).await?;
            let spec = ServerSpec {
                binary,
                database_url: database.url.clone(),
                env: baedal::drill::server_env(&secret),
                log: None,
            };
            let server = ServerProcess::start(spec)?;
            let plan = LoadPlan {
                base: server.endpoint.base(),
                secret: secret.clone(),
                kid: "k1".into(),
                customers,
                stores,
                riders,
                orders_per_sec,
                ping_every: Duration::from_secs(2),
                duration: Duration::from_secs(minutes * 60),
                cook_secs: 5,
            };
            let pid = server.pid().context("server process")?;
            let report = soak::run(pid, plan, Duration::from_secs(60)).await;
            drop(server);
            database.drop_now().await?;
            let report = report?;
            println!("{report}");
            report.passed()
        }
    };
    if !passed {
        std::process::exit(1);
    }
    Ok(())
}

fn tempfile_dir() -> anyhow::Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!("baedal-drill-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    Ok(dir)
}
