//! The OpenAPI document, collected from the handlers as they are registered (every route
//! is registered through `utoipa_actix_web`, so a route cannot exist undocumented), and the
//! schemas of wire shapes that live outside the HTTP layer.

use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{IntoResponses, Modify, OpenApi, ToSchema};

/// `{"error": {...}}`, the one error shape.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct ErrorResponse {
    error: ErrorDetail,
}

#[derive(ToSchema)]
#[allow(dead_code)]
pub struct ErrorDetail {
    /// Machine-readable: `not_found`, `invalid_field`, `invalid_transition`, ...
    code: String,
    message: String,
    /// The field at fault, when there is one (`items[0].quantity`).
    field: Option<String>,
    /// For a refused transition: the state the order is in.
    current_status: Option<crate::http::schemas::OrderStatus>,
}

/// A WGS84 position: `lat` and `lon`, nothing else.
#[derive(ToSchema, serde::Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct Point {
    #[schema(minimum = -90.0, maximum = 90.0)]
    lat: f64,
    #[schema(minimum = -180.0, maximum = 180.0)]
    lon: f64,
}

/// The errors every route may answer with.
#[derive(IntoResponses)]
#[allow(dead_code)]
pub enum ApiErrors {
    #[response(status = 400, description = "Malformed request")]
    BadRequest(ErrorResponse),
    #[response(status = 401, description = "No or bad token")]
    Unauthorized(ErrorResponse),
    #[response(status = 403, description = "Not allowed for this caller")]
    Forbidden(ErrorResponse),
    #[response(status = 404, description = "Not found (or not the caller's)")]
    NotFound(ErrorResponse),
    #[response(status = 409, description = "Illegal transition")]
    Conflict(ErrorResponse),
    #[response(status = 413, description = "Body larger than 64 KiB")]
    TooLarge(ErrorResponse),
    #[response(status = 422, description = "Invalid field")]
    Invalid(ErrorResponse),
    #[response(status = 503, description = "A dependency is down; retry after `Retry-After`")]
    Unavailable(ErrorResponse),
}

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme("bearer", SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)));
    }
}

#[derive(OpenApi)]
#[openapi(
    info(title = "baedal", description = "Real-time food-delivery dispatch: orders, stores, riders, live updates."),
    components(schemas(ErrorResponse, ErrorDetail, Point)),
    modifiers(&BearerAuth)
)]
pub struct ApiDoc;
