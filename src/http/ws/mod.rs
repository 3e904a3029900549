//! Websocket endpoints, one per kind of client: `/v1/ws/customer`, `/v1/ws/store`,
//! `/v1/ws/rider`. No socket opens without an identity: the upgrade request carries a
//! bearer token (`Authorization` header, or `access_token` query parameter for browsers),
//! and its role must match the endpoint. A socket lives no longer than its token: it is
//! closed when the token expires or is revoked (see [`close_codes`]). Sockets are capped
//! per subject and per client address.

mod caps;
pub mod close_codes;
pub mod commands;
pub mod protocol;
mod session;
mod versions;

use std::sync::Arc;

use actix_web::http::StatusCode;
use actix_web::{get, web, HttpRequest, HttpResponse};
use utoipa_actix_web::service_config::ServiceConfig;

use crate::actors::CommandError;
use crate::auth::{AuthError, Authenticator, Credentials, Revocations, Role};
use crate::domain::{OrderId, RiderId, StoreId};
use crate::http::error::ApiError;
use crate::http::openapi::ApiErrors;

use super::routes::Ctx;

pub use caps::SocketCaps;
pub use session::WsSession;

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(customer).service(store).service(rider);
}

/// The token of a request: `Authorization: Bearer <token>`, else `?access_token=`.
pub fn bearer(req: &HttpRequest) -> Option<String> {
    if let Some(header) = req.headers().get("Authorization").and_then(|h| h.to_str().ok()) {
        return header.strip_prefix("Bearer ").map(|t| t.trim().to_owned());
    }
    web::Query::<std::collections::HashMap<String, String>>::from_query(req.query_string())
        .ok()
        .and_then(|q| q.get("access_token").cloned())
}

pub fn authenticate(req: &HttpRequest, auth: &dyn Authenticator) -> Result<Credentials, ApiError> {
    let token = bearer(req).ok_or(AuthError::Missing).map_err(unauthorized)?;
    auth.authenticate(&token).map_err(unauthorized)
}

fn unauthorized(error: AuthError) -> ApiError {
    ApiError::new(StatusCode::UNAUTHORIZED, error.code(), error.to_string())
}

/// Most orders a reconnecting app may name in `orders`.
const MAX_HELD: usize = 200;

/// The orders a reconnecting app holds, with the version of each (`?orders=<id>:<version>,...`):
/// the snapshot then tells it of every one that changed since, finished ones included.
fn held_versions(req: &HttpRequest) -> Result<Vec<(OrderId, i64)>, ApiError> {
    let query = web::Query::<std::collections::HashMap<String, String>>::from_query(req.query_string())
        .map_err(|_| ApiError::invalid("orders", "the query string does not parse"))?;
    let Some(raw) = query.get("orders").filter(|raw| !raw.is_empty()) else { return Ok(Vec::new()) };
    let held: Vec<(OrderId, i64)> = raw
        .split(',')
        .map(|entry| {
            let (id, version) = entry.split_once(':')?;
            Some((
                id.parse::<uuid::Uuid>().ok().map(OrderId::from_uuid)?,
                version.parse::<i64>().ok().filter(|v| *v >= 0)?,
            ))
        })
        .collect::<Option<_>>()
        .ok_or_else(|| ApiError::invalid("orders", "orders is a list of <order id>:<version>, comma-separated"))?;
    if held.len() > MAX_HELD {
        return Err(ApiError::invalid("orders", format!("at most {MAX_HELD} orders")));
    }
    Ok(held)
}

async fn connect(
    req: HttpRequest,
    body: web::Payload,
    platform: Ctx,
    auth: web::Data<Arc<dyn Authenticator>>,
    role: Role,
) -> Result<HttpResponse, ApiError> {
    let credentials = authenticate(&req, auth.as_ref().as_ref())?;
    let identity = credentials.identity;
    if identity.role != role {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            format!("a {} token cannot open the {} socket", identity.role.as_str(), role.as_str()),
        ));
    }
    let exists = match role {
        Role::Store => {
            platform.find_store(StoreId::from_uuid(identity.subject)).await.map_err(CommandError::from)?.is_some()
        }
        Role::Rider => {
            platform.find_rider(RiderId::from_uuid(identity.subject)).await.map_err(CommandError::from)?.is_some()
        }
        Role::Customer | Role::Operator => true,
    };
    if !exists {
        return Err(ApiError::not_found(role.as_str()));
    }
    let caps = req.app_data::<web::Data<SocketCaps>>().ok_or_else(|| ApiError::internal("no socket caps"))?;
    let revocations =
        req.app_data::<web::Data<Arc<Revocations>>>().ok_or_else(|| ApiError::internal("no deny-list"))?;
    let held = held_versions(&req)?;
    let seat = caps.admit(identity.subject, req.peer_addr().map(|a| a.ip()))?;
    let (response, socket, stream) = actix_ws::handle(&req, body)
        .map_err(|e| ApiError::bad_request("not_a_websocket", format!("websocket upgrade failed: {e}")))?;
    WsSession::start(
        session::Opened { credentials, seat, revocations: revocations.get_ref().clone(), held },
        platform.get_ref().clone(),
        platform.settings.ws.clone(),
        socket,
        stream,
    );
    Ok(response)
}

#[utoipa::path(tag = "live", operation_id = "ws_customer", responses((status = 101, description = "Switching protocols: the socket is open"), ApiErrors), security(("bearer" = [])))]
#[get("/ws/customer")]
async fn customer(
    req: HttpRequest,
    body: web::Payload,
    platform: Ctx,
    auth: web::Data<Arc<dyn Authenticator>>,
) -> Result<HttpResponse, ApiError> {
    connect(req, body, platform, auth, Role::Customer).await
}

#[utoipa::path(tag = "live", operation_id = "ws_store", responses((status = 101, description = "Switching protocols: the socket is open"), ApiErrors), security(("bearer" = [])))]
#[get("/ws/store")]
async fn store(
    req: HttpRequest,
    body: web::Payload,
    platform: Ctx,
    auth: web::Data<Arc<dyn Authenticator>>,
) -> Result<HttpResponse, ApiError> {
    connect(req, body, platform, auth, Role::Store).await
}

#[utoipa::path(tag = "live", operation_id = "ws_rider", responses((status = 101, description = "Switching protocols: the socket is open"), ApiErrors), security(("bearer" = [])))]
#[get("/ws/rider")]
async fn rider(
    req: HttpRequest,
    body: web::Payload,
    platform: Ctx,
    auth: web::Data<Arc<dyn Authenticator>>,
) -> Result<HttpResponse, ApiError> {
    connect(req, body, platform, auth, Role::Rider).await
}
