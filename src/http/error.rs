//! One error shape for every response that is not a success:
//! `{"error": {"code": "...", "message": "...", "field": "..."}}`.

use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;

use crate::actors::CommandError;
use crate::domain::order::{OrderError, OrderStatus};
use crate::domain::rider::RiderError;
use crate::domain::store::{QuoteError, StoreError};

#[derive(Debug, Clone, Serialize)]
pub struct ErrorBody {
    pub code: &'static str,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// For a refused transition: the state the resource is in.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub current_status: Option<OrderStatus>,
}

#[derive(Debug, Clone, thiserror::Error)]
#[error("{status}: {}", body.message)]
pub struct ApiError {
    pub status: StatusCode,
    pub body: ErrorBody,
    /// Seconds to wait before retrying (503 and 429 always say; this overrides the default).
    pub retry_after: Option<u64>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            body: ErrorBody { code, message: message.into(), field: None, current_status: None },
            retry_after: None,
        }
    }

    pub fn field(mut self, field: impl Into<String>) -> Self {
        self.body.field = Some(field.into());
        self
    }

    pub fn not_found(what: &str) -> Self {
        ApiError::new(StatusCode::NOT_FOUND, "not_found", format!("{what} not found"))
    }

    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_field", message).field(field)
    }

    /// A fault of the server's own making; `why` goes to the log, not to the client.
    pub fn internal(why: &str) -> Self {
        tracing::error!(why, "internal error");
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "internal error")
    }

    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, code, message)
    }

    /// The same error under a more specific code.
    pub fn code(mut self, code: &'static str) -> Self {
        self.body.code = code;
        self
    }

    pub fn retry_after(mut self, secs: u64) -> Self {
        self.retry_after = Some(secs);
        self
    }

    pub fn with_status(mut self, status: OrderStatus) -> Self {
        self.body.current_status = Some(status);
        self
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = HttpResponse::build(self.status);
        match (self.retry_after, self.status) {
            (Some(secs), _) => {
                response.insert_header((header::RETRY_AFTER, secs.to_string()));
            }
            (None, StatusCode::SERVICE_UNAVAILABLE | StatusCode::TOO_MANY_REQUESTS) => {
                response.insert_header((header::RETRY_AFTER, "1"));
            }
            _ => {}
        }
        response.json(serde_json::json!({ "error": self.body }))
    }
}

impl From<CommandError> for ApiError {
    fn from(error: CommandError) -> Self {
        use StatusCode as S;
        let message = error.to_string();
        match error {
            CommandError::Order(order) => match order {
                OrderError::AlreadyPlaced => ApiError::new(S::CONFLICT, "already_exists", message),
                OrderError::NotPlaced => ApiError::not_found("order"),
                OrderError::InvalidTransition { status, .. } => {
                    ApiError::new(S::CONFLICT, "invalid_transition", message).with_status(status)
                }
                OrderError::NotYourJob { .. } => ApiError::new(S::FORBIDDEN, "not_your_job", message),
                OrderError::InvalidPrepMinutes => ApiError::invalid("prep_minutes", message),
                OrderError::MissingReason | OrderError::ControlCharacters => ApiError::invalid("reason", message),
                OrderError::NotReady => ApiError::new(S::CONFLICT, "not_ready", message),
                OrderError::OutsideGeofence { .. } => ApiError::invalid("position", message),
            },
            CommandError::Store(store) => match store {
                StoreError::AlreadyRegistered => ApiError::new(S::CONFLICT, "already_exists", message),
                StoreError::NotRegistered => ApiError::not_found("store"),
                StoreError::Unchanged(_) => ApiError::new(S::CONFLICT, "invalid_transition", message),
                StoreError::UnknownItem(_) => ApiError::not_found("menu item"),
                StoreError::InvalidProfile { field, message } => ApiError::invalid(field, message),
            },
            CommandError::Rider(rider) => match rider {
                RiderError::AlreadyRegistered => ApiError::new(S::CONFLICT, "already_exists", message),
                RiderError::NotRegistered => ApiError::not_found("rider"),
                RiderError::InvalidName => ApiError::invalid("name", message),
                RiderError::InvalidShiftEnd => ApiError::invalid("shift_ends_at", message),
                RiderError::Unchanged(_) | RiderError::Offline | RiderError::CarryingOrder(_) => {
                    ApiError::new(S::CONFLICT, "invalid_transition", message)
                }
            },
            CommandError::Quote(quote) => match quote {
                QuoteError::StoreClosed => ApiError::new(S::CONFLICT, "store_closed", message),
                QuoteError::NoItems | QuoteError::UnknownItem(_) | QuoteError::Unavailable(_) => {
                    ApiError::invalid("items", message)
                }
                QuoteError::BadQuantity { line } => ApiError::invalid(&format!("items[{line}].quantity"), message),
                QuoteError::OutOfRange { .. } => ApiError::invalid("delivery_point", message),
                QuoteError::Overflow => ApiError::invalid("items", message),
            },
            CommandError::NotFound(what) => ApiError::not_found(what),
            CommandError::Unavailable(_) | CommandError::InDoubt(_) => {
                ApiError::new(S::SERVICE_UNAVAILABLE, "unavailable", message)
            }
            CommandError::Conflict(_) => ApiError::new(S::CONFLICT, "concurrent_update", message),
            CommandError::Internal(_) => {
                tracing::error!(%message, "internal error");
                ApiError::new(S::INTERNAL_SERVER_ERROR, "internal", "internal error")
            }
        }
    }
}
