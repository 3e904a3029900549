//! Drills: the real server under load and failure, driven and checked from outside, as its
//! clients and its operator would see it. Each drill starts the `baedal` binary as a child
//! process, runs a load of orders through the REST API, breaks something (the process, the
//! database), and then holds the database to what the clients were told.
//!
//! `baedal-drill` runs each one with full settings; `tests/drills.rs` runs short forms.

pub mod audit;
pub mod crash;
pub mod outage;
pub mod postgres;
pub mod server;
pub mod soak;
pub mod throughput;
pub mod workload;

/// The server settings every drill runs with: its own signing key (and a token lifetime as
/// long as [`DRILL_TOKEN_TTL_SECS`], the drill's own tokens), quick dispatch, no demo city
/// (the drill builds its own) and no payment latency.
/// The drills' tokens last a day, so that a soak of many hours keeps its clients signed in;
/// the drill servers accept tokens that long (`auth.token_ttl_secs`).
pub const DRILL_TOKEN_TTL_SECS: i64 = 24 * 3600;

pub fn server_env(secret: &str) -> Vec<(String, String)> {
    [
        ("BAEDAL__AUTH__SECRET", secret),
        ("BAEDAL__AUTH__KID", "k1"),
        ("BAEDAL__AUTH__TOKEN_TTL_SECS", "86400"),
        ("BAEDAL__DEMO__ENABLED", "false"),
        ("BAEDAL__SIMULATOR__ENABLED", "false"),
        ("BAEDAL__PAYMENT__LATENCY_MS", "0"),
        ("BAEDAL__DISPATCH__TICK_MS", "100"),
        ("BAEDAL__LIMITS__ORDERS_PER_MINUTE_PER_IP", "1000000"),
        ("BAEDAL__LIMITS__ORDERS_PER_MINUTE_PER_ACCOUNT", "1000000"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect()
}
