//! A module per resource.

pub mod auth;
pub mod city;
pub mod ops;
pub mod orders;
pub mod riders;
pub mod stores;

use std::sync::Arc;

use actix_web::web;

use crate::actors::Platform;

/// The platform, as every handler receives it.
pub type Ctx = web::Data<Arc<Platform>>;

/// Parse a path segment into an id, answering 404 for anything that is not one.
pub fn id<T: std::str::FromStr>(raw: &str, what: &str) -> Result<T, super::ApiError> {
    raw.parse().map_err(|_| super::ApiError::not_found(what))
}
