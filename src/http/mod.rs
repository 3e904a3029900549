//! The HTTP edge: REST routes under `/v1`, operations endpoints at the root, one JSON
//! error shape. Handlers parse raw input into domain types here and talk to the actors.

pub mod caller;
pub mod error;
pub mod extract;
pub mod headers;
pub mod limits;
pub mod methods;
pub mod openapi;
mod orders_access;
pub mod pages;
pub(crate) mod routes;
pub mod schemas;
pub mod views;
pub mod ws;

use std::sync::Arc;

use utoipa_actix_web::scope;
use utoipa_actix_web::service_config::ServiceConfig;

use crate::actors::Platform;

pub use error::ApiError;

/// Shared by every handler.
pub struct AppState {
    pub platform: Arc<Platform>,
}

/// Register every route (through `utoipa_actix_web`, so each is in the OpenAPI document).
pub fn configure(cfg: &mut ServiceConfig) {
    cfg.app_data(extract::json_config())
        .app_data(extract::payload_config())
        .app_data(extract::path_config())
        .app_data(extract::query_config());
    routes::ops::configure(cfg);
    cfg.service(
        scope("/v1")
            .configure(routes::auth::configure)
            .configure(routes::ops::configure_v1)
            .configure(routes::city::configure)
            .configure(routes::stores::configure)
            .configure(routes::orders::configure)
            .configure(routes::riders::configure)
            .configure(ws::configure),
    );
}
