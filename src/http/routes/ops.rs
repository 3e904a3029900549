//! Operations endpoints: liveness and readiness, the payment sandbox, why an order was
//! dispatched as it was, and taking an order from its rider.

use std::sync::Arc;

use actix_web::{get, post, put, web, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;

use crate::actors::CommandError;
use crate::domain::order::OrderCommand;
use crate::domain::OrderId;
use crate::http::caller::Caller;
use crate::http::error::ApiError;
use crate::http::extract::Json;
use crate::http::openapi::ApiErrors;
use crate::http::orders_access;
use crate::http::views::OrderView;
use crate::payment::{CircuitBreaker, CircuitState, SandboxGateway};

use super::Ctx;

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(health).service(ready).service(render_metrics);
}

/// Prometheus text exposition.
#[utoipa::path(tag = "ops", operation_id = "ops_metrics", responses((status = 200, description = "Prometheus text", body = String, content_type = "text/plain"), ApiErrors))]
#[get("/metrics")]
async fn render_metrics(platform: Ctx) -> HttpResponse {
    use crate::telemetry::names;
    metrics::gauge!(names::WEBSOCKETS).set(platform.hub.sessions() as f64);
    metrics::gauge!(names::ACTOR_RESTARTS).set(platform.restarts() as f64);
    HttpResponse::Ok().content_type("text/plain; version=0.0.4").body(crate::telemetry::metrics().render())
}

/// Operator tools under `/v1/ops`.
pub fn configure_v1(cfg: &mut ServiceConfig) {
    cfg.service(sandbox_state).service(set_sandbox).service(dispatch_log).service(reassign);
}

/// An order's dispatch decisions, oldest first.
#[derive(Serialize, ToSchema)]
struct DispatchLog {
    #[schema(value_type = uuid::Uuid)]
    order_id: OrderId,
    /// One per offer made (the latest 200 at most).
    #[schema(value_type = Vec<crate::http::schemas::Decision>)]
    decisions: Vec<serde_json::Value>,
}

/// Why an order was offered to each rider it was: the candidates, their costs, the choice.
#[utoipa::path(tag = "ops", operation_id = "ops_order_dispatch", params(("order" = uuid::Uuid, Path)), responses((status = 200, description = "The order's dispatch decisions", body = DispatchLog), ApiErrors), security(("bearer" = [])))]
#[get("/ops/orders/{order}/dispatch")]
#[tracing::instrument(skip_all)]
async fn dispatch_log(platform: Ctx, caller: Caller, path: web::Path<String>) -> Result<HttpResponse, ApiError> {
    caller.require_operator()?;
    let order_id: OrderId = super::id(&path, "order")?;
    orders_access::load(&platform, order_id).await?;
    let records = platform
        .decisions
        .of(platform.storage.decisions.as_ref(), order_id.as_uuid())
        .await
        .map_err(CommandError::from)?;
    let decisions = records.into_iter().map(|record| record.body).collect();
    Ok(HttpResponse::Ok().json(DispatchLog { order_id, decisions }))
}

/// Take an order from its rider before the food is on board (the rider stopped moving, say):
/// it leaves the rider's trip and goes back to dispatch, never to be offered to that rider
/// again. Refused (409) once the food is picked up or when no rider has it.
#[utoipa::path(tag = "ops", operation_id = "ops_order_reassign", params(("order" = uuid::Uuid, Path)), responses((status = 200, description = "The order, searching for a rider again", body = OrderView), ApiErrors), security(("bearer" = [])))]
#[post("/ops/orders/{order}/reassign")]
#[tracing::instrument(skip_all)]
async fn reassign(platform: Ctx, caller: Caller, path: web::Path<String>) -> Result<HttpResponse, ApiError> {
    caller.require_operator()?;
    let order_id: OrderId = super::id(&path, "order")?;
    orders_access::load(&platform, order_id).await?;
    let order = orders_access::execute(&platform, order_id, OrderCommand::Reassign).await?;
    Ok(HttpResponse::Ok().json(OrderView::from(&order)))
}

/// The sandbox payment provider behind its circuit breaker.
pub type Sandbox = web::Data<Arc<CircuitBreaker<SandboxGateway>>>;

/// The sandbox's failure switch and the breaker in front of it.
#[derive(Serialize, ToSchema)]
struct SandboxView {
    failing: bool,
    /// `open`: calls fail fast; `half_open`: one trial call is let through.
    #[schema(value_type = String, pattern = "^(closed|open|half_open)$")]
    circuit: &'static str,
}

fn sandbox_view(sandbox: &Sandbox) -> SandboxView {
    let circuit = match sandbox.state() {
        CircuitState::Closed => "closed",
        CircuitState::Open => "open",
        CircuitState::HalfOpen => "half_open",
    };
    SandboxView { failing: sandbox.inner().is_failing(), circuit }
}

#[utoipa::path(tag = "ops", operation_id = "ops_sandbox_state", responses((status = 200, description = "Switch and circuit state", body = SandboxView), ApiErrors), security(("bearer" = [])))]
#[get("/ops/payment-sandbox")]
async fn sandbox_state(caller: Caller, sandbox: Sandbox) -> Result<HttpResponse, ApiError> {
    caller.require_operator()?;
    Ok(HttpResponse::Ok().json(sandbox_view(&sandbox)))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct SandboxSwitch {
    failing: bool,
}

/// The sandbox's failure switch: make the provider fail, as in an outage, or recover.
#[utoipa::path(tag = "ops", operation_id = "ops_set_sandbox", request_body = SandboxSwitch, responses((status = 200, description = "Switch set", body = SandboxView), ApiErrors), security(("bearer" = [])))]
#[put("/ops/payment-sandbox")]
async fn set_sandbox(caller: Caller, sandbox: Sandbox, body: Json<SandboxSwitch>) -> Result<HttpResponse, ApiError> {
    caller.require_operator()?;
    sandbox.inner().set_failing(body.0.failing);
    tracing::warn!(failing = body.0.failing, "payment sandbox failure switch set");
    Ok(HttpResponse::Ok().json(sandbox_view(&sandbox)))
}

/// What `/health` and `/ready` answer.
#[derive(Serialize, ToSchema)]
struct Status {
    #[schema(value_type = String, example = "ok")]
    status: &'static str,
    /// `/ready` only: `sqlite` or `postgres`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    database: Option<&'static str>,
}

/// Live: the process answers.
#[utoipa::path(tag = "ops", operation_id = "ops_health", responses((status = 200, description = "Alive", body = Status), ApiErrors))]
#[get("/health")]
async fn health() -> HttpResponse {
    HttpResponse::Ok().json(Status { status: "ok", database: None })
}

/// Ready: the database answers too.
#[utoipa::path(tag = "ops", operation_id = "ops_ready", responses((status = 200, description = "The database answers", body = Status), ApiErrors))]
#[get("/ready")]
#[tracing::instrument(skip_all)]
async fn ready(platform: Ctx) -> Result<HttpResponse, ApiError> {
    let backend = platform.storage.backend;
    let unavailable = |message: String| {
        ApiError::new(actix_web::http::StatusCode::SERVICE_UNAVAILABLE, "database_unavailable", message)
    };
    if let Some(since) = platform.storage.availability.down_since() {
        return Err(unavailable(format!("the database has been unreachable since {since}")));
    }
    match tokio::time::timeout(std::time::Duration::from_secs(2), platform.storage.events.ping()).await {
        Ok(Ok(())) => Ok(HttpResponse::Ok().json(Status { status: "ready", database: Some(backend) })),
        Ok(Err(error)) => Err(unavailable(error.to_string())),
        Err(_) => Err(unavailable("the database did not answer within 2 s".into())),
    }
}
