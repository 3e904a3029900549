//! The city around the service: the demo city seeded at start, the simulator that brings
//! it to life, and the load generator.

pub mod agenda;
pub mod city;
pub mod customers;
pub mod demo;
pub mod headless;
pub mod kitchen;
pub mod load;
mod route;
