//! Accounts and tokens: sign up, log in, refresh, log out; operators create staff, rider
//! and operator accounts.

use actix_web::{get, post, web, HttpRequest, HttpResponse};
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;

use std::sync::Arc;

use crate::auth::{AccountError, Accounts, Authenticator, Role};
use crate::domain::{RiderId, StoreId};
use crate::http::caller::Caller;
use crate::http::error::ApiError;
use crate::http::extract::Json;
use crate::http::limits::Limits;
use crate::http::openapi::{ApiErrors, ErrorResponse};
use crate::http::schemas::Tokens;
use crate::http::views::{AccountView, CallerView};

use super::Ctx;

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(signup).service(login).service(refresh).service(logout).service(me).service(create);
}

impl From<AccountError> for ApiError {
    fn from(error: AccountError) -> Self {
        use actix_web::http::StatusCode as S;
        let message = error.to_string();
        match error {
            AccountError::InvalidEmail => ApiError::invalid("email", message),
            AccountError::WeakPassword => ApiError::invalid("password", message),
            AccountError::InvalidName => ApiError::invalid("name", message),
            AccountError::EmailTaken => ApiError::new(S::CONFLICT, "email_taken", message).field("email"),
            AccountError::BadCredentials | AccountError::InvalidRefresh => {
                ApiError::new(S::UNAUTHORIZED, "unauthorized", message)
            }
            AccountError::Storage(storage) => crate::actors::CommandError::from(storage).into(),
            AccountError::Busy => ApiError::new(S::SERVICE_UNAVAILABLE, "busy", message).retry_after(1),
            AccountError::Hashing(_) => ApiError::new(S::INTERNAL_SERVER_ERROR, "internal", "internal error"),
        }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct Signup {
    #[schema(
        pattern = "^[\\t\\n\\x0b\\x0c\\r \\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]*[^\\s\\u0085@\\x00-\\x1f\\x7f-\\x9f]+@[^\\s\\u0085.\\x00-\\x1f\\x7f-\\x9f][^\\s\\u0085\\x00-\\x1f\\x7f-\\x9f]*\\.[^\\s\\u0085\\x00-\\x1f\\x7f-\\x9f]*[^\\s\\u0085.\\x00-\\x1f\\x7f-\\x9f][\\t\\n\\x0b\\x0c\\r \\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]*$"
    )]
    email: String,
    #[schema(min_length = 8, max_length = 128)]
    password: String,
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = "^[^\\x00-\\x1f\\x7f-\\x9f]*[^\\s\\u0085\\x00-\\x1f\\x7f-\\x9f][^\\x00-\\x1f\\x7f-\\x9f]*$"
    )]
    name: String,
}

/// A new customer account, logged in.
#[utoipa::path(tag = "auth", operation_id = "auth_signup", request_body = Signup, responses((status = 201, description = "Signed up and logged in", body = Tokens), (status = 429, description = "Rate limited", body = ErrorResponse), (status = 503, description = "Busy hashing passwords; retry after `Retry-After`", body = ErrorResponse), ApiErrors))]
#[post("/auth/signup")]
#[tracing::instrument(skip_all)]
async fn signup(
    accounts: web::Data<Accounts>,
    limits: web::Data<Limits>,
    req: HttpRequest,
    body: Json<Signup>,
) -> Result<HttpResponse, ApiError> {
    let body = body.0;
    limits.signup(&body.email, req.peer_addr().map(|a| a.ip()))?;
    let tokens = accounts.sign_up(&body.email, &body.password, &body.name).await?;
    Ok(HttpResponse::Created().json(tokens))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct Login {
    email: String,
    password: String,
}

#[utoipa::path(tag = "auth", operation_id = "auth_login", request_body = Login, responses((status = 200, description = "Tokens", body = Tokens), (status = 429, description = "Rate limited", body = ErrorResponse), (status = 503, description = "Busy hashing passwords; retry after `Retry-After`", body = ErrorResponse), ApiErrors))]
#[post("/auth/login")]
#[tracing::instrument(skip_all)]
async fn login(
    accounts: web::Data<Accounts>,
    limits: web::Data<Limits>,
    req: HttpRequest,
    body: Json<Login>,
) -> Result<HttpResponse, ApiError> {
    let ip = req.peer_addr().map(|a| a.ip());
    limits.login(&body.0.email, ip)?;
    let result = accounts.login(&body.0.email, &body.0.password).await;
    match &result {
        Ok(_) => limits.login_result(&body.0.email, ip, true),
        Err(AccountError::BadCredentials) => limits.login_result(&body.0.email, ip, false),
        Err(_) => {}
    }
    Ok(HttpResponse::Ok().json(result?))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct Refresh {
    refresh_token: String,
}

#[utoipa::path(tag = "auth", operation_id = "auth_refresh", request_body = Refresh, responses((status = 200, description = "New tokens", body = Tokens), ApiErrors))]
#[post("/auth/refresh")]
async fn refresh(accounts: web::Data<Accounts>, body: Json<Refresh>) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(accounts.refresh(&body.0.refresh_token).await?))
}

/// Log out: the refresh token's family is revoked, and so is the access token sent in
/// `Authorization` (if any), which also closes the sockets opened with it.
#[utoipa::path(tag = "auth", operation_id = "auth_logout", request_body = Refresh, responses((status = 204, description = "Revoked"), ApiErrors))]
#[post("/auth/logout")]
async fn logout(
    accounts: web::Data<Accounts>,
    auth: web::Data<Arc<dyn Authenticator>>,
    req: HttpRequest,
    body: Json<Refresh>,
) -> Result<HttpResponse, ApiError> {
    // A token that no longer verifies has nothing left to revoke.
    let access = crate::http::ws::bearer(&req).and_then(|token| auth.authenticate(&token).ok());
    accounts.logout(&body.0.refresh_token, access).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[utoipa::path(tag = "auth", operation_id = "auth_me", responses((status = 200, description = "The caller", body = CallerView), ApiErrors), security(("bearer" = [])))]
#[get("/auth/me")]
async fn me(caller: Caller) -> HttpResponse {
    HttpResponse::Ok().json(CallerView { role: caller.0.role, subject: caller.0.subject })
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct NewAccount {
    #[schema(
        pattern = "^[\\t\\n\\x0b\\x0c\\r \\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]*[^\\s\\u0085@\\x00-\\x1f\\x7f-\\x9f]+@[^\\s\\u0085.\\x00-\\x1f\\x7f-\\x9f][^\\s\\u0085\\x00-\\x1f\\x7f-\\x9f]*\\.[^\\s\\u0085\\x00-\\x1f\\x7f-\\x9f]*[^\\s\\u0085.\\x00-\\x1f\\x7f-\\x9f][\\t\\n\\x0b\\x0c\\r \\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]*$"
    )]
    email: String,
    #[schema(min_length = 8, max_length = 128)]
    password: String,
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = "^[^\\x00-\\x1f\\x7f-\\x9f]*[^\\s\\u0085\\x00-\\x1f\\x7f-\\x9f][^\\x00-\\x1f\\x7f-\\x9f]*$"
    )]
    name: String,
    role: Role,
    /// The store (for staff) or rider the account acts as; operators and customers get a
    /// new id.
    #[serde(default)]
    subject: Option<uuid::Uuid>,
}

/// Operators create store staff, rider and operator accounts.
#[utoipa::path(tag = "auth", operation_id = "accounts_create", request_body = NewAccount, responses((status = 201, description = "Created", body = AccountView), ApiErrors), security(("bearer" = [])))]
#[post("/accounts")]
#[tracing::instrument(skip_all)]
async fn create(
    platform: Ctx,
    accounts: web::Data<Accounts>,
    caller: Caller,
    body: Json<NewAccount>,
) -> Result<HttpResponse, ApiError> {
    caller.require_operator()?;
    let body = body.0;
    let subject = match body.role {
        Role::Store => {
            let id = body.subject.ok_or_else(|| ApiError::invalid("subject", "store staff need the store's id"))?;
            let found = platform.find_store(StoreId::from_uuid(id)).await.map_err(crate::actors::CommandError::from)?;
            found.ok_or_else(|| ApiError::invalid("subject", "no such store"))?;
            Some(id)
        }
        Role::Rider => {
            let id =
                body.subject.ok_or_else(|| ApiError::invalid("subject", "a rider account needs the rider's id"))?;
            let found = platform.find_rider(RiderId::from_uuid(id)).await.map_err(crate::actors::CommandError::from)?;
            found.ok_or_else(|| ApiError::invalid("subject", "no such rider"))?;
            Some(id)
        }
        Role::Customer | Role::Operator => None,
    };
    let account = accounts.register(&body.email, &body.password, &body.name, body.role, subject).await?;
    Ok(HttpResponse::Created().json(AccountView {
        id: account.id,
        email: account.email,
        role: body.role,
        subject: account.subject,
        name: account.name,
    }))
}
