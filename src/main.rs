//! `baedal`: start the server (with the demo city unless disabled), simulate the demo city
//! headless, or replay benchmark days through the dispatch code.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use baedal::auth::{Identity, JwtAuthenticator};
use baedal::config::{Between, Settings, Share};
use baedal::dispatch::Policy;
use baedal::replay::{self, Bundling, InstanceReport, ReplaySettings, Rules, ShortHanded, Summary};
use baedal::sim::headless::kpi::Compared;
use baedal::sim::headless::plan::{plan_name, Baseline};
use baedal::sim::headless::{self, Kpis, Plan, Simulation};
use baedal::startup::Application;
use baedal::telemetry;
use clap::{Args, Parser, Subcommand, ValueEnum};
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
    /// Run the demo city headless on a simulated clock and report its KPIs.
    Simulate(SimulateArgs),
    /// Replay Meal Delivery Routing Problem instances through the dispatch code, beside a
    /// greedy baseline, and write the evaluator's solution files.
    Replay(ReplayArgs),
}

/// Defaults come from the configuration (`baedal.toml`, `BAEDAL__...`): the same city,
/// people and dispatch as the server's demo.
#[derive(Args)]
struct SimulateArgs {
    /// How long customers order: `90m`, `2h`, `1h30m`, or seconds. The city then runs on
    /// until every order has finished.
    #[arg(long, default_value = "2h", value_parser = headless::parse_duration)]
    duration: i64,
    /// Mean rate of new orders (default: `simulator.orders_per_minute`).
    #[arg(long)]
    orders_per_minute: Option<f64>,
    /// How long kitchens cook, in minutes, MIN-MAX (default: `simulator.cook_secs`).
    #[arg(long, value_parser = headless::plan::parse_range)]
    cook_minutes: Option<Between>,
    /// Share of orders stores reject, 0 to 1 (default: `simulator.reject_share`).
    #[arg(long, value_parser = share)]
    reject_share: Option<Share>,
    /// Share of offers riders decline, 0 to 1 (default: `simulator.decline_share`).
    #[arg(long, value_parser = share)]
    decline_share: Option<Share>,
    /// Stores in the city (default: `demo.stores`).
    #[arg(long)]
    stores: Option<usize>,
    /// Riders on duty (default: `demo.riders`).
    #[arg(long)]
    riders: Option<usize>,
    /// The same seed gives the same day.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// How dispatch pairs orders with riders: the server's batch assignment, or greedy
    /// nearest-first for comparison.
    #[arg(long, value_enum, default_value_t = PolicyArg::Optimal)]
    policy: PolicyArg,
    /// Also run a baseline on the same day (same orders, kitchens and answers) and show its
    /// figures beside.
    #[arg(long)]
    compare: bool,
    /// The baseline `--compare` runs: greedy nearest-first pairing; dispatch starting the
    /// moment the store accepts; one order per rider (no trips); or both of those, the
    /// server's policy before release timing and trips.
    #[arg(long, value_enum, default_value_t = BaselineArg::Greedy, requires = "compare")]
    against: BaselineArg,
    /// Write a self-contained HTML report with charts here.
    #[arg(long, value_name = "FILE")]
    report: Option<PathBuf>,
}

#[derive(Clone, Copy, ValueEnum)]
enum BaselineArg {
    Greedy,
    AtAccept,
    Single,
    OneOrder,
}

#[derive(Clone, Copy, ValueEnum)]
enum PolicyArg {
    Optimal,
    Greedy,
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
    #[command(flatten)]
    policy: PolicyArgs,
}

/// The tuned policy's levers (defaults: `ReplaySettings::tuned`).
#[derive(Args)]
struct PolicyArgs {
    /// Simulated minutes between dispatch ticks.
    #[arg(long, default_value_t = ReplaySettings::tuned().tick_minutes)]
    tick_minutes: i64,
    /// Put an order up for dispatch this many minutes before it is ready.
    #[arg(long, default_value_t = ReplaySettings::tuned().rules.release_lead.unwrap_or(0))]
    release_lead: i64,
    /// Most orders one courier carries in one trip (1 = no bundling).
    #[arg(long, default_value_t = ReplaySettings::tuned().rules.bundling.map_or(1, |b| b.max_orders))]
    max_bundle: usize,
    /// Orders share a trip only when their ready times are this many minutes apart at most.
    #[arg(long, default_value_t = ReplaySettings::tuned().rules.bundling.map_or(0, |b| b.ready_window))]
    bundle_window: i64,
    /// Offer a courier its next job this many minutes before its last drop-off.
    #[arg(long, default_value_t = ReplaySettings::tuned().rules.free_ahead)]
    free_ahead: i64,
    /// Offer couriers only bundles they can pick up before their shift ends (false: they
    /// are offered any and decline those).
    #[arg(long, default_value_t = ReplaySettings::tuned().rules.shift_aware, action = clap::ArgAction::Set)]
    shift_aware: bool,
    /// Once the shift time left falls short of the orders left: most orders in one trip
    /// (1 = no short-handed rules).
    #[arg(long, default_value_t = ReplaySettings::tuned().rules.short.map_or(1, |s| s.bundling.max_orders))]
    short_bundle: usize,
    /// Short-handed: largest gap between the ready times of one trip's orders.
    #[arg(long, default_value_t = ReplaySettings::tuned().rules.short.map_or(0, |s| s.bundling.ready_window))]
    short_window: i64,
    /// Short-handed: click-to-door each order of a shared trip must still meet (0 = none).
    #[arg(long, default_value_t = ReplaySettings::tuned().rules.short.and_then(|s| s.limit).unwrap_or(0))]
    short_limit: i64,
    /// Short-handed: put orders up for dispatch this many minutes before they are ready.
    #[arg(long, default_value_t = ReplaySettings::tuned().rules.short.map_or(0, |s| s.release_lead))]
    short_lead: i64,
    /// Short-handed rules also once no courier is still to come and the last shift ends
    /// within this many minutes (0 = not then).
    #[arg(long, default_value_t = ReplaySettings::tuned().rules.short.and_then(|s| s.endgame).unwrap_or(0))]
    endgame: i64,
    /// Short-handed: a courier's last pickup of its shift also takes the restaurant's other
    /// placed orders it can pick up before the shift ends.
    #[arg(long, default_value_t = ReplaySettings::tuned().rules.last_trip, action = clap::ArgAction::Set)]
    last_trip: bool,
    /// While couriers are scarce, each tick first tries variants of the rules (and of who
    /// it sends) on the orders known so far and runs under the one that delivers most.
    #[arg(long, default_value_t = !ReplaySettings::tuned().lookahead.is_empty(), action = clap::ArgAction::Set)]
    lookahead: bool,
}

impl PolicyArgs {
    fn settings(&self) -> ReplaySettings {
        let rules = Rules {
            release_lead: Some(self.release_lead.max(0)),
            bundling: (self.max_bundle > 1)
                .then_some(Bundling { max_orders: self.max_bundle, ready_window: self.bundle_window.max(0) }),
            free_ahead: self.free_ahead.max(0),
            shift_aware: self.shift_aware,
            last_trip: self.last_trip,
            short: (self.short_bundle > 1).then_some(ShortHanded {
                bundling: Bundling { max_orders: self.short_bundle, ready_window: self.short_window.max(0) },
                limit: (self.short_limit > 0).then_some(self.short_limit),
                release_lead: self.short_lead.max(0),
                pace: ReplaySettings::tuned().rules.short.map_or(20.0, |s| s.pace),
                endgame: (self.endgame > 0).then_some(self.endgame),
            }),
        };
        ReplaySettings {
            tick_minutes: self.tick_minutes.max(1),
            rules,
            lookahead: if self.lookahead { ReplaySettings::tuned().lookahead } else { &[] },
            ..ReplaySettings::tuned()
        }
    }
}

fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        None | Some(Command::Serve) => serve(),
        Some(Command::Simulate(args)) => simulate(args),
        Some(Command::Replay(args)) => match (&args.all, &args.instance) {
            (Some(root), _) => {
                replay_all(root, args.policy.settings(), &args.out.unwrap_or_else(|| PathBuf::from("replay-out")))
            }
            (None, Some(dir)) => replay_one(dir, args.policy.settings(), args.out),
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
    let ttl = settings.auth.token_ttl_secs;
    let host = settings.server.host.clone();
    let backend = if settings.database.url.starts_with("sqlite:") { "SQLite" } else { "PostgreSQL" };
    let app = Application::build(settings).await?;
    let base = format!("http://{host}:{}", app.port());
    println!(
        "baedal listening on {base} ({backend}; recovered {} stores, {} riders, {} live orders)",
        app.recovered.stores, app.recovered.riders, app.recovered.orders
    );
    // Ready-made tokens only for the demo city, and only while it is there: they name the
    // demo's own customer, store and rider.
    if demo && app.platform().store(baedal::sim::demo::demo_store()).is_some() {
        let auth = JwtAuthenticator::new(&keys).map_err(|e| anyhow::anyhow!("token keys: {e}"))?;
        let token = |role, subject| auth.issue(Identity { role, subject }, ttl);
        println!("{}", baedal::sim::demo::hints(&base, ttl, token));
    }
    app.run_until_stopped().await
}

/// A share between 0 and 1, for clap.
fn share(text: &str) -> Result<Share, String> {
    let value: f64 = text.parse().map_err(|_| format!("`{text}` is not a number"))?;
    Share::try_from(value)
}

fn simulate(args: SimulateArgs) -> anyhow::Result<()> {
    let settings = Settings::load()?;
    let mut plan = Plan::from_settings(&settings, args.duration);
    plan.seed = args.seed;
    plan.policy = match args.policy {
        PolicyArg::Optimal => Policy::Optimal,
        PolicyArg::Greedy => Policy::Greedy,
    };
    if let Some(rate) = args.orders_per_minute {
        anyhow::ensure!(rate.is_finite() && rate >= 0.0, "--orders-per-minute must be a number of at least 0");
        plan.people.orders_per_minute = rate;
    }
    if let Some(minutes) = args.cook_minutes {
        plan.people.cook_secs = Between::new(minutes.min() * 60.0, minutes.max() * 60.0).map_err(anyhow::Error::msg)?;
    }
    plan.people.reject_share = args.reject_share.unwrap_or(plan.people.reject_share);
    plan.people.decline_share = args.decline_share.unwrap_or(plan.people.decline_share);
    plan.city.stores = args.stores.unwrap_or(plan.city.stores);
    plan.city.riders = args.riders.unwrap_or(plan.city.riders);
    anyhow::ensure!(plan.city.stores > 0, "the city needs at least one store");
    let summary = plan.describe();
    let against = match args.against {
        BaselineArg::Greedy => Baseline::Greedy,
        BaselineArg::AtAccept => Baseline::AtAccept,
        BaselineArg::Single => Baseline::Single,
        BaselineArg::OneOrder => Baseline::OneOrder,
    };
    let baseline = args.compare.then(|| against.apply(&plan));
    let names = baseline.as_ref().map(|b| (plan_name(&plan), plan_name(b)));
    let window_secs = args.duration as u64;
    let bar = ProgressBar::new(window_secs);
    bar.set_style(ProgressStyle::with_template("{bar:40} simulated {msg}").context("progress bar template")?);
    let run_one = |plan: Plan| {
        bar.reset();
        let run = Simulation::new(plan).run(|p| {
            bar.set_position(((p.simulated_ms / 1000) as u64).min(window_secs));
            bar.set_message(format!("{} min: {} orders, {} finished", p.simulated_ms / 60_000, p.placed, p.finished));
        });
        (Kpis::of(&run), run)
    };
    let (kpis, run) = run_one(plan);
    let other = baseline.map(|plan| run_one(plan).0);
    bar.finish_and_clear();
    let compared = other.as_ref().zip(names).map(|(baseline, names)| Compared { names, baseline });
    print!("{}", headless::kpi::table(&kpis, compared.as_ref()));
    if let Some(path) = &args.report {
        let page = headless::report::html(&summary, &kpis, compared.as_ref(), &run);
        std::fs::write(path, page).with_context(|| format!("writing the report to {}", path.display()))?;
        println!("report: {}", path.display());
    }
    if kpis.refused > 0 {
        eprintln!("warning: the order state machine refused {} simulated commands", kpis.refused);
    }
    Ok(())
}

fn replay_one(dir: &Path, tuned: ReplaySettings, out: Option<PathBuf>) -> anyhow::Result<()> {
    let name = dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "instance".into());
    let out = out.unwrap_or_else(|| Path::new("replay-out").join(&name));
    let report = replay::run_instance(dir, tuned, &out).with_context(|| format!("replaying {}", dir.display()))?;
    print!("{report}");
    println!("solution files: {} (greedy baseline: {})", out.display(), out.join("greedy").display());
    anyhow::ensure!(report.feasible(), "a solution broke the instance's rules");
    Ok(())
}

fn replay_all(root: &Path, tuned: ReplaySettings, out: &Path) -> anyhow::Result<()> {
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
        let report = replay::run_instance(dir, tuned, &out.join(&name))
            .with_context(|| format!("replaying {}", dir.display()))?;
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
