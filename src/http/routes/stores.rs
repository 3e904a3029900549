//! Stores: browse and register; the store tablet's actions on its orders.

use actix_web::{get, post, put, web, HttpResponse};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};
use utoipa_actix_web::service_config::ServiceConfig;

use crate::actors::{GetBoard, GetStore, StoreCmd};
use crate::domain::order::{Canceller, OrderCommand};
use crate::domain::store::{MenuItem, StoreCommand, StoreProfile};
use crate::domain::{Currency, GeoPoint, ItemId, Money, OrderId, StoreId, ZoneId};
use crate::http::caller::Caller;
use crate::http::error::ApiError;
use crate::http::extract::{Json, OptionalJson};
use crate::http::openapi::{ApiErrors, Point};
use crate::http::orders_access;
use crate::http::views::{BoardView, MenuView, OrderView, StoreList, StoreView};

use super::{id, Ctx};

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(list)
        .service(register)
        .service(get)
        .service(get_menu)
        .service(set_availability)
        .service(open)
        .service(close)
        .service(board)
        .service(accept)
        .service(reject)
        .service(ready)
        .service(cancel);
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct Near {
    /// With `lon`: only open stores that deliver there.
    #[param(minimum = -90.0, maximum = 90.0)]
    lat: Option<f64>,
    #[param(minimum = -180.0, maximum = 180.0)]
    lon: Option<f64>,
}

/// Open stores that deliver to `lat`,`lon`, nearest first; without a point, every store.
#[utoipa::path(tag = "stores", operation_id = "stores_list", params(Near), responses((status = 200, description = "Stores, nearest first", body = StoreList), ApiErrors))]
#[get("/stores")]
#[tracing::instrument(skip_all)]
async fn list(platform: Ctx, near: web::Query<Near>) -> Result<HttpResponse, ApiError> {
    let point = match (near.lat, near.lon) {
        (Some(lat), Some(lon)) => {
            Some(GeoPoint::new(lat, lon).map_err(|e| ApiError::invalid(GeoPoint::refused_field(lat), e.message))?)
        }
        (None, None) => None,
        (None, Some(_)) => return Err(ApiError::invalid("lat", "lat and lon go together")),
        (Some(_), None) => return Err(ApiError::invalid("lon", "lat and lon go together")),
    };
    let mut stores: Vec<StoreView> = platform
        .directory
        .iter()
        .filter(|s| point.as_ref().is_none_or(|p| s.open && s.delivers_to(p)))
        .map(|s| StoreView::of(&s, point.as_ref()))
        .collect();
    stores
        .sort_by(|a, b| a.distance_m.unwrap_or(0.0).total_cmp(&b.distance_m.unwrap_or(0.0)).then(a.name.cmp(&b.name)));
    Ok(HttpResponse::Ok().json(StoreList { stores }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct NewMenuItem {
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = "^[^\\x00-\\x1f\\x7f-\\x9f]*[^\\s\\u0085\\x00-\\x1f\\x7f-\\x9f][^\\x00-\\x1f\\x7f-\\x9f]*$"
    )]
    name: String,
    /// In minor units of the store's currency.
    #[serde(deserialize_with = "crate::http::extract::whole")]
    #[schema(minimum = 0)]
    price: i64,
    #[serde(default = "yes")]
    available: bool,
}

fn yes() -> bool {
    true
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct NewStore {
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = "^[^\\x00-\\x1f\\x7f-\\x9f]*[^\\s\\u0085\\x00-\\x1f\\x7f-\\x9f][^\\x00-\\x1f\\x7f-\\x9f]*$"
    )]
    name: String,
    #[serde(default)]
    #[schema(pattern = "^[a-z0-9_-]{1,64}$")]
    zone: Option<String>,
    #[schema(value_type = Point)]
    location: GeoPoint,
    #[serde(deserialize_with = "crate::http::extract::whole")]
    #[schema(minimum = 100, maximum = 50_000)]
    delivery_radius_m: u32,
    #[serde(default = "default_accept_secs", deserialize_with = "crate::http::extract::whole")]
    #[schema(minimum = 1, maximum = 3600)]
    accept_deadline_secs: u32,
    /// ISO 4217 code; every menu price is in it.
    #[schema(pattern = "^[A-Z]{3}$")]
    currency: String,
    #[schema(min_items = 1, max_items = 500)]
    menu: Vec<NewMenuItem>,
}

fn default_accept_secs() -> u32 {
    300
}

#[utoipa::path(tag = "stores", operation_id = "stores_register", request_body = NewStore, responses((status = 201, description = "Registered", body = StoreView), ApiErrors), security(("bearer" = [])))]
#[post("/stores")]
#[tracing::instrument(skip_all)]
async fn register(platform: Ctx, caller: Caller, body: Json<NewStore>) -> Result<HttpResponse, ApiError> {
    caller.require_operator()?;
    let body = body.0;
    let currency = Currency::parse(&body.currency).map_err(|e| ApiError::invalid("currency", e.message))?;
    let zone = match body.zone {
        Some(raw) => ZoneId::parse(&raw).map_err(|e| ApiError::invalid("zone", e.message))?,
        None => ZoneId::default(),
    };
    let menu = body
        .menu
        .into_iter()
        .enumerate()
        .map(|(i, item)| {
            let price = Money::new(item.price, currency)
                .map_err(|e| ApiError::invalid(&format!("menu[{i}].price"), e.message))?;
            Ok(MenuItem { id: ItemId::random(), name: item.name.trim().to_owned(), price, available: item.available })
        })
        .collect::<Result<Vec<_>, ApiError>>()?;
    let profile = StoreProfile {
        name: body.name.trim().to_owned(),
        zone,
        location: body.location,
        delivery_radius_m: body.delivery_radius_m,
        accept_deadline_secs: body.accept_deadline_secs,
        currency,
        menu,
    };
    // Validate before an actor exists, so a bad request leaves nothing behind.
    profile.validate().map_err(crate::actors::CommandError::from)?;
    let store_id = StoreId::random();
    let store = platform
        .start_store(store_id)
        .send(StoreCmd(StoreCommand::Register(profile)))
        .await
        .map_err(crate::actors::CommandError::from)??;
    Ok(HttpResponse::Created()
        .insert_header(("Location", format!("/v1/stores/{store_id}")))
        .json(StoreView::of(&store, None)))
}

async fn store_of(platform: &Ctx, raw: &str) -> Result<(StoreId, actix::Addr<crate::actors::StoreActor>), ApiError> {
    let store_id: StoreId = id(raw, "store")?;
    let addr = platform
        .find_store(store_id)
        .await
        .map_err(crate::actors::CommandError::from)?
        .ok_or_else(|| ApiError::not_found("store"))?;
    Ok((store_id, addr))
}

/// The store as its actor holds it now.
async fn current(platform: &Ctx, raw: &str) -> Result<crate::domain::store::Store, ApiError> {
    let (_, addr) = store_of(platform, raw).await?;
    addr.send(GetStore).await.map_err(crate::actors::CommandError::from)??.ok_or_else(|| ApiError::not_found("store"))
}

#[utoipa::path(tag = "stores", operation_id = "stores_get", params(("store" = uuid::Uuid, Path)), responses((status = 200, description = "The store", body = StoreView), ApiErrors))]
#[get("/stores/{store}")]
async fn get(platform: Ctx, path: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let store = current(&platform, &path).await?;
    Ok(HttpResponse::Ok().json(StoreView::of(&store, None)))
}

#[utoipa::path(tag = "stores", operation_id = "stores_menu", params(("store" = uuid::Uuid, Path)), responses((status = 200, description = "Its menu", body = MenuView), ApiErrors))]
#[get("/stores/{store}/menu")]
async fn get_menu(platform: Ctx, path: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let store = current(&platform, &path).await?;
    let items: Vec<MenuItem> = store.menu.into_values().collect();
    Ok(HttpResponse::Ok().json(MenuView { store_id: store.id, open: store.open, items }))
}

async fn run(platform: &Ctx, caller: Caller, raw: &str, command: StoreCommand) -> Result<HttpResponse, ApiError> {
    let (store_id, addr) = store_of(platform, raw).await?;
    caller.acts_for_store(store_id)?;
    let store = addr.send(StoreCmd(command)).await.map_err(crate::actors::CommandError::from)??;
    Ok(HttpResponse::Ok().json(StoreView::of(&store, None)))
}

#[utoipa::path(tag = "stores", operation_id = "stores_open", params(("store" = uuid::Uuid, Path)), responses((status = 200, description = "Done", body = StoreView), ApiErrors), security(("bearer" = [])))]
#[post("/stores/{store}/open")]
async fn open(platform: Ctx, caller: Caller, path: web::Path<String>) -> Result<HttpResponse, ApiError> {
    run(&platform, caller, &path, StoreCommand::Open).await
}

#[utoipa::path(tag = "stores", operation_id = "stores_close", params(("store" = uuid::Uuid, Path)), responses((status = 200, description = "Done", body = StoreView), ApiErrors), security(("bearer" = [])))]
#[post("/stores/{store}/close")]
async fn close(platform: Ctx, caller: Caller, path: web::Path<String>) -> Result<HttpResponse, ApiError> {
    run(&platform, caller, &path, StoreCommand::Close).await
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct Availability {
    available: bool,
}

#[utoipa::path(tag = "stores", operation_id = "stores_set_availability", params(("store" = uuid::Uuid, Path), ("item" = uuid::Uuid, Path)), request_body = Availability, responses((status = 200, description = "Done", body = StoreView), ApiErrors), security(("bearer" = [])))]
#[put("/stores/{store}/menu/{item}")]
async fn set_availability(
    platform: Ctx,
    caller: Caller,
    path: web::Path<(String, String)>,
    body: Json<Availability>,
) -> Result<HttpResponse, ApiError> {
    let (store, item) = path.into_inner();
    let item: ItemId = id(&item, "menu item")?;
    run(&platform, caller, &store, StoreCommand::SetAvailability { item, available: body.0.available }).await
}

#[utoipa::path(tag = "stores", operation_id = "stores_board", params(("store" = uuid::Uuid, Path)), responses((status = 200, description = "Open orders", body = BoardView), ApiErrors), security(("bearer" = [])))]
#[get("/stores/{store}/orders")]
async fn board(platform: Ctx, caller: Caller, path: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let (store_id, addr) = store_of(&platform, &path).await?;
    caller.acts_for_store(store_id)?;
    let orders = addr.send(GetBoard).await.map_err(crate::actors::CommandError::from)?;
    Ok(HttpResponse::Ok().json(BoardView { store_id, orders }))
}

async fn act(
    platform: &Ctx,
    caller: Caller,
    path: (String, String),
    command: OrderCommand,
) -> Result<HttpResponse, ApiError> {
    let (store_id, _) = store_of(platform, &path.0).await?;
    caller.acts_for_store(store_id)?;
    let order_id: OrderId = id(&path.1, "order")?;
    let order = orders_access::store_command(platform, store_id, order_id, command).await?;
    Ok(HttpResponse::Ok().json(OrderView::from(&order)))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct Accept {
    #[serde(deserialize_with = "crate::http::extract::whole")]
    #[schema(minimum = 1, maximum = 180)]
    prep_minutes: u32,
}

#[utoipa::path(tag = "stores", operation_id = "stores_accept", params(("store" = uuid::Uuid, Path), ("order" = uuid::Uuid, Path)), request_body = Accept, responses((status = 200, description = "Done", body = OrderView), ApiErrors), security(("bearer" = [])))]
#[post("/stores/{store}/orders/{order}/accept")]
async fn accept(
    platform: Ctx,
    caller: Caller,
    path: web::Path<(String, String)>,
    body: Json<Accept>,
) -> Result<HttpResponse, ApiError> {
    act(&platform, caller, path.into_inner(), OrderCommand::Accept { prep_minutes: body.0.prep_minutes }).await
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Reason {
    #[schema(pattern = "[^\\s\\u0085]")]
    reason: String,
}

#[utoipa::path(tag = "stores", operation_id = "stores_reject", params(("store" = uuid::Uuid, Path), ("order" = uuid::Uuid, Path)), request_body = Reason, responses((status = 200, description = "Done", body = OrderView), ApiErrors), security(("bearer" = [])))]
#[post("/stores/{store}/orders/{order}/reject")]
async fn reject(
    platform: Ctx,
    caller: Caller,
    path: web::Path<(String, String)>,
    body: Json<Reason>,
) -> Result<HttpResponse, ApiError> {
    act(&platform, caller, path.into_inner(), OrderCommand::Reject { reason: body.0.reason }).await
}

#[utoipa::path(tag = "stores", operation_id = "stores_ready", params(("store" = uuid::Uuid, Path), ("order" = uuid::Uuid, Path)), responses((status = 200, description = "Done", body = OrderView), ApiErrors), security(("bearer" = [])))]
#[post("/stores/{store}/orders/{order}/ready")]
async fn ready(
    platform: Ctx,
    caller: Caller,
    path: web::Path<(String, String)>,
    _body: OptionalJson<serde_json::Value>,
) -> Result<HttpResponse, ApiError> {
    act(&platform, caller, path.into_inner(), OrderCommand::MarkReady).await
}

#[utoipa::path(tag = "stores", operation_id = "stores_cancel", params(("store" = uuid::Uuid, Path), ("order" = uuid::Uuid, Path)), request_body = Reason, responses((status = 200, description = "Done", body = OrderView), ApiErrors), security(("bearer" = [])))]
#[post("/stores/{store}/orders/{order}/cancel")]
async fn cancel(
    platform: Ctx,
    caller: Caller,
    path: web::Path<(String, String)>,
    body: Json<Reason>,
) -> Result<HttpResponse, ApiError> {
    act(&platform, caller, path.into_inner(), OrderCommand::Cancel(Canceller::Store { reason: body.0.reason })).await
}
