//! `baedal simulate`: the demo city on a simulated clock, far faster than real time, and
//! the figures it is judged by.
//!
//! The people (customers, store staff, riders) behave as the live simulator's, with the
//! same settings, in the same city. Every decision is the server's own code: orders move
//! through the order state machine, their deadlines and dispatch needs come from
//! [`crate::dispatch::duties`] as the order actor's do, and riders are matched by the
//! dispatch [`Board`](crate::dispatch::Board) the dispatcher actor wraps. What it leaves
//! out is what costs real time: actors, the database and the network, which the black-box
//! tests and the drills exercise instead.

pub mod engine;
pub mod kpi;
pub mod plan;
pub mod report;

pub use engine::{Outcomes, Progress, Simulation};
pub use kpi::Kpis;
pub use plan::{parse_duration, Plan};
