//! Websocket endpoints, one per kind of client: `/v1/ws/customer`, `/v1/ws/store`,
//! `/v1/ws/rider`. No socket opens without an identity: the upgrade request carries a
//! bearer token (`Authorization` header, or `access_token` query parameter for browsers),
//! and its role must match the endpoint.

pub mod commands;
pub mod protocol;
mod session;
mod versions;

use std::sync::Arc;

use actix_web::http::StatusCode;
use actix_web::{get, web, HttpRequest, HttpResponse};
use utoipa_actix_web::service_config::ServiceConfig;

use crate::auth::{AuthError, Authenticator, Identity, Role};
use crate::domain::{RiderId, StoreId};
use crate::http::error::ApiError;
use crate::http::openapi::ApiErrors;

use super::routes::Ctx;

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

pub fn authenticate(req: &HttpRequest, auth: &dyn Authenticator) -> Result<Identity, ApiError> {
    let token = bearer(req).ok_or(AuthError::Missing).map_err(unauthorized)?;
    auth.authenticate(&token).map_err(unauthorized)
}

fn unauthorized(error: AuthError) -> ApiError {
    ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", error.to_string())
}

async fn connect(
    req: HttpRequest,
    body: web::Payload,
    platform: Ctx,
    auth: web::Data<Arc<dyn Authenticator>>,
    role: Role,
) -> Result<HttpResponse, ApiError> {
    let identity = authenticate(&req, auth.as_ref().as_ref())?;
    if identity.role != role {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            format!("a {} token cannot open the {} socket", identity.role.as_str(), role.as_str()),
        ));
    }
    let exists = match role {
        Role::Store => platform.store(StoreId::from_uuid(identity.subject)).is_some(),
        Role::Rider => platform.rider(RiderId::from_uuid(identity.subject)).is_some(),
        Role::Customer | Role::Operator => true,
    };
    if !exists {
        return Err(ApiError::not_found(role.as_str()));
    }
    let (response, socket, stream) = actix_ws::handle(&req, body)
        .map_err(|e| ApiError::bad_request("not_a_websocket", format!("websocket upgrade failed: {e}")))?;
    WsSession::start(identity, platform.get_ref().clone(), platform.settings.ws.clone(), socket, stream);
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
