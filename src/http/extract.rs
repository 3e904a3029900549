//! Extractors that turn a bad request into a 4xx naming the field, in the one error shape.

use actix_web::dev::Payload;
use actix_web::error::{JsonPayloadError, PathError, QueryPayloadError};
use actix_web::web::{Bytes, JsonConfig, PathConfig, PayloadConfig, QueryConfig};
use actix_web::{FromRequest, HttpRequest};
use futures_util::future::LocalBoxFuture;
use serde::de::DeserializeOwned;
use serde::Deserialize;

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

/// How long a client has to send a whole request body once its headers are in. A client
/// that sends part of a body and goes silent would otherwise hold its request (and the
/// memory of what it sent) for as long as the connection stays up.
#[derive(Clone, Copy, Debug)]
pub struct BodyTimeout(pub std::time::Duration);

/// The raw body, within the configured size limit and time.
fn read_body(req: &HttpRequest, payload: &mut Payload) -> impl std::future::Future<Output = Result<Bytes, ApiError>> {
    let bytes = Bytes::from_request(req, payload);
    let limit = req.app_data::<actix_web::web::Data<BodyTimeout>>().map(|t| t.0);
    async move {
        let read = match limit {
            Some(limit) => tokio::time::timeout(limit, bytes).await.map_err(|_| {
                ApiError::new(
                    actix_web::http::StatusCode::REQUEST_TIMEOUT,
                    "body_timeout",
                    format!("the request body did not arrive within {} s", limit.as_secs()),
                )
            })?,
            None => bytes.await,
        };
        read.map_err(|e| {
            let status = e.as_response_error().status_code();
            let code =
                if status == actix_web::http::StatusCode::PAYLOAD_TOO_LARGE { "body_too_large" } else { "bad_body" };
            ApiError::new(status, code, format!("{e} (limit {MAX_BODY_BYTES} bytes)"))
        })
    }
}

pub fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    // Every body of this API is an object; serde would also take a struct as an array of
    // its fields in order (`[""]`), a form nobody documents or means to send.
    if bytes.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'[') {
        return Err(ApiError::invalid("body", "the body must be a JSON object"));
    }
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let value: T = serde_path_to_error::deserialize(&mut deserializer).map_err(|error| {
        let path = error.path().to_string();
        classify(bytes, path, error.into_inner())
    })?;
    // Trailing bytes after the value are malformed JSON too.
    deserializer.end().map_err(|e| classify(bytes, ".".into(), e))?;
    Ok(value)
}

fn classify(bytes: &[u8], path: String, inner: serde_json::Error) -> ApiError {
    use serde_json::error::Category;
    // serde_json reports some shape errors as syntax (an array with an element too many is
    // a "trailing comma"), so a syntax error is only believed when the text is not JSON.
    let malformed = match inner.classify() {
        Category::Syntax => serde_json::from_slice::<serde::de::IgnoredAny>(bytes).is_err(),
        Category::Eof | Category::Io => true,
        Category::Data => false,
    };
    if malformed {
        return ApiError::bad_request("malformed_json", format!("the body is not valid JSON: {inner}"));
    }
    let message = strip_position(&inner.to_string());
    ApiError::invalid(&blamed_field(&path, &message), message)
}

/// The field a data error is about, given the path serde was at (`.` for the top level):
/// that path, and for a missing field the field's own name after it, since serde reports
/// that from the object that should hold it. `body` when it is the whole body, or when the
/// body is an array where an object belongs (its elements are no field of the API's).
pub(crate) fn blamed_field(path: &str, message: &str) -> String {
    // An empty path is a field with an empty name: no name to give it.
    if path.is_empty() || path.starts_with('[') {
        return "body".to_owned();
    }
    match (path, missing_field(message)) {
        (".", Some(name)) => name.to_owned(),
        (path, Some(name)) => format!("{path}.{name}"),
        (".", None) => "body".to_owned(),
        (path, None) => path.to_owned(),
    }
}

/// The name in serde's "missing field `name`" message.
fn missing_field(message: &str) -> Option<&str> {
    message.strip_prefix("missing field `")?.split('`').next()
}

fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_owned(),
        None => message.to_owned(),
    }
}

/// A whole number, also when written with a zero fraction (`3.0`, `1e2`): JSON does not tell
/// the two apart, and neither does the document's `integer`. Anything else is refused with
/// serde's usual message, so the field is still named.
pub fn whole<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: TryFrom<i64> + TryFrom<u64>,
{
    use serde::de::{Error, Unexpected};
    let number = serde_json::Number::deserialize(deserializer)?;
    let expected = &"a whole number in range";
    if let Some(n) = number.as_u64() {
        return T::try_from(n).map_err(|_| D::Error::invalid_value(Unexpected::Unsigned(n), expected));
    }
    if let Some(n) = number.as_i64() {
        return T::try_from(n).map_err(|_| D::Error::invalid_value(Unexpected::Signed(n), expected));
    }
    let f = number.as_f64().unwrap_or(f64::NAN);
    // Beyond 2^53 a float no longer holds every whole number exactly.
    if f.fract() == 0.0 && f.abs() <= 9_007_199_254_740_992.0 {
        return T::try_from(f as i64).map_err(|_| D::Error::invalid_value(Unexpected::Float(f), expected));
    }
    Err(D::Error::invalid_value(Unexpected::Float(f), expected))
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
        assert_eq!(e.body.field.as_deref(), Some("body"));
        // Valid JSON of the wrong shape is never "malformed", even where serde_json calls
        // the extra element a syntax error.
        let e = parse::<Body>(br#"{"name": "a", "inner": [1, 2]}"#).unwrap_err();
        assert_eq!((e.status.as_u16(), e.body.field.as_deref()), (422, Some("inner")));
        assert_eq!(parse::<Inner>(br#"{"count": 3.0}"#).unwrap_err().body.field.as_deref(), Some("count"));
    }
}
