//! Reaching an order whether or not its actor is live: a finished order's actor has retired,
//! but the order is still there in the event store.

use std::sync::Arc;

use chrono::Utc;

use crate::actors::{Execute, GetOrderVersioned, Platform};
use crate::actors::{GetOffer, GetRider, RiderView};
use crate::domain::order::{Order, OrderCommand};
use crate::domain::position::{TrackError, TrackRules};
use crate::domain::{GeoPoint, OrderId, RiderId, StoreId};
use crate::persistence::Journal;

use super::error::ApiError;
use crate::actors::CommandError;

/// The order as it stands, from its actor if live, else from storage (see
/// [`load_versioned`]).
pub async fn load(platform: &Arc<Platform>, id: OrderId) -> Result<Order, ApiError> {
    let (order, _) = load_versioned(platform, id).await?.ok_or_else(|| ApiError::not_found("order"))?;
    Ok(order)
}

/// The order with its stream version, from its actor if live, else from storage. A stored
/// order that is not settled but has no live actor (one retired after a write that failed,
/// say) gets its actor back, so that its saga goes on.
pub async fn load_versioned(platform: &Arc<Platform>, id: OrderId) -> Result<Option<(Order, i64)>, ApiError> {
    if let Some(addr) = platform.order(id) {
        if let Ok(reply) = addr.send(GetOrderVersioned).await {
            if let Some(versioned) = reply? {
                return Ok(Some(versioned));
            }
        }
    }
    let loaded = Journal::<Order>::load(platform.storage.events.as_ref(), id).await.map_err(CommandError::from)?;
    let version = loaded.journal.version();
    let Some(order) = loaded.state else { return Ok(None) };
    if !order.is_settled() && platform.order(id).is_none() {
        platform.start_order(id);
    }
    Ok(Some((order, version)))
}

pub async fn stored(platform: &Platform, id: OrderId) -> Result<Option<Order>, ApiError> {
    let loaded = Journal::<Order>::load(platform.storage.events.as_ref(), id).await.map_err(CommandError::from)?;
    Ok(loaded.state)
}

/// Run a command against an order. A settled order is answered from storage (its actor
/// has retired); anything else goes to its actor, started if needed.
pub async fn execute(platform: &Arc<Platform>, id: OrderId, command: OrderCommand) -> Result<Order, ApiError> {
    if let Some(addr) = platform.order(id) {
        if let Ok(reply) = addr.send(Execute::new(command.clone())).await {
            return Ok(reply?);
        }
        // The actor retired between lookup and send: fall through to storage.
    }
    let order = stored(platform, id).await?.ok_or_else(|| ApiError::not_found("order"))?;
    if order.is_settled() {
        let events = Order::decide(Some(&order), command, Utc::now()).map_err(CommandError::from)?;
        if events.is_empty() {
            return Ok(order);
        }
        return Err(CommandError::Internal(format!("settled order {id} accepted a command")).into());
    }
    Ok(platform.start_order(id).send(Execute::new(command)).await.map_err(CommandError::from)??)
}

/// A store's command on one of its own orders; another store's order is not found.
pub async fn store_command(
    platform: &Arc<Platform>,
    store: StoreId,
    order: OrderId,
    command: OrderCommand,
) -> Result<Order, ApiError> {
    if load(platform, order).await?.terms.store_id != store {
        return Err(ApiError::not_found("order"));
    }
    execute(platform, order, command).await
}

/// What a rider does with an order offered to it or held by it.
#[derive(Clone, Copy, Debug)]
pub enum RiderAction {
    AcceptOffer,
    DeclineOffer,
    PickUp,
    /// At the door; `position` is where the rider says it is (else its last ping).
    Deliver {
        position: Option<GeoPoint>,
    },
}

/// A rider's action on an order, for REST and the rider socket alike. An order that is not
/// offered to or held by this rider is not found, whatever state it is in, so a rider learns
/// nothing about other riders' orders. Where the rider is comes from the server's own track
/// (see [`TrackRules`]): a pickup needs the rider near the store, a delivery near the door.
pub async fn rider_action(
    platform: &Arc<Platform>,
    rider: RiderId,
    order_id: OrderId,
    action: RiderAction,
) -> Result<Order, ApiError> {
    let order = load(platform, order_id).await?;
    if order.rider() != Some(rider) {
        return Err(ApiError::not_found("order"));
    }
    let settings = &platform.settings.orders;
    let command = match action {
        RiderAction::AcceptOffer => OrderCommand::AcceptOffer { rider },
        RiderAction::DeclineOffer => OrderCommand::DeclineOffer { rider },
        RiderAction::PickUp => {
            let at = tracked_position(platform, rider, None).await?;
            let distance_m = at.distance_m(&order.terms.pickup);
            if distance_m > settings.pickup_geofence_m {
                return Err(ApiError::invalid(
                    "position",
                    format!(
                        "the rider is {distance_m:.0} m from the store; pick up within {:.0} m",
                        settings.pickup_geofence_m
                    ),
                )
                .code("outside_geofence"));
            }
            OrderCommand::PickUp { rider }
        }
        RiderAction::Deliver { position } => {
            let position = tracked_position(platform, rider, position).await?;
            OrderCommand::Deliver { rider, position, geofence_m: settings.delivery_geofence_m }
        }
    };
    execute(platform, order_id, command).await
}

/// The rider takes (or declines) its whole offer: every order offered to it and not yet
/// answered, one trip. An order that moved on meanwhile (cancelled, say) is skipped; if
/// none could be answered, the first refusal is the answer. The reply is the rider after it,
/// with the trip it now rides.
pub async fn answer_offer(platform: &Arc<Platform>, rider: RiderId, accept: bool) -> Result<RiderView, ApiError> {
    let addr =
        platform.find_rider(rider).await.map_err(CommandError::from)?.ok_or_else(|| ApiError::not_found("rider"))?;
    let offered = addr.send(GetOffer).await.map_err(CommandError::from)?;
    if offered.is_empty() {
        return Err(ApiError::new(
            actix_web::http::StatusCode::CONFLICT,
            "no_offer",
            "nothing is offered to this rider now",
        ));
    }
    let mut refusal = None;
    let mut answered = 0;
    for order in offered {
        let action = if accept { RiderAction::AcceptOffer } else { RiderAction::DeclineOffer };
        match rider_action(platform, rider, order, action).await {
            Ok(_) => answered += 1,
            Err(error) => refusal = refusal.or(Some(error)),
        }
    }
    if let (0, Some(error)) = (answered, refusal) {
        return Err(error);
    }
    addr.send(GetRider).await.map_err(CommandError::from)??.ok_or_else(|| ApiError::not_found("rider"))
}

/// Where a rider is by the server's track: its last ping, or `sent` if that agrees with it.
async fn tracked_position(
    platform: &Arc<Platform>,
    rider: RiderId,
    sent: Option<GeoPoint>,
) -> Result<GeoPoint, ApiError> {
    let addr =
        platform.find_rider(rider).await.map_err(CommandError::from)?.ok_or_else(|| ApiError::not_found("rider"))?;
    let view = addr.send(GetRider).await.map_err(CommandError::from)??;
    let last = view.and_then(|v| Some((v.position?, v.position_at?)));
    let settings = &platform.settings.orders;
    let rules = TrackRules {
        max_speed_mps: settings.max_rider_speed_kmh / 3.6,
        max_age_secs: settings.ping_max_age_secs as f64,
        // GPS noise: a fix at the door may sit a geofence's width from the last ping.
        noise_m: settings.delivery_geofence_m,
    };
    rules.judge(last, sent, Utc::now()).map_err(|error| {
        let code = match error {
            TrackError::NoRecentPing { .. } => "no_recent_position",
            TrackError::Implausible { .. } => "implausible_position",
        };
        ApiError::invalid("position", error.to_string()).code(code)
    })
}
