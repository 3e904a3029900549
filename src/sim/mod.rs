//! The city around the service: the demo city seeded at start, and (later) the simulator
//! and load generator.

pub mod demo;
pub mod load;
