//! What the API returns: wire shapes built from the domain types.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::domain::order::{CancelReason, Courier, Eta, Kitchen, Order, OrderLine, OrderStatus, Payment, Phase};
use crate::domain::store::{MenuItem, Store};
use crate::domain::{CustomerId, GeoPoint, Money, OrderId, RiderId, StoreId, ZoneId};

#[derive(Serialize)]
pub struct CancellationView {
    pub code: String,
    pub message: String,
}

#[derive(Serialize)]
pub struct OrderView {
    pub id: OrderId,
    pub status: OrderStatus,
    pub customer_id: CustomerId,
    pub store_id: StoreId,
    pub zone: ZoneId,
    pub items: Vec<OrderLine>,
    pub total: Money,
    pub pickup_point: GeoPoint,
    pub delivery_point: GeoPoint,
    pub payment: Payment,
    pub placed_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// While the store has not answered: when the order is auto-rejected.
    pub store_accept_by: Option<DateTime<Utc>>,
    pub prep_minutes: Option<u32>,
    pub accepted_at: Option<DateTime<Utc>>,
    pub ready_by: Option<DateTime<Utc>>,
    /// `searching`, `offered`, `assigned` while the kitchen cooks.
    pub dispatch: Option<&'static str>,
    pub rider_id: Option<RiderId>,
    pub offer_expires_at: Option<DateTime<Utc>>,
    /// Pickup and drop-off estimates, refreshed as the rider moves.
    pub eta: Option<Eta>,
    /// Set when dispatch could not find a rider within its widest radius.
    pub dispatch_alerted_at: Option<DateTime<Utc>>,
    pub cancellation: Option<CancellationView>,
    pub rejection_reason: Option<String>,
}

impl From<&Order> for OrderView {
    fn from(order: &Order) -> Self {
        let (dispatch, offer_expires_at) = match &order.phase {
            Phase::Active { courier: Courier::Searching { .. }, .. } => (Some("searching"), None),
            Phase::Active { courier: Courier::Offered { deadline, .. }, .. } => (Some("offered"), Some(*deadline)),
            Phase::Active { courier: Courier::Assigned { .. }, .. } => (Some("assigned"), None),
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

#[derive(Serialize)]
pub struct StoreView {
    pub id: StoreId,
    pub name: String,
    pub zone: ZoneId,
    pub location: GeoPoint,
    pub delivery_radius_m: u32,
    pub accept_deadline_secs: u32,
    pub currency: String,
    pub open: bool,
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
