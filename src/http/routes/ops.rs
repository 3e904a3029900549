//! Operations endpoints: liveness and readiness.

use std::sync::Arc;

use actix_web::{web, HttpResponse};
use serde::Deserialize;
use serde_json::json;

use crate::http::caller::Caller;
use crate::http::error::ApiError;
use crate::http::extract::Json;
use crate::payment::{CircuitBreaker, CircuitState, SandboxGateway};

use super::Ctx;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/health", web::get().to(health))
        .route("/ready", web::get().to(ready))
        .route("/metrics", web::get().to(metrics));
}

/// Prometheus text exposition.
async fn metrics(platform: Ctx) -> HttpResponse {
    use crate::telemetry::names;
    metrics::gauge!(names::WEBSOCKETS).set(platform.hub.sessions() as f64);
    metrics::gauge!(names::ACTOR_RESTARTS).set(platform.restarts() as f64);
    HttpResponse::Ok().content_type("text/plain; version=0.0.4").body(crate::telemetry::metrics().render())
}

/// Operator tools under `/v1/ops`.
pub fn configure_v1(cfg: &mut web::ServiceConfig) {
    cfg.route("/ops/payment-sandbox", web::get().to(sandbox_state))
        .route("/ops/payment-sandbox", web::put().to(set_sandbox));
}

/// The sandbox payment provider behind its circuit breaker.
pub type Sandbox = web::Data<Arc<CircuitBreaker<SandboxGateway>>>;

fn sandbox_view(sandbox: &Sandbox) -> serde_json::Value {
    let circuit = match sandbox.state() {
        CircuitState::Closed => "closed",
        CircuitState::Open => "open",
        CircuitState::HalfOpen => "half_open",
    };
    json!({ "failing": sandbox.inner().is_failing(), "circuit": circuit })
}

async fn sandbox_state(caller: Caller, sandbox: Sandbox) -> Result<HttpResponse, ApiError> {
    caller.require_operator()?;
    Ok(HttpResponse::Ok().json(sandbox_view(&sandbox)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SandboxSwitch {
    failing: bool,
}

/// The sandbox's failure switch: make the provider fail, as in an outage, or recover.
async fn set_sandbox(caller: Caller, sandbox: Sandbox, body: Json<SandboxSwitch>) -> Result<HttpResponse, ApiError> {
    caller.require_operator()?;
    sandbox.inner().set_failing(body.0.failing);
    tracing::warn!(failing = body.0.failing, "payment sandbox failure switch set");
    Ok(HttpResponse::Ok().json(sandbox_view(&sandbox)))
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
