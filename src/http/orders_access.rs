//! Reaching an order whether or not its actor is live: a finished order's actor has retired,
//! but the order is still there in the event store.

use std::sync::Arc;

use chrono::Utc;

use crate::actors::GetRider;
use crate::actors::{Execute, GetOrder, Platform};
use crate::domain::order::{Order, OrderCommand};
use crate::domain::{GeoPoint, OrderId, RiderId, StoreId};
use crate::persistence::Journal;

use super::error::ApiError;
use crate::actors::CommandError;

/// The order as it stands, from its actor if live, else from storage.
pub async fn load(platform: &Platform, id: OrderId) -> Result<Order, ApiError> {
    if let Some(addr) = platform.order(id) {
        if let Ok(reply) = addr.send(GetOrder).await {
            if let Some(order) = reply? {
                return Ok(order);
            }
        }
    }
    stored(platform, id).await?.ok_or_else(|| ApiError::not_found("order"))
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

/// Where a rider is, for a delivery reported without a position: the last ping.
pub async fn rider_position(platform: &Platform, rider: RiderId) -> Result<GeoPoint, ApiError> {
    let addr = platform.rider(rider).ok_or_else(|| ApiError::not_found("rider"))?;
    addr.send(GetRider)
        .await
        .map_err(CommandError::from)??
        .and_then(|view| view.position)
        .ok_or_else(|| ApiError::invalid("position", "no known position: send one or ping first"))
}
