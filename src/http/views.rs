//! What the API returns: wire shapes built from the domain types.

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::domain::order::{CancelReason, Courier, Eta, Kitchen, Order, OrderLine, OrderStatus, Payment, Phase};
use crate::domain::store::{MenuItem, Store};
use crate::domain::{CustomerId, GeoPoint, Money, OrderId, RiderId, StoreId, ZoneId};
use crate::http::openapi::Point;
use crate::http::schemas;

/// Why an order was cancelled.
#[derive(Serialize, ToSchema)]
#[schema(as = Cancellation)]
pub struct CancellationView {
    pub code: String,
    pub message: String,
}

/// An order as its customer, its store, its rider and operators see it.
#[derive(Serialize, ToSchema)]
#[schema(as = Order)]
pub struct OrderView {
    #[schema(value_type = Uuid)]
    pub id: OrderId,
    #[schema(value_type = schemas::OrderStatus)]
    pub status: OrderStatus,
    #[schema(value_type = Uuid)]
    pub customer_id: CustomerId,
    #[schema(value_type = Uuid)]
    pub store_id: StoreId,
    #[schema(value_type = String)]
    pub zone: ZoneId,
    #[schema(value_type = Vec<schemas::OrderLine>)]
    pub items: Vec<OrderLine>,
    #[schema(value_type = schemas::Money)]
    pub total: Money,
    #[schema(value_type = Point)]
    pub pickup_point: GeoPoint,
    #[schema(value_type = Point)]
    pub delivery_point: GeoPoint,
    #[schema(value_type = schemas::Payment)]
    pub payment: Payment,
    pub placed_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// While the store has not answered: when the order is auto-rejected.
    pub store_accept_by: Option<DateTime<Utc>>,
    pub prep_minutes: Option<u32>,
    pub accepted_at: Option<DateTime<Utc>>,
    pub ready_by: Option<DateTime<Utc>>,
    /// Where finding a rider stands while the kitchen cooks.
    pub dispatch: Option<Dispatch>,
    #[schema(value_type = Option<Uuid>)]
    pub rider_id: Option<RiderId>,
    pub offer_expires_at: Option<DateTime<Utc>>,
    /// Pickup and drop-off estimates, refreshed as the rider moves.
    #[schema(value_type = Option<schemas::Eta>)]
    pub eta: Option<Eta>,
    /// Set when dispatch could not find a rider within its widest radius.
    pub dispatch_alerted_at: Option<DateTime<Utc>>,
    /// Set when the kitchen ran well past its promised ready time and the operator was
    /// alerted (`orders.kitchen_late_grace_secs` / `_share`); kept after the food is ready.
    pub kitchen_late_at: Option<DateTime<Utc>>,
    pub cancellation: Option<CancellationView>,
    pub rejection_reason: Option<String>,
}

/// Where finding a rider for an accepted order stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Dispatch {
    /// No rider yet; the search widens over time.
    Searching,
    /// A rider has been offered the job and has until `offer_expires_at` to answer.
    Offered,
    /// A rider took the job.
    Assigned,
}

impl From<&Order> for OrderView {
    fn from(order: &Order) -> Self {
        let (dispatch, offer_expires_at) = match &order.phase {
            Phase::Active { courier: Courier::Searching { .. }, .. } => (Some(Dispatch::Searching), None),
            Phase::Active { courier: Courier::Offered { deadline, .. }, .. } => {
                (Some(Dispatch::Offered), Some(*deadline))
            }
            Phase::Active { courier: Courier::Assigned { .. }, .. } => (Some(Dispatch::Assigned), None),
            _ => (None, None),
        };
        OrderView {
            id: order.id,
            status: order.status(),
            customer_id: order.terms.customer_id,
            store_id: order.terms.store_id,
            zone: order.terms.zone.clone(),
            items: order.terms.lines.clone(),
            total: order.terms.total,
            pickup_point: order.terms.pickup,
            delivery_point: order.terms.dropoff,
            payment: order.payment.clone(),
            placed_at: order.placed_at,
            updated_at: order.updated_at,
            store_accept_by: match &order.phase {
                Phase::AwaitingStore { deadline } => Some(*deadline),
                _ => None,
            },
            prep_minutes: order.prep_minutes,
            accepted_at: order.accepted_at,
            ready_by: match &order.phase {
                Phase::Active { kitchen: Kitchen::Preparing { ready_by }, .. } => Some(*ready_by),
                _ => None,
            },
            dispatch,
            rider_id: order.rider(),
            offer_expires_at,
            eta: order.eta,
            dispatch_alerted_at: order.dispatch_alerted_at,
            kitchen_late_at: order.kitchen_late_at,
            cancellation: match &order.phase {
                Phase::Cancelled { reason, .. } => {
                    Some(CancellationView { code: cancel_code(reason), message: reason.describe() })
                }
                _ => None,
            },
            rejection_reason: match &order.phase {
                Phase::Rejected { reason } => Some(reason.clone()),
                _ => None,
            },
        }
    }
}

fn cancel_code(reason: &CancelReason) -> String {
    serde_json::to_value(reason)
        .ok()
        .and_then(|v| v.get("code").and_then(|c| c.as_str()).map(str::to_owned))
        .unwrap_or_else(|| "cancelled".into())
}

/// A store with its menu.
#[derive(Serialize, ToSchema)]
#[schema(as = Store)]
pub struct StoreView {
    #[schema(value_type = Uuid)]
    pub id: StoreId,
    pub name: String,
    #[schema(value_type = String)]
    pub zone: ZoneId,
    #[schema(value_type = Point)]
    pub location: GeoPoint,
    pub delivery_radius_m: u32,
    pub accept_deadline_secs: u32,
    #[schema(pattern = "^[A-Z]{3}$")]
    pub currency: String,
    pub open: bool,
    #[schema(value_type = Vec<schemas::MenuItem>)]
    pub menu: Vec<MenuItem>,
    /// Metres from the point the caller asked about, when it asked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub distance_m: Option<f64>,
}

impl StoreView {
    pub fn of(store: &Store, from: Option<&GeoPoint>) -> Self {
        StoreView {
            id: store.id,
            name: store.name.clone(),
            zone: store.zone.clone(),
            location: store.location,
            delivery_radius_m: store.delivery_radius_m,
            accept_deadline_secs: store.accept_deadline_secs,
            currency: store.currency.to_string(),
            open: store.open,
            menu: store.menu.values().cloned().collect(),
            distance_m: from.map(|p| (store.location.distance_m(p)).round()),
        }
    }
}

/// `GET /v1/stores`: stores, nearest first when a point was given.
#[derive(Serialize, ToSchema)]
pub struct StoreList {
    pub stores: Vec<StoreView>,
}

/// `GET /v1/stores/{store}/menu`.
#[derive(Serialize, ToSchema)]
pub struct MenuView {
    #[schema(value_type = Uuid)]
    pub store_id: StoreId,
    pub open: bool,
    #[schema(value_type = Vec<schemas::MenuItem>)]
    pub items: Vec<MenuItem>,
}

/// `GET /v1/stores/{store}/orders`: the store's open orders.
#[derive(Serialize, ToSchema)]
pub struct BoardView {
    #[schema(value_type = Uuid)]
    pub store_id: StoreId,
    #[schema(value_type = Vec<schemas::BoardEntry>)]
    pub orders: Vec<crate::actors::BoardEntry>,
}

/// `GET /v1/auth/me`: who the token says the caller is.
#[derive(Serialize, ToSchema)]
pub struct CallerView {
    pub role: crate::auth::Role,
    pub subject: Uuid,
}

/// An account an operator created.
#[derive(Serialize, ToSchema)]
pub struct AccountView {
    pub id: Uuid,
    pub email: String,
    pub role: crate::auth::Role,
    /// The customer, store, rider or operator id the account acts as.
    pub subject: Uuid,
    pub name: String,
}
