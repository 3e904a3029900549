//! The web pages served by the binary itself: the operator dashboard at `/`, the customer's
//! tracking page at `/track/{order}`, the store tablet at `/store` and the rider app at
//! `/rider`. They are static files compiled in (no CDN, no web fonts, no tile server) that
//! log in and then use the same REST and websocket API as the apps, so they need no routes of
//! their own beyond these.

use actix_web::http::header::{CacheControl, CacheDirective, ContentType};
use actix_web::{web, HttpResponse};

use super::routes::Ctx;
use super::ApiError;

/// A file compiled into the binary.
struct Asset {
    name: &'static str,
    content_type: &'static str,
    body: &'static str,
}

const ASSETS: &[Asset] = &[
    Asset {
        name: "baedal.css",
        content_type: "text/css; charset=utf-8",
        body: include_str!("../../assets/baedal.css"),
    },
    Asset {
        name: "baedal.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_str!("../../assets/baedal.js"),
    },
    Asset {
        name: "dashboard.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_str!("../../assets/dashboard.js"),
    },
    Asset {
        name: "rider.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_str!("../../assets/rider.js"),
    },
    Asset {
        name: "store.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_str!("../../assets/store.js"),
    },
    Asset {
        name: "track.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_str!("../../assets/track.js"),
    },
];

const DASHBOARD: &str = include_str!("../../assets/dashboard.html");
const RIDER: &str = include_str!("../../assets/rider.html");
const STORE: &str = include_str!("../../assets/store.html");
const TRACK: &str = include_str!("../../assets/track.html");

/// Registered outside the API scope: these are pages, not API routes, and are not in the
/// OpenAPI document. Each page checks its caller through the API once logged in.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/", web::get().to(dashboard))
        .route("/rider", web::get().to(rider))
        .route("/store", web::get().to(store))
        .route("/track/{order}", web::get().to(track))
        .route("/assets/{name}", web::get().to(asset));
}

/// A page, told whether the demo city runs (then its login form offers the demo account).
fn page(platform: &Ctx, html: &'static str) -> HttpResponse {
    let demo = if platform.settings.demo.enabled { "true" } else { "false" };
    HttpResponse::Ok()
        .insert_header(ContentType::html())
        .insert_header(CacheControl(vec![CacheDirective::NoCache]))
        .body(html.replace("{{demo}}", demo))
}

async fn dashboard(platform: Ctx) -> HttpResponse {
    page(&platform, DASHBOARD)
}

async fn rider(platform: Ctx) -> HttpResponse {
    page(&platform, RIDER)
}

async fn store(platform: Ctx) -> HttpResponse {
    page(&platform, STORE)
}

async fn track(platform: Ctx) -> HttpResponse {
    page(&platform, TRACK)
}

async fn asset(name: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let asset = ASSETS.iter().find(|asset| asset.name == name.as_str()).ok_or_else(|| ApiError::not_found("asset"))?;
    Ok(HttpResponse::Ok()
        .insert_header(("Content-Type", asset.content_type))
        .insert_header(CacheControl(vec![CacheDirective::NoCache]))
        .body(asset.body))
}
