//! Replaying published Meal Delivery Routing Problem days (Grubhub) through the real
//! dispatch code on a simulated clock: the same dispatch [`Board`](crate::dispatch::Board),
//! matcher and order state machine as the server, with the instance's couriers as riders.
//! It writes the evaluator's solution files, re-checks them against the rules, and reports
//! the day's figures beside a greedy baseline run in the same pass.

pub mod bound;
pub mod checker;
pub mod engine;
pub mod instance;
pub mod kpi;
pub mod settings;
pub mod solution;
pub mod summary;

pub use crate::dispatch::lookahead::Variant;
pub use crate::dispatch::{Bundling, Rules, ShortHanded};
pub use bound::deliverable_bound;
pub use checker::{check, Violation};
pub use engine::{Replay, ReplayError};
pub use instance::Instance;
pub use kpi::Kpis;
pub use settings::ReplaySettings;
pub use solution::Solution;
pub use summary::{instance_dirs, run_instance, run_policy, InstanceReport, PolicyRun, RunError, Summary};
