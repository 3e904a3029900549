//! `baedal-load`: open many websocket clients of each kind against a running baedal and
//! report what it held and how fast updates arrived. See `baedal::sim::load`.

use std::time::Duration;

use baedal::sim::load::{run, LoadPlan};
use clap::Parser;

#[derive(Parser, Debug)]
#[command(about = "Websocket load generator for a running baedal server")]
struct Args {
    /// The server's base URL.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    url: String,
    /// The server's token signing key (auth.secret).
    #[arg(long, env = "BAEDAL__AUTH__SECRET", default_value = baedal::config::DEV_SECRET, hide_env_values = true)]
    secret: String,
    #[arg(long, env = "BAEDAL__AUTH__KID", default_value = "k1")]
    kid: String,
    #[arg(long, default_value_t = 1_500)]
    customers: usize,
    #[arg(long, default_value_t = 500)]
    stores: usize,
    #[arg(long, default_value_t = 10_000)]
    riders: usize,
    /// Orders placed per second during the measured window.
    #[arg(long, default_value_t = 80.0)]
    orders_per_sec: f64,
    /// Seconds between a rider's location pings.
    #[arg(long, default_value_t = 2.0)]
    ping_secs: f64,
    /// Length of the measured window, in seconds.
    #[arg(long, default_value_t = 60)]
    seconds: u64,
    /// Seconds from a store's accept to its "ready".
    #[arg(long, default_value_t = 5)]
    cook_secs: u64,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let plan = LoadPlan {
        base: args.url.trim_end_matches('/').to_owned(),
        secret: args.secret,
        kid: args.kid,
        customers: args.customers,
        stores: args.stores,
        riders: args.riders,
        orders_per_sec: args.orders_per_sec,
        ping_every: Duration::from_secs_f64(args.ping_secs.max(0.05)),
        duration: Duration::from_secs(args.seconds),
        cook_secs: args.cook_secs,
    };
    let report = run(plan).await?;
    println!("{report}");
    Ok(())
}
