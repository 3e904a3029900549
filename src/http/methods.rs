//! Which methods each path takes, read from the OpenAPI document (every route is in it), so
//! that a request with the wrong method on a real path is answered 405 with an `Allow`
//! header, and only a path that does not exist gets a 404.

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse, ResponseError};

use super::error::ApiError;

/// The documented paths, as segments (`None` for a `{parameter}`), with their methods.
pub struct Routes(Vec<(Vec<Option<String>>, Vec<&'static str>)>);

impl Routes {
    pub fn of(api: &utoipa::openapi::OpenApi) -> Routes {
        let routes = api
            .paths
            .paths
            .iter()
            .map(|(path, item)| {
                let segments =
                    segments(path).map(|s| (!(s.starts_with('{') && s.ends_with('}'))).then(|| s.to_owned())).collect();
                let methods = [
                    (item.get.is_some(), "GET"),
                    (item.put.is_some(), "PUT"),
                    (item.post.is_some(), "POST"),
                    (item.delete.is_some(), "DELETE"),
                    (item.patch.is_some(), "PATCH"),
                ]
                .into_iter()
                .filter_map(|(documented, name)| documented.then_some(name))
                .collect();
                (segments, methods)
            })
            .collect();
        Routes(routes)
    }

    /// The methods `path` takes; empty when no documented path matches it.
    pub fn allowed(&self, path: &str) -> Vec<&'static str> {
        let asked: Vec<&str> = segments(path).collect();
        let mut methods: Vec<&'static str> = self
            .0
            .iter()
            .filter(|(pattern, _)| {
                pattern.len() == asked.len()
                    && pattern.iter().zip(&asked).all(|(p, a)| p.as_deref().is_none_or(|p| p == *a))
            })
            .flat_map(|(_, methods)| methods.iter().copied())
            .collect();
        methods.sort_unstable();
        methods.dedup();
        methods
    }
}

fn segments(path: &str) -> impl Iterator<Item = &str> {
    path.split('/').filter(|s| !s.is_empty())
}

/// What a request no route took gets: 405 naming the methods the path takes, else 404.
pub async fn unrouted(req: HttpRequest, routes: Option<web::Data<Routes>>) -> HttpResponse {
    let allowed = routes.map(|r| r.allowed(req.path())).unwrap_or_default();
    if allowed.is_empty() {
        return ApiError::not_found("route").error_response();
    }
    let message = format!("{} takes {}", req.path(), allowed.join(", "));
    let mut response = ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed", message).error_response();
    if let Ok(value) = header::HeaderValue::from_str(&allowed.join(", ")) {
        response.headers_mut().insert(header::ALLOW, value);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use utoipa::openapi::path::HttpMethod;
    use utoipa::openapi::path::{OperationBuilder, PathItem, PathsBuilder};
    use utoipa::openapi::OpenApiBuilder;

    #[test]
    fn a_path_takes_the_methods_documented_for_it() {
        let paths = PathsBuilder::new()
            .path("/v1/stores", PathItem::new(HttpMethod::Get, OperationBuilder::new()))
            .path("/v1/stores", PathItem::new(HttpMethod::Post, OperationBuilder::new()))
            .path("/v1/stores/{store}/open", PathItem::new(HttpMethod::Post, OperationBuilder::new()))
            .build();
        let routes = Routes::of(&OpenApiBuilder::new().paths(paths).build());
        assert_eq!(routes.allowed("/v1/stores"), ["GET", "POST"]);
        assert_eq!(routes.allowed("/v1/stores/abc/open"), ["POST"]);
        assert!(routes.allowed("/v1/stores/abc/shut").is_empty());
        assert!(routes.allowed("/v1/stores/abc").is_empty());
    }
}
