//! Finding riders: a spatial index of the riders who can take a job.

mod index;

pub use index::RiderIndex;
