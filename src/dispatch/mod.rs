//! The decisions of dispatch, apart from how they are delivered: which riders are free,
//! which orders wait, and who is offered what on each tick. The live server's dispatcher
//! actor wraps a [`Board`] and feeds it wall-clock time and actor messages; the replay of
//! benchmark days feeds the very same board a simulated clock.

mod board;
pub mod bundle;
pub mod decision;
pub mod duties;
pub mod lookahead;
pub mod pressure;
pub mod rules;
pub mod trip;

pub use board::{Board, Need, Offer, Policy, Stage};
pub use decision::{Considered, Decision, Verdict};
pub use pressure::{Pressure, ShortHanded};
pub use rules::{Bundling, Rules};
pub use trip::{Places, TripSettings};
