//! What a websocket client may ask, by role, and doing it: the same checks and the same
//! order commands as the REST routes.

use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::actors::{CommandError, Ping, Platform, RiderCmd};
use crate::auth::{Identity, Role};
use crate::domain::order::{Canceller, OrderCommand};
use crate::domain::rider::RiderCommand as RiderDuty;
use crate::domain::{GeoPoint, OrderId, RiderId, StoreId};
use crate::http::error::ApiError;
use crate::http::extract;
use crate::http::orders_access::{self, RiderAction};
use crate::http::views::OrderView;

use super::protocol::{CustomerCommand, RiderCommand, StoreCommand};

/// A client frame parsed as a command of the sender's role.
#[derive(Debug)]
pub enum Command {
    Customer(CustomerCommand),
    Store(StoreCommand),
    Rider(RiderCommand),
}

/// Parse a frame as a command of `role`; a bad frame gets the same field-naming error as a
/// bad REST body.
pub fn parse(role: Role, text: &str) -> Result<Command, ApiError> {
    match role {
        Role::Customer => tagged(text).map(Command::Customer),
        Role::Store => tagged(text).map(Command::Store),
        Role::Rider => tagged(text).map(Command::Rider),
        Role::Operator => Err(ApiError::bad_request("unsupported_command", "operators send no commands here")),
    }
}

/// `{"type": "accept", "order_id": ..}` parsed as the `accept` variant, with errors naming
/// the field (`order_id`), or `type` when the command is unknown.
fn tagged<T: DeserializeOwned>(text: &str) -> Result<T, ApiError> {
    let value: Value = extract::parse(text.as_bytes())?;
    let Value::Object(mut fields) = value else {
        return Err(ApiError::invalid("body", "a command is a JSON object with a `type`"));
    };
    let kind = match fields.remove("type") {
        Some(Value::String(kind)) => kind,
        Some(_) => return Err(ApiError::invalid("type", "`type` must be a string")),
        None => return Err(ApiError::invalid("type", "missing field `type`")),
    };
    let lifted = serde_json::json!({ kind.as_str(): Value::Object(fields) });
    serde_path_to_error::deserialize(lifted).map_err(|error| {
        let path = error.path().to_string();
        let message = error.inner().to_string();
        if message.starts_with("unknown variant") {
            return ApiError::invalid("type", format!("unknown command `{kind}`"));
        }
        // Paths are under the lifted tag (`accept.order_id`); the client wrote them at the top.
        let relative = if path == kind { "." } else { path.strip_prefix(&format!("{kind}.")).unwrap_or(".") };
        ApiError::invalid(&extract::blamed_field(relative, &message), message)
    })
}

/// The request id of a frame that did not parse, if it has one.
pub fn request_id(text: &str) -> Option<String> {
    serde_json::from_str::<Value>(text).ok()?.get("request_id")?.as_str().map(str::to_owned)
}

impl Command {
    pub fn request_id(&self) -> Option<String> {
        match self {
            Command::Customer(CustomerCommand::Cancel { request_id, .. })
            | Command::Store(
                StoreCommand::Accept { request_id, .. }
                | StoreCommand::Reject { request_id, .. }
                | StoreCommand::Ready { request_id, .. }
                | StoreCommand::Cancel { request_id, .. },
            )
            | Command::Rider(
                RiderCommand::Online { request_id, .. }
                | RiderCommand::Offline { request_id }
                | RiderCommand::AcceptTrip { request_id }
                | RiderCommand::DeclineTrip { request_id }
                | RiderCommand::AcceptOffer { request_id, .. }
                | RiderCommand::DeclineOffer { request_id, .. }
                | RiderCommand::PickUp { request_id, .. }
                | RiderCommand::Deliver { request_id, .. },
            ) => request_id.clone(),
            Command::Rider(RiderCommand::Location { .. }) => None,
        }
    }
}

fn order_json(order: &crate::domain::order::Order) -> Value {
    serde_json::to_value(OrderView::from(order)).unwrap_or(Value::Null)
}

/// Do `command` as `identity`. `Ok(None)`: nothing to acknowledge (a location ping).
pub async fn run(command: Command, identity: Identity, platform: Arc<Platform>) -> Result<Option<Value>, ApiError> {
    match command {
        Command::Customer(CustomerCommand::Cancel { order_id, .. }) => {
            let order = orders_access::load(&platform, order_id).await?;
            if order.terms.customer_id.as_uuid() != identity.subject {
                return Err(ApiError::not_found("order"));
            }
            let order = orders_access::execute(&platform, order_id, OrderCommand::Cancel(Canceller::Customer)).await?;
            Ok(Some(order_json(&order)))
        }
        Command::Store(command) => {
            let store = StoreId::from_uuid(identity.subject);
            let (order_id, command) = match command {
                StoreCommand::Accept { order_id, prep_minutes, .. } => {
                    (order_id, OrderCommand::Accept { prep_minutes })
                }
                StoreCommand::Reject { order_id, reason, .. } => (order_id, OrderCommand::Reject { reason }),
                StoreCommand::Ready { order_id, .. } => (order_id, OrderCommand::MarkReady),
                StoreCommand::Cancel { order_id, reason, .. } => {
                    (order_id, OrderCommand::Cancel(Canceller::Store { reason }))
                }
            };
            let order = orders_access::store_command(&platform, store, order_id, command).await?;
            Ok(Some(order_json(&order)))
        }
        Command::Rider(command) => rider(command, RiderId::from_uuid(identity.subject), &platform).await,
    }
}

async fn rider(command: RiderCommand, rider: RiderId, platform: &Arc<Platform>) -> Result<Option<Value>, ApiError> {
    let addr =
        platform.find_rider(rider).await.map_err(CommandError::from)?.ok_or_else(|| ApiError::not_found("rider"))?;
    let job = |order_id: OrderId, action: RiderAction| async move {
        let order = orders_access::rider_action(platform, rider, order_id, action).await?;
        Ok::<_, ApiError>(Some(order_json(&order)))
    };
    match command {
        RiderCommand::Location { lat, lon } => {
            let position =
                GeoPoint::new(lat, lon).map_err(|e| ApiError::invalid(GeoPoint::refused_field(lat), e.message))?;
            addr.send(Ping { position }).await.map_err(CommandError::from)??;
            Ok(None)
        }
        RiderCommand::Online { position, shift_ends_at, .. } => {
            let view = addr
                .send(RiderCmd(RiderDuty::GoOnline { position, shift_ends_at }))
                .await
                .map_err(CommandError::from)??;
            Ok(Some(serde_json::to_value(view).unwrap_or(Value::Null)))
        }
        RiderCommand::Offline { .. } => {
            let view = addr.send(RiderCmd(RiderDuty::GoOffline)).await.map_err(CommandError::from)??;
            Ok(Some(serde_json::to_value(view).unwrap_or(Value::Null)))
        }
        RiderCommand::AcceptTrip { .. } | RiderCommand::DeclineTrip { .. } => {
            let accept = matches!(command, RiderCommand::AcceptTrip { .. });
            let view = orders_access::answer_offer(platform, rider, accept).await?;
            Ok(Some(serde_json::to_value(view).unwrap_or(Value::Null)))
        }
        RiderCommand::AcceptOffer { order_id, .. } => job(order_id, RiderAction::AcceptOffer).await,
        RiderCommand::DeclineOffer { order_id, .. } => job(order_id, RiderAction::DeclineOffer).await,
        RiderCommand::PickUp { order_id, .. } => job(order_id, RiderAction::PickUp).await,
        RiderCommand::Deliver { order_id, position, .. } => job(order_id, RiderAction::Deliver { position }).await,
    }
}
