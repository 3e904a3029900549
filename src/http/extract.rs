//! Extractors that turn a bad request into a 4xx naming the field, in the one error shape.

use actix_web::dev::Payload;
use actix_web::error::{JsonPayloadError, PathError, QueryPayloadError};
use actix_web::web::{Bytes, JsonConfig, PathConfig, PayloadConfig, QueryConfig};
use actix_web::{FromRequest, HttpRequest};
use futures_util::future::LocalBoxFuture;
use serde::de::DeserializeOwned;

use super::error::ApiError;

/// Largest JSON body accepted.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// A JSON body, parsed with the path of the first bad field kept: malformed JSON is a 400,
/// a missing or mistyped field a 422 naming it.
pub struct Json<T>(pub T);

impl<T: DeserializeOwned + 'static> FromRequest for Json<T> {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let body = read_body(req, payload);
        Box::pin(async move { parse(&body.await?).map(Json) })
    }
}

/// An optional JSON body: empty means `T::default()`.
pub struct OptionalJson<T>(pub T);

impl<T: DeserializeOwned + Default + 'static> FromRequest for OptionalJson<T> {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let body = read_body(req, payload);
        Box::pin(async move {
            let bytes = body.await?;
            if bytes.iter().all(u8::is_ascii_whitespace) {
                return Ok(OptionalJson(T::default()));
            }
            parse(&bytes).map(OptionalJson)
        })
    }
}

/// The raw body, within the configured size limit.
fn read_body(req: &HttpRequest, payload: &mut Payload) -> impl std::future::Future<Output = Result<Bytes, ApiError>> {
    let bytes = Bytes::from_request(req, payload);
    async move {
        bytes.await.map_err(|e| {
            let status = e.as_response_error().status_code();
            let code =
                if status == actix_web::http::StatusCode::PAYLOAD_TOO_LARGE { "body_too_large" } else { "bad_body" };
            ApiError::new(status, code, format!("{e} (limit {MAX_BODY_BYTES} bytes)"))
        })
    }
}

pub fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let value: T = serde_path_to_error::deserialize(&mut deserializer).map_err(|error| {
        let path = error.path().to_string();
        classify(path, error.into_inner())
    })?;
    // Trailing bytes after the value are malformed JSON too.
    deserializer.end().map_err(|e| classify(".".into(), e))?;
    Ok(value)
}

fn classify(path: String, inner: serde_json::Error) -> ApiError {
    {
        match inner.classify() {
            serde_json::error::Category::Syntax
            | serde_json::error::Category::Eof
            | serde_json::error::Category::Io => {
                ApiError::bad_request("malformed_json", format!("the body is not valid JSON: {inner}"))
            }
            serde_json::error::Category::Data => {
                let message = strip_position(&inner.to_string());
                let field = missing_field(&message)
                    .map(|name| if path == "." { name.to_owned() } else { format!("{path}.{name}") })
                    .unwrap_or(path);
                ApiError::invalid(if field == "." { "body" } else { &field }, message)
            }
        }
    }
}

/// The name in serde's "missing field `name`" message.
pub(crate) fn missing_field(message: &str) -> Option<&str> {
    message.strip_prefix("missing field `")?.split('`').next()
}

fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_owned(),
        None => message.to_owned(),
    }
}

/// Bounds every body read through [`Json`] and [`OptionalJson`].
pub fn payload_config() -> PayloadConfig {
    PayloadConfig::new(MAX_BODY_BYTES)
}

pub fn json_config() -> JsonConfig {
    JsonConfig::default()
        .limit(MAX_BODY_BYTES)
        .error_handler(|e: JsonPayloadError, _| ApiError::bad_request("malformed_json", e.to_string()).into())
}

pub fn path_config() -> PathConfig {
    PathConfig::default().error_handler(|e: PathError, _| ApiError::not_found(&format!("resource ({e})")).into())
}

pub fn query_config() -> QueryConfig {
    QueryConfig::default().error_handler(|e: QueryPayloadError, _| {
        ApiError::new(actix_web::http::StatusCode::UNPROCESSABLE_ENTITY, "invalid_query", e.to_string()).into()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize, Debug)]
    #[allow(dead_code)]
    struct Body {
        name: String,
        inner: Inner,
    }

    #[derive(serde::Deserialize, Debug)]
    #[allow(dead_code)]
    struct Inner {
        count: u32,
    }

    #[test]
    fn errors_name_the_field() {
        let e = parse::<Body>(b"{\"name\": \"a\"").unwrap_err();
        assert_eq!(e.body.code, "malformed_json");
        let e = parse::<Body>(br#"{"name": "a", "inner": {"count": "x"}}"#).unwrap_err();
        assert_eq!(e.body.field.as_deref(), Some("inner.count"));
        let e = parse::<Body>(br#"{"inner": {"count": 1}}"#).unwrap_err();
        assert_eq!(e.body.field.as_deref(), Some("name"));
        let e = parse::<Body>(br#"{"name": "a", "inner": {}}"#).unwrap_err();
        assert_eq!(e.body.field.as_deref(), Some("inner.count"));
        let e = parse::<Body>(b"[1]").unwrap_err();
        assert_eq!(e.status.as_u16(), 422);
    }
}
