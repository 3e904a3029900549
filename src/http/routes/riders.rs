//! Riders: on and off duty, location, offers and jobs.

use actix_web::{get, post, put, web, HttpResponse};
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;

use crate::actors::{CommandError, GetRider, Ping, RiderCmd, RiderView};
use crate::domain::rider::RiderCommand;
use crate::domain::{GeoPoint, OrderId, RiderId, ZoneId};
use crate::http::caller::Caller;
use crate::http::error::ApiError;
use crate::http::extract::{Json, OptionalJson};
use crate::http::openapi::{ApiErrors, Point};
use crate::http::orders_access::{self, RiderAction};
use crate::http::schemas::Rider;
use crate::http::views::OrderView;

use super::{id, Ctx};

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(register)
        .service(get)
        .service(online)
        .service(offline)
        .service(location)
        .service(accept_trip)
        .service(decline_trip)
        .service(accept_offer)
        .service(decline_offer)
        .service(pickup)
        .service(deliver);
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct NewRider {
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = "^[^\\x00-\\x1f\\x7f-\\x9f]*[^\\s\\u0085\\x00-\\x1f\\x7f-\\x9f][^\\x00-\\x1f\\x7f-\\x9f]*$"
    )]
    name: String,
    #[serde(default)]
    #[schema(pattern = "^[a-z0-9_-]{1,64}$")]
    zone: Option<String>,
}

#[utoipa::path(tag = "riders", operation_id = "riders_register", request_body = NewRider, responses((status = 201, description = "Registered", body = Rider), ApiErrors), security(("bearer" = [])))]
#[post("/riders")]
#[tracing::instrument(skip_all)]
async fn register(platform: Ctx, caller: Caller, body: Json<NewRider>) -> Result<HttpResponse, ApiError> {
    caller.require_operator()?;
    let body = body.0;
    let zone = match body.zone {
        Some(raw) => ZoneId::parse(&raw).map_err(|e| ApiError::invalid("zone", e.message))?,
        None => ZoneId::default(),
    };
    let name = body.name.trim().to_owned();
    if name.is_empty() || name.chars().count() > 200 || name.chars().any(char::is_control) {
        return Err(ApiError::invalid("name", "name must be 1-200 characters, without control characters"));
    }
    let rider_id = RiderId::random();
    let view = platform
        .start_rider(rider_id)
        .send(RiderCmd(RiderCommand::Register { name, zone }))
        .await
        .map_err(CommandError::from)??;
    Ok(HttpResponse::Created().insert_header(("Location", format!("/v1/riders/{rider_id}"))).json(view))
}

async fn rider_of(platform: &Ctx, raw: &str) -> Result<(RiderId, actix::Addr<crate::actors::RiderActor>), ApiError> {
    let rider_id: RiderId = id(raw, "rider")?;
    let addr =
        platform.find_rider(rider_id).await.map_err(CommandError::from)?.ok_or_else(|| ApiError::not_found("rider"))?;
    Ok((rider_id, addr))
}

#[utoipa::path(tag = "riders", operation_id = "riders_get", params(("rider" = uuid::Uuid, Path)), responses((status = 200, description = "The rider", body = Rider), ApiErrors), security(("bearer" = [])))]
#[get("/riders/{rider}")]
async fn get(platform: Ctx, caller: Caller, path: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let (rider_id, addr) = rider_of(&platform, &path).await?;
    caller.acts_as_rider(rider_id, true)?;
    let view: RiderView =
        addr.send(GetRider).await.map_err(CommandError::from)??.ok_or_else(|| ApiError::not_found("rider"))?;
    Ok(HttpResponse::Ok().json(view))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct Online {
    #[schema(value_type = Point)]
    position: GeoPoint,
    /// When the rider's shift ends (in the future, at most 24 hours away): no trip it could
    /// not finish by then is offered to it.
    #[serde(default)]
    shift_ends_at: Option<chrono::DateTime<chrono::Utc>>,
}

#[utoipa::path(tag = "riders", operation_id = "riders_online", params(("rider" = uuid::Uuid, Path)), request_body = Online, responses((status = 200, description = "Done", body = Rider), ApiErrors), security(("bearer" = [])))]
#[post("/riders/{rider}/online")]
async fn online(
    platform: Ctx,
    caller: Caller,
    path: web::Path<String>,
    body: Json<Online>,
) -> Result<HttpResponse, ApiError> {
    let (rider_id, addr) = rider_of(&platform, &path).await?;
    caller.acts_as_rider(rider_id, true)?;
    let view = addr
        .send(RiderCmd(RiderCommand::GoOnline { position: body.0.position, shift_ends_at: body.0.shift_ends_at }))
        .await
        .map_err(CommandError::from)??;
    Ok(HttpResponse::Ok().json(view))
}

#[utoipa::path(tag = "riders", operation_id = "riders_offline", params(("rider" = uuid::Uuid, Path)), responses((status = 200, description = "Done", body = Rider), ApiErrors), security(("bearer" = [])))]
#[post("/riders/{rider}/offline")]
async fn offline(platform: Ctx, caller: Caller, path: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let (rider_id, addr) = rider_of(&platform, &path).await?;
    caller.acts_as_rider(rider_id, true)?;
    let view = addr.send(RiderCmd(RiderCommand::GoOffline)).await.map_err(CommandError::from)??;
    Ok(HttpResponse::Ok().json(view))
}

#[utoipa::path(tag = "riders", operation_id = "riders_location", params(("rider" = uuid::Uuid, Path)), request_body = Point, responses((status = 200, description = "Done", body = Rider), ApiErrors), security(("bearer" = [])))]
#[put("/riders/{rider}/location")]
async fn location(
    platform: Ctx,
    caller: Caller,
    path: web::Path<String>,
    body: Json<GeoPoint>,
) -> Result<HttpResponse, ApiError> {
    let (rider_id, addr) = rider_of(&platform, &path).await?;
    caller.acts_as_rider(rider_id, false)?;
    let view = addr.send(Ping { position: body.0 }).await.map_err(CommandError::from)??;
    Ok(HttpResponse::Ok().json(view))
}

/// A rider's action on an order of theirs (see [`orders_access::rider_action`]).
async fn job(
    platform: &Ctx,
    caller: Caller,
    path: (String, String),
    action: RiderAction,
) -> Result<HttpResponse, ApiError> {
    let (rider_id, _) = rider_of(platform, &path.0).await?;
    caller.acts_as_rider(rider_id, false)?;
    let order_id: OrderId = id(&path.1, "order")?;
    let order = orders_access::rider_action(platform, rider_id, order_id, action).await?;
    Ok(HttpResponse::Ok().json(OrderView::from(&order)))
}

async fn answer(platform: &Ctx, caller: Caller, rider: &str, accept: bool) -> Result<HttpResponse, ApiError> {
    let (rider_id, _) = rider_of(platform, rider).await?;
    caller.acts_as_rider(rider_id, false)?;
    let view = orders_access::answer_offer(platform, rider_id, accept).await?;
    Ok(HttpResponse::Ok().json(view))
}

/// Take the whole offer: every order offered now (one trip, or orders joining the trip
/// under way). The reply is the rider with the route it now rides.
#[utoipa::path(tag = "riders", operation_id = "riders_accept_trip", params(("rider" = uuid::Uuid, Path)), responses((status = 200, description = "The rider and its trip", body = Rider), ApiErrors), security(("bearer" = [])))]
#[post("/riders/{rider}/offer/accept")]
async fn accept_trip(platform: Ctx, caller: Caller, path: web::Path<String>) -> Result<HttpResponse, ApiError> {
    answer(&platform, caller, &path, true).await
}

/// Decline the whole offer: no order of it is offered to this rider again.
#[utoipa::path(tag = "riders", operation_id = "riders_decline_trip", params(("rider" = uuid::Uuid, Path)), responses((status = 200, description = "The rider and its trip", body = Rider), ApiErrors), security(("bearer" = [])))]
#[post("/riders/{rider}/offer/decline")]
async fn decline_trip(platform: Ctx, caller: Caller, path: web::Path<String>) -> Result<HttpResponse, ApiError> {
    answer(&platform, caller, &path, false).await
}

/// Answer for one order of an offer only.
#[utoipa::path(tag = "riders", operation_id = "riders_accept_offer", params(("rider" = uuid::Uuid, Path), ("order" = uuid::Uuid, Path)), responses((status = 200, description = "Done", body = OrderView), ApiErrors), security(("bearer" = [])))]
#[post("/riders/{rider}/offers/{order}/accept")]
async fn accept_offer(
    platform: Ctx,
    caller: Caller,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    job(&platform, caller, path.into_inner(), RiderAction::AcceptOffer).await
}

/// Decline one order of an offer only.
#[utoipa::path(tag = "riders", operation_id = "riders_decline_offer", params(("rider" = uuid::Uuid, Path), ("order" = uuid::Uuid, Path)), responses((status = 200, description = "Done", body = OrderView), ApiErrors), security(("bearer" = [])))]
#[post("/riders/{rider}/offers/{order}/decline")]
async fn decline_offer(
    platform: Ctx,
    caller: Caller,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    job(&platform, caller, path.into_inner(), RiderAction::DeclineOffer).await
}

/// Picked up at the store: the rider's last ping must be within `orders.pickup_geofence_m`
/// of it.
#[utoipa::path(tag = "riders", operation_id = "riders_pickup", params(("rider" = uuid::Uuid, Path), ("order" = uuid::Uuid, Path)), responses((status = 200, description = "Done", body = OrderView), ApiErrors), security(("bearer" = [])))]
#[post("/riders/{rider}/jobs/{order}/pickup")]
async fn pickup(platform: Ctx, caller: Caller, path: web::Path<(String, String)>) -> Result<HttpResponse, ApiError> {
    job(&platform, caller, path.into_inner(), RiderAction::PickUp).await
}

#[derive(Deserialize, Default, ToSchema)]
#[serde(deny_unknown_fields)]
struct Deliver {
    /// Where the rider is; defaults to their last ping. It must agree with that ping (no
    /// farther than `orders.max_rider_speed_kmh` allows since it).
    #[serde(default)]
    #[schema(value_type = Option<Point>)]
    position: Option<GeoPoint>,
}

/// Delivered at the door: judged by the rider's own track (see `position`).
#[utoipa::path(tag = "riders", operation_id = "riders_deliver", params(("rider" = uuid::Uuid, Path), ("order" = uuid::Uuid, Path)), request_body = Deliver, responses((status = 200, description = "Done", body = OrderView), ApiErrors), security(("bearer" = [])))]
#[post("/riders/{rider}/jobs/{order}/deliver")]
async fn deliver(
    platform: Ctx,
    caller: Caller,
    path: web::Path<(String, String)>,
    body: OptionalJson<Deliver>,
) -> Result<HttpResponse, ApiError> {
    job(&platform, caller, path.into_inner(), RiderAction::Deliver { position: body.0.position }).await
}
