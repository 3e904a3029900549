//! baedal: a real-time food-delivery dispatch backend.
//!
//! Layers point inward: `http` -> `actors` -> `domain`; actors reach storage, payment and
//! matching only through the ports in `persistence`, `payment` and `matching`.

pub mod actors;
pub mod auth;
pub mod config;
pub mod dispatch;
pub mod domain;
pub mod drill;
pub mod http;
pub mod matching;
pub mod memory;
pub mod payment;
pub mod persistence;
pub mod replay;
pub mod sim;
pub mod startup;
pub mod telemetry;
