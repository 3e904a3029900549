//! Finding riders: a spatial index of the riders who can take a job, travel-time
//! estimates, and the optimal batch assignment of waiting jobs to free riders.

pub mod assignment;
pub mod batch;
pub mod eta;
mod index;
pub mod space;

pub use batch::{plan, BatchSettings, Job, Pairing};
pub use eta::SpeedModel;
pub use index::RiderIndex;
pub use space::{PlanarPoint, Position};
