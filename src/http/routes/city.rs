//! The operator's live city: stores, riders with where they are and what they do, open and
//! recently finished orders, and today's figures. The dashboard polls it about once a second.

use actix::Addr;
use actix_web::{get, web, HttpResponse};
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa_actix_web::service_config::ServiceConfig;

use crate::actors::city_board::{CityBoard, GetCity};
use crate::actors::{CommandError, GetRider, RiderView};
use crate::dispatch::duties;
use crate::domain::order::{Courier, Phase};
use crate::domain::rider::{Duty, OfflineReason};
use crate::domain::{GeoPoint, OrderId, RiderId, StoreId};
use crate::http::caller::Caller;
use crate::http::error::ApiError;
use crate::http::openapi::ApiErrors;
use crate::http::views::OrderView;

use super::Ctx;

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(city);
}

/// What a rider is doing, as the map colours it.
#[derive(Serialize, Clone, Copy, PartialEq, Eq, Debug)]
#[serde(rename_all = "snake_case")]
pub enum RiderState {
    Offline,
    Idle,
    Offered,
    ToStore,
    ToCustomer,
}

impl RiderState {
    fn of(view: &RiderView) -> RiderState {
        match (&view.duty, view.online) {
            (Duty::Offered { .. }, _) => RiderState::Offered,
            (Duty::EnRouteToStore { .. }, _) => RiderState::ToStore,
            (Duty::Delivering { .. }, _) => RiderState::ToCustomer,
            (Duty::Idle, true) => RiderState::Idle,
            (Duty::Idle, false) => RiderState::Offline,
        }
    }
}

#[derive(Serialize)]
struct CityStore {
    id: StoreId,
    name: String,
    location: GeoPoint,
    open: bool,
}

#[derive(Serialize)]
struct CityRider {
    id: RiderId,
    name: String,
    state: RiderState,
    position: Option<GeoPoint>,
    position_at: Option<DateTime<Utc>>,
    order_id: Option<OrderId>,
    /// Why the platform took the rider off duty, if it did.
    #[serde(skip_serializing_if = "Option::is_none")]
    offline_reason: Option<OfflineReason>,
}

#[derive(Serialize)]
struct Kpis {
    orders_today: u64,
    delivered_today: u64,
    cancelled_today: u64,
    rejected_today: u64,
    open_orders: usize,
    /// Open orders the kitchen has accepted that still have no rider.
    waiting_for_rider: usize,
    /// Open orders whose kitchen is well past the time it promised.
    kitchens_late: usize,
    mean_click_to_door_secs: Option<f64>,
    riders_idle: usize,
    riders_busy: usize,
    riders_offline: usize,
    /// Riders the platform set offline because their offers went unanswered.
    riders_unanswering: usize,
}

#[derive(Serialize)]
struct City {
    at: DateTime<Utc>,
    stores: Vec<CityStore>,
    riders: Vec<CityRider>,
    /// Open orders, oldest first.
    open_orders: Vec<OrderView>,
    /// The latest finished orders, newest first.
    finished_orders: Vec<OrderView>,
    kpis: Kpis,
}

/// The live city for the operator dashboard.
#[utoipa::path(tag = "ops", operation_id = "ops_city", responses((status = 200, description = "Stores, riders, orders and today's figures"), ApiErrors), security(("bearer" = [])))]
#[get("/ops/city")]
#[tracing::instrument(skip_all)]
async fn city(platform: Ctx, caller: Caller, board: web::Data<Addr<CityBoard>>) -> Result<HttpResponse, ApiError> {
    caller.require_operator()?;
    let snapshot = board.send(GetCity).await.map_err(CommandError::from)?;
    let views = futures_util::future::join_all(platform.riders().into_iter().map(|addr| addr.send(GetRider))).await;
    let mut riders: Vec<CityRider> = views
        .into_iter()
        .filter_map(|reply| reply.ok()?.ok()?)
        .map(|view| CityRider {
            id: view.id,
            state: RiderState::of(&view),
            order_id: view.duty.order(),
            position: view.position,
            position_at: view.position_at,
            offline_reason: view.offline_reason,
            name: view.name,
        })
        .collect();
    riders.sort_by(|a, b| a.name.cmp(&b.name).then(a.id.cmp(&b.id)));
    let mut stores: Vec<CityStore> = platform
        .directory
        .iter()
        .map(|s| CityStore { id: s.id, name: s.name.clone(), location: s.location, open: s.open })
        .collect();
    stores.sort_by(|a, b| a.name.cmp(&b.name).then(a.id.cmp(&b.id)));

    let riders_in = |state: RiderState| riders.iter().filter(|r| r.state == state).count();
    let open_orders: Vec<OrderView> = snapshot.open.iter().map(|o| OrderView::from(o.as_ref())).collect();
    let kpis = Kpis {
        orders_today: snapshot.today.placed,
        delivered_today: snapshot.today.delivered,
        cancelled_today: snapshot.today.cancelled,
        rejected_today: snapshot.today.rejected,
        open_orders: open_orders.len(),
        // Searching since its dispatch started: one still cooking, not yet due a rider,
        // is not waiting for one.
        waiting_for_rider: snapshot
            .open
            .iter()
            .filter(|o| matches!(o.phase, Phase::Active { courier: Courier::Searching { .. }, .. }))
            .filter(|o| duties::dispatch_starts(o, &platform.settings.dispatch).is_some_and(|at| at <= Utc::now()))
            .count(),
        kitchens_late: snapshot.kitchens_late(),
        mean_click_to_door_secs: snapshot.today.mean_click_to_door_secs(),
        riders_idle: riders_in(RiderState::Idle),
        riders_offline: riders_in(RiderState::Offline),
        riders_unanswering: riders.iter().filter(|r| r.offline_reason == Some(OfflineReason::UnansweredOffers)).count(),
        riders_busy: riders.len() - riders_in(RiderState::Idle) - riders_in(RiderState::Offline),
    };
    Ok(HttpResponse::Ok().json(City {
        at: Utc::now(),
        stores,
        riders,
        open_orders,
        finished_orders: snapshot.finished.iter().map(|o| OrderView::from(o.as_ref())).collect(),
        kpis,
    }))
}
