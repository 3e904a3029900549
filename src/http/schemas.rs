//! OpenAPI schemas for the wire shapes the HTTP layer returns but does not own: domain
//! values (money, order lines, payment), the actors' views (a rider, a board entry) and the
//! login tokens. The domain and actor layers stay free of documentation derives; these
//! types are never built, they only describe what `serde` writes for the real ones, and the
//! schema-conformance run against a live server (`tests/schema_fuzz.rs`) is what keeps the
//! two in step.

#![allow(dead_code)]

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use super::openapi::Point;
use crate::auth::Role;

/// An amount in integer minor units of its currency (`KRW` has none, so 11000 is ₩11,000).
#[derive(ToSchema)]
pub struct Money {
    #[schema(minimum = 0)]
    amount: i64,
    /// ISO 4217 code.
    #[schema(pattern = "^[A-Z]{3}$", example = "KRW")]
    currency: String,
}

/// One priced line of an order.
#[derive(ToSchema)]
pub struct OrderLine {
    item_id: Uuid,
    name: String,
    quantity: u32,
    unit_price: Money,
}

/// Where the money stands.
#[derive(Serialize, ToSchema)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Payment {
    /// Waiting for the provider's answer.
    Pending,
    /// Held; captured on delivery or voided on cancellation.
    Authorized { authorization: String },
    /// The provider refused.
    Declined { reason: String },
    /// The hold was released after the order died.
    Voided { authorization: String },
    /// Taken on delivery.
    Captured { authorization: String },
    /// The provider never answered in time: the order was rejected, and any hold the
    /// provider may have granted is being voided by the order id.
    Unresolved { reason: String },
    /// That void went through.
    Abandoned { reason: String },
}

/// When the food should leave the store and reach the door.
#[derive(ToSchema)]
pub struct Eta {
    /// Absent once picked up.
    pickup_at: Option<DateTime<Utc>>,
    dropoff_at: DateTime<Utc>,
}

/// A dish on a store's menu.
#[derive(ToSchema)]
pub struct MenuItem {
    id: Uuid,
    name: String,
    price: Money,
    available: bool,
}

/// What a rider is doing right now.
#[derive(Serialize, ToSchema)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Duty {
    Idle,
    Offered { order: Uuid, deadline: DateTime<Utc> },
    EnRouteToStore { order: Uuid },
    Delivering { order: Uuid },
}

/// A rider as the rider app and the operator see it.
#[derive(ToSchema)]
pub struct Rider {
    id: Uuid,
    name: String,
    zone: String,
    online: bool,
    /// The most pressing of its jobs: an offer to answer, then food on board, then a store.
    duty: Duty,
    /// The route through every stop left on its trip, offered stops included, in order.
    trip: Vec<TripStop>,
    /// The latest known position, from a ping or going online.
    position: Option<Point>,
    position_at: Option<DateTime<Utc>>,
    /// Present when the platform took the rider off duty (offers went unanswered); gone once
    /// the rider is online again.
    offline_reason: Option<OfflineReason>,
    /// When its shift ends, as it said on going online.
    shift_ends_at: Option<DateTime<Utc>>,
}

/// One stop of a rider's route.
#[derive(ToSchema)]
pub struct TripStop {
    order_id: Uuid,
    kind: StopKind,
    at: Point,
    /// When the rider gets here riding from where it is now (food still cooking aside).
    eta: DateTime<Utc>,
    /// The order is offered and not yet taken.
    offered: bool,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum StopKind {
    Pickup,
    Dropoff,
}

/// Why the platform took a rider off duty.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum OfflineReason {
    UnansweredOffers,
}

/// The coarse order status clients see.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum OrderStatus {
    AwaitingPayment,
    AwaitingStore,
    Preparing,
    ReadyForPickup,
    PickedUp,
    Delivered,
    Rejected,
    Cancelled,
}

/// An open order as the store tablet sees it.
#[derive(ToSchema)]
pub struct BoardEntry {
    order_id: Uuid,
    status: OrderStatus,
    placed_at: DateTime<Utc>,
    lines: Vec<OrderLine>,
    total: Money,
    /// When the order is auto-rejected if the store has not accepted it.
    accept_by: Option<DateTime<Utc>>,
    ready_by: Option<DateTime<Utc>>,
    /// The rider coming for it (offered or on its way), or carrying it.
    rider_id: Option<Uuid>,
    /// When the rider coming for it is expected to take it, along its route.
    pickup_at: Option<DateTime<Utc>>,
}

/// What a login or refresh returns.
#[derive(ToSchema)]
pub struct Tokens {
    access_token: String,
    #[schema(example = "Bearer")]
    token_type: String,
    /// Seconds the access token is valid.
    expires_in: i64,
    /// Trade it at `/v1/auth/refresh` for new tokens; it works once.
    refresh_token: String,
    role: Role,
    subject: Uuid,
}

/// One offer's reasons: whom dispatch weighed, what it chose, and why the others lost.
#[derive(ToSchema)]
pub struct Decision {
    order: Uuid,
    at: DateTime<Utc>,
    /// `optimal` (the batch assignment) or `greedy`.
    policy: String,
    /// The rider offered the order.
    rider: Uuid,
    pickup_eta_secs: f64,
    /// How far the search reached for the order.
    radius_m: f64,
    /// How long the order had waited for a rider.
    waited_secs: f64,
    /// Free riders and waiting orders in the zone at the tick.
    free_riders: u32,
    waiting_orders: u32,
    /// Every rider considered (the nearest free ones inside the radius), cheapest first.
    candidates: Vec<Considered>,
    /// Riders not considered: they declined or let an offer of this order lapse.
    excluded: Vec<Uuid>,
}

/// A rider dispatch considered for an order.
#[derive(ToSchema)]
pub struct Considered {
    rider: Uuid,
    pickup_eta_secs: f64,
    /// The pickup ETA less a bonus when other orders waited longer.
    cost_secs: f64,
    /// `chosen`; `offered_another_order` or `kept_for_another_order` (its food not due yet;
    /// `order` says which); or `farther`.
    verdict: String,
    order: Option<Uuid>,
}
