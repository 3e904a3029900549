//! `baedal`: start the server (with the demo city unless disabled), or replay benchmark
//! days through the dispatch code.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use baedal::auth::{Identity, JwtAuthenticator};
use baedal::config::Settings;
use baedal::replay::{self, InstanceReport, Summary};
use baedal::startup::Application;
use baedal::telemetry;
use clap::{Args, Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};

#[derive(Parser)]
#[command(name = "baedal", version, about = "Real-time food-delivery dispatch backend")]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server (the default).
    Serve,
    /// Replay Meal Delivery Routing Problem instances through the dispatch code, beside a
    /// greedy baseline, and write the evaluator's solution files.
    Replay(ReplayArgs),
}

#[derive(Args)]
struct ReplayArgs {
    /// An instance folder (orders.txt, restaurants.txt, couriers.txt, instance_parameters.txt).
    #[arg(required_unless_present = "all", conflicts_with = "all")]
    instance: Option<PathBuf>,
    /// Replay every instance folder under this root and write a summary table.
    #[arg(long, value_name = "ROOT")]
    all: Option<PathBuf>,
    /// Where solution files (and the summary) go.
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
}

fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        None | Some(Command::Serve) => serve(),
        Some(Command::Replay(args)) => match (&args.all, &args.instance) {
            (Some(root), _) => replay_all(root, &args.out.unwrap_or_else(|| PathBuf::from("replay-out"))),
            (None, Some(dir)) => replay_one(dir, args.out),
            (None, None) => anyhow::bail!("give an instance folder or --all ROOT"),
        },
    }
}

#[actix_web::main]
async fn serve() -> anyhow::Result<()> {
    let settings = Settings::load()?;
    telemetry::init(&settings.log.filter, &settings.log.format);
    let demo = settings.demo.enabled;
    let keys = settings.auth.keys();
    let host = settings.server.host.clone();
    let backend = if settings.database.url.starts_with("sqlite:") { "SQLite" } else { "PostgreSQL" };
    let app = Application::build(settings).await?;
    let base = format!("http://{host}:{}", app.port());
    println!(
        "baedal listening on {base} ({backend}; recovered {} stores, {} riders, {} live orders)",
        app.recovered.stores, app.recovered.riders, app.recovered.orders
    );
    if demo {
        let auth = JwtAuthenticator::new(&keys).map_err(|e| anyhow::anyhow!("token keys: {e}"))?;
        let token = |role, subject| auth.issue(Identity { role, subject }, 24 * 3600);
        println!("{}", baedal::sim::demo::hints(&base, token));
    }
    app.run_until_stopped().await
}

fn replay_one(dir: &Path, out: Option<PathBuf>) -> anyhow::Result<()> {
    let name = dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "instance".into());
    let out = out.unwrap_or_else(|| Path::new("replay-out").join(&name));
    let report = replay::run_instance(dir, &out).with_context(|| format!("replaying {}", dir.display()))?;
    print!("{report}");
    println!("solution files: {} (greedy baseline: {})", out.display(), out.join("greedy").display());
    anyhow::ensure!(report.feasible(), "a solution broke the instance's rules");
    Ok(())
}

fn replay_all(root: &Path, out: &Path) -> anyhow::Result<()> {
    let dirs = replay::instance_dirs(root)?;
    anyhow::ensure!(!dirs.is_empty(), "no instance folders under {}", root.display());
    let bar = ProgressBar::new(dirs.len() as u64);
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} {elapsed_precise} eta {eta} {msg}")
            .context("progress bar template")?,
    );
    let mut reports: Vec<InstanceReport> = Vec::with_capacity(dirs.len());
    for dir in &dirs {
        let name = dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        bar.set_message(name.clone());
        let report =
            replay::run_instance(dir, &out.join(&name)).with_context(|| format!("replaying {}", dir.display()))?;
        if !report.feasible() {
            bar.println(format!("{name}: infeasible solution"));
        }
        reports.push(report);
        bar.inc(1);
    }
    bar.finish_and_clear();
    let summary = Summary::new(&reports);
    summary.write(out)?;
    print!("{}", summary.markdown(Some(summary.mean_rows(reports.len()))));
    println!("summary: {} and {}", out.join("summary.csv").display(), out.join("summary.md").display());
    let infeasible = reports.iter().filter(|r| !r.feasible()).count();
    anyhow::ensure!(infeasible == 0, "{infeasible} instances had an infeasible solution");
    Ok(())
}
