//! Operations endpoints: liveness and readiness.

use actix_web::{web, HttpResponse};
use serde_json::json;

use super::Ctx;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/health", web::get().to(health)).route("/ready", web::get().to(ready));
}

/// Live: the process answers.
async fn health() -> HttpResponse {
    HttpResponse::Ok().json(json!({ "status": "ok" }))
}

/// Ready: the database answers too.
#[tracing::instrument(skip_all)]
async fn ready(platform: Ctx) -> HttpResponse {
    let backend = platform.storage.backend;
    match tokio::time::timeout(std::time::Duration::from_secs(2), platform.storage.events.ping()).await {
        Ok(Ok(())) => HttpResponse::Ok().json(json!({ "status": "ready", "database": backend })),
        Ok(Err(error)) => HttpResponse::ServiceUnavailable()
            .insert_header(("Retry-After", "1"))
            .json(json!({ "error": { "code": "database_unavailable", "message": error.to_string() } })),
        Err(_) => HttpResponse::ServiceUnavailable().insert_header(("Retry-After", "1")).json(
            json!({ "error": { "code": "database_unavailable", "message": "the database did not answer within 2 s" } }),
        ),
    }
}
