//! The order aggregate: the state machine of one order from placement to a terminal state.
//!
//! `decide` turns a command into events (or refuses it), `apply` folds an event into the
//! state. Both are pure: the caller passes the clock in, and the actor that owns the order
//! does the I/O. Events are facts, so `apply` never refuses one; `decide` is where the rules
//! live.
//!
//! The three families of the design guide map to three fields: `payment` (pending ->
//! authorized -> captured | voided, or declined), `phase` (the store's and the order's
//! progress) and, inside an active phase, `courier` (searching -> offered -> assigned).

use std::collections::BTreeSet;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use super::ids::{CustomerId, ItemId, OrderId, RiderId, StoreId, ZoneId};
use super::money::Money;
use super::position::GeoPoint;

/// Longest preparation a store may announce.
pub const MAX_PREP_MINUTES: u32 = 180;

/// One priced line of an order.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OrderLine {
    pub item_id: ItemId,
    pub name: String,
    pub quantity: u32,
    pub unit_price: Money,
}

/// Everything fixed at placement: what, from where, to where, for how much.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OrderTerms {
    pub customer_id: CustomerId,
    pub store_id: StoreId,
    pub zone: ZoneId,
    pub lines: Vec<OrderLine>,
    pub total: Money,
    pub pickup: GeoPoint,
    pub dropoff: GeoPoint,
    /// How long the store has to accept before the order is auto-rejected.
    pub store_accept_secs: u32,
    /// A digest of the client's request, so a reused idempotency key with a different body
    /// is told apart from a retry.
    pub request_fingerprint: String,
}

/// Where the money stands.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Payment {
    /// Waiting for the provider's answer.
    Pending,
    /// Held on the customer's instrument; captured on delivery or voided on cancellation.
    Authorized { authorization: String },
    /// The provider refused; terminal.
    Declined { reason: String },
    /// The hold was released after the order died; terminal.
    Voided { authorization: String },
    /// The money was taken on delivery; terminal (a later refund for missing items would
    /// follow from here).
    Captured { authorization: String },
    /// The provider never answered the authorization (the payment timeout passed): the
    /// order is rejected, but the provider may have granted a hold all the same, so it is
    /// voided by the order id, the authorization's idempotency key, until the provider
    /// answers.
    Unresolved { reason: String },
    /// Whatever hold the unanswered authorization may have granted was voided; terminal.
    Abandoned { reason: String },
}

impl Payment {
    pub fn authorization(&self) -> Option<&str> {
        match self {
            Payment::Authorized { authorization } => Some(authorization),
            _ => None,
        }
    }
}

/// The kitchen's progress once the store has accepted.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Kitchen {
    Preparing { ready_by: DateTime<Utc> },
    Ready { at: DateTime<Utc> },
}

/// The search for a rider, which runs while the kitchen cooks.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Courier {
    Searching { since: DateTime<Utc> },
    Offered { rider: RiderId, deadline: DateTime<Utc> },
    Assigned { rider: RiderId },
}

/// Why an order ended without delivery.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "code", rename_all = "snake_case")]
pub enum CancelReason {
    CustomerCancelled,
    StoreRejected { reason: String },
    StoreDidNotConfirm,
    StoreCancelled { reason: String },
    OperatorCancelled { reason: String },
    NoRiderFound,
}

impl CancelReason {
    /// The reason's code, as the API spells it.
    pub fn code(&self) -> &'static str {
        match self {
            CancelReason::CustomerCancelled => "customer_cancelled",
            CancelReason::StoreRejected { .. } => "store_rejected",
            CancelReason::StoreDidNotConfirm => "store_did_not_confirm",
            CancelReason::StoreCancelled { .. } => "store_cancelled",
            CancelReason::OperatorCancelled { .. } => "operator_cancelled",
            CancelReason::NoRiderFound => "no_rider_found",
        }
    }

    /// A sentence the customer can be shown.
    pub fn describe(&self) -> String {
        match self {
            CancelReason::CustomerCancelled => "cancelled by the customer".into(),
            CancelReason::StoreRejected { reason } => format!("the store rejected the order: {reason}"),
            CancelReason::StoreDidNotConfirm => "the store did not confirm in time".into(),
            CancelReason::StoreCancelled { reason } => format!("the store cancelled the order: {reason}"),
            CancelReason::OperatorCancelled { reason } => format!("cancelled by the operator: {reason}"),
            CancelReason::NoRiderFound => "no rider could be found".into(),
        }
    }
}

/// The order's progress.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Phase {
    /// Placed; the payment is being authorized.
    AwaitingPayment,
    /// Paid (authorized); the store has until `deadline` to accept.
    AwaitingStore {
        deadline: DateTime<Utc>,
    },
    /// Accepted: the kitchen cooks while dispatch finds a rider.
    Active {
        kitchen: Kitchen,
        courier: Courier,
        /// Riders who declined or let an offer lapse: never offered this order again.
        excluded: BTreeSet<RiderId>,
    },
    PickedUp {
        rider: RiderId,
        at: DateTime<Utc>,
    },
    Delivered {
        rider: RiderId,
        at: DateTime<Utc>,
    },
    /// The payment was declined; nothing else happened.
    Rejected {
        reason: String,
    },
    Cancelled {
        reason: CancelReason,
        at: DateTime<Utc>,
    },
}

/// The coarse status clients see.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
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

impl OrderStatus {
    pub fn as_str(&self) -> &'static str {
        match self {
            OrderStatus::AwaitingPayment => "awaiting_payment",
            OrderStatus::AwaitingStore => "awaiting_store",
            OrderStatus::Preparing => "preparing",
            OrderStatus::ReadyForPickup => "ready_for_pickup",
            OrderStatus::PickedUp => "picked_up",
            OrderStatus::Delivered => "delivered",
            OrderStatus::Rejected => "rejected",
            OrderStatus::Cancelled => "cancelled",
        }
    }

    pub fn is_terminal(&self) -> bool {
        matches!(self, OrderStatus::Delivered | OrderStatus::Rejected | OrderStatus::Cancelled)
    }
}

impl std::fmt::Display for OrderStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Order {
    pub id: OrderId,
    pub terms: OrderTerms,
    pub placed_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub phase: Phase,
    pub payment: Payment,
    /// Minutes the store announced when it accepted.
    pub prep_minutes: Option<u32>,
    /// When the store accepted: dispatch has been looking for a rider since.
    #[serde(default)]
    pub accepted_at: Option<DateTime<Utc>>,
    /// When dispatch told the operator it could not find a rider.
    #[serde(default)]
    pub dispatch_alerted_at: Option<DateTime<Utc>>,
    /// When the operator was told the kitchen is well past the ready time it promised.
    /// Kept once the food is ready, as a record that it was late. Snapshots written before
    /// the alert existed have no such field and load as never late.
    #[serde(default)]
    pub kitchen_late_at: Option<DateTime<Utc>>,
    /// The latest pickup and drop-off estimates the customer was given.
    #[serde(default)]
    pub eta: Option<Eta>,
}

/// When the food should leave the store and reach the door.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Eta {
    /// `None` once picked up.
    pub pickup_at: Option<DateTime<Utc>>,
    pub dropoff_at: DateTime<Utc>,
}

/// An estimate moves the published ETA only when it shifts by at least this much.
pub const ETA_SIGNIFICANT_SECS: i64 = 60;

impl Eta {
    /// Whether publishing `self` instead of `other` tells the customer something new.
    pub fn differs_from(&self, other: &Eta) -> bool {
        let far = |a: DateTime<Utc>, b: DateTime<Utc>| (a - b).num_seconds().abs() >= ETA_SIGNIFICANT_SECS;
        match (self.pickup_at, other.pickup_at) {
            (Some(a), Some(b)) if far(a, b) => return true,
            (Some(_), None) | (None, Some(_)) => return true,
            _ => {}
        }
        far(self.dropoff_at, other.dropoff_at)
    }
}

/// Who asks for a cancellation; each has its own window.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Canceller {
    Customer,
    Store { reason: String },
    Operator { reason: String },
}

#[derive(Clone, Debug, PartialEq)]
pub enum OrderCommand {
    Place(OrderTerms),
    RecordAuthorization {
        authorization: String,
    },
    /// The provider has not answered the authorization by the payment timeout.
    AbandonPayment {
        reason: String,
    },
    RecordDecline {
        reason: String,
    },
    Accept {
        prep_minutes: u32,
    },
    Reject {
        reason: String,
    },
    ExpireStoreDeadline,
    Cancel(Canceller),
    /// No rider within the widest search radius: tell the operator.
    EscalateDispatch,
    /// Still no rider after the give-up time: cancel with a refund.
    GiveUpDispatch,
    /// The kitchen is well past the ready time it promised: tell the operator. Only the
    /// operator for now; the customer hears nothing until delay notices exist. Fired by
    /// the deadline in [`crate::dispatch::duties`], which knows how late is "well past".
    FlagKitchenLate,
    UpdateEta(Eta),
    MarkReady,
    Offer {
        rider: RiderId,
        deadline: DateTime<Utc>,
    },
    AcceptOffer {
        rider: RiderId,
    },
    DeclineOffer {
        rider: RiderId,
    },
    ExpireOffer {
        rider: RiderId,
    },
    /// The rider can no longer do the job (went offline): back to dispatch.
    ReleaseRider {
        rider: RiderId,
    },
    /// An operator takes the job from its rider before the food is on board: back to
    /// dispatch, and never offered to that rider again.
    Reassign,
    PickUp {
        rider: RiderId,
    },
    Deliver {
        rider: RiderId,
        position: GeoPoint,
        geofence_m: f64,
    },
    RecordVoid,
    RecordCapture,
}

impl OrderCommand {
    pub fn name(&self) -> &'static str {
        match self {
            OrderCommand::Place(_) => "place",
            OrderCommand::RecordAuthorization { .. } => "record_authorization",
            OrderCommand::RecordDecline { .. } => "record_decline",
            OrderCommand::AbandonPayment { .. } => "abandon_payment",
            OrderCommand::Accept { .. } => "accept",
            OrderCommand::Reject { .. } => "reject",
            OrderCommand::ExpireStoreDeadline => "expire_store_deadline",
            OrderCommand::Cancel(_) => "cancel",
            OrderCommand::EscalateDispatch => "escalate_dispatch",
            OrderCommand::GiveUpDispatch => "give_up_dispatch",
            OrderCommand::FlagKitchenLate => "flag_kitchen_late",
            OrderCommand::UpdateEta(_) => "update_eta",
            OrderCommand::MarkReady => "mark_ready",
            OrderCommand::Offer { .. } => "offer",
            OrderCommand::AcceptOffer { .. } => "accept_offer",
            OrderCommand::DeclineOffer { .. } => "decline_offer",
            OrderCommand::ExpireOffer { .. } => "expire_offer",
            OrderCommand::ReleaseRider { .. } => "release_rider",
            OrderCommand::Reassign => "reassign",
            OrderCommand::PickUp { .. } => "pick_up",
            OrderCommand::Deliver { .. } => "deliver",
            OrderCommand::RecordVoid => "record_void",
            OrderCommand::RecordCapture => "record_capture",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum OrderEvent {
    Placed {
        terms: OrderTerms,
        at: DateTime<Utc>,
    },
    PaymentAuthorized {
        authorization: String,
        store_deadline: DateTime<Utc>,
        at: DateTime<Utc>,
    },
    PaymentDeclined {
        reason: String,
        at: DateTime<Utc>,
    },
    /// No answer from the provider in time: rejected, and any hold is to be voided.
    PaymentAbandoned {
        reason: String,
        at: DateTime<Utc>,
    },
    StoreAccepted {
        prep_minutes: u32,
        ready_by: DateTime<Utc>,
        at: DateTime<Utc>,
    },
    Cancelled {
        reason: CancelReason,
        at: DateTime<Utc>,
    },
    MarkedReady {
        at: DateTime<Utc>,
    },
    RiderOffered {
        rider: RiderId,
        deadline: DateTime<Utc>,
        at: DateTime<Utc>,
    },
    RiderAccepted {
        rider: RiderId,
        at: DateTime<Utc>,
    },
    RiderDeclined {
        rider: RiderId,
        at: DateTime<Utc>,
    },
    OfferExpired {
        rider: RiderId,
        at: DateTime<Utc>,
    },
    RiderReleased {
        rider: RiderId,
        at: DateTime<Utc>,
    },
    /// An operator took the job from this rider.
    RiderReassigned {
        rider: RiderId,
        at: DateTime<Utc>,
    },
    PickedUp {
        rider: RiderId,
        at: DateTime<Utc>,
    },
    Delivered {
        rider: RiderId,
        position: GeoPoint,
        at: DateTime<Utc>,
    },
    PaymentVoided {
        at: DateTime<Utc>,
    },
    PaymentCaptured {
        at: DateTime<Utc>,
    },
    DispatchEscalated {
        at: DateTime<Utc>,
    },
    EtaUpdated {
        eta: Eta,
        at: DateTime<Utc>,
    },
    KitchenLate {
        at: DateTime<Utc>,
    },
}

impl OrderEvent {
    pub fn name(&self) -> &'static str {
        match self {
            OrderEvent::Placed { .. } => "placed",
            OrderEvent::PaymentAuthorized { .. } => "payment_authorized",
            OrderEvent::PaymentDeclined { .. } => "payment_declined",
            OrderEvent::PaymentAbandoned { .. } => "payment_abandoned",
            OrderEvent::StoreAccepted { .. } => "store_accepted",
            OrderEvent::Cancelled { .. } => "cancelled",
            OrderEvent::MarkedReady { .. } => "marked_ready",
            OrderEvent::RiderOffered { .. } => "rider_offered",
            OrderEvent::RiderAccepted { .. } => "rider_accepted",
            OrderEvent::RiderDeclined { .. } => "rider_declined",
            OrderEvent::OfferExpired { .. } => "offer_expired",
            OrderEvent::RiderReleased { .. } => "rider_released",
            OrderEvent::RiderReassigned { .. } => "rider_reassigned",
            OrderEvent::PickedUp { .. } => "picked_up",
            OrderEvent::Delivered { .. } => "delivered",
            OrderEvent::PaymentVoided { .. } => "payment_voided",
            OrderEvent::PaymentCaptured { .. } => "payment_captured",
            OrderEvent::DispatchEscalated { .. } => "dispatch_escalated",
            OrderEvent::EtaUpdated { .. } => "eta_updated",
            OrderEvent::KitchenLate { .. } => "kitchen_late",
        }
    }
}

#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum OrderError {
    #[error("the order already exists")]
    AlreadyPlaced,
    #[error("the order does not exist")]
    NotPlaced,
    #[error("cannot {command} an order that is {status}")]
    InvalidTransition { command: &'static str, status: OrderStatus },
    #[error("the order is not offered to or carried by rider {rider}")]
    NotYourJob { rider: RiderId },
    #[error("prep_minutes must be between 1 and {MAX_PREP_MINUTES}")]
    InvalidPrepMinutes,
    #[error("a reason is required")]
    MissingReason,
    #[error("a reason must not contain control characters")]
    ControlCharacters,
    #[error("the order must be ready before it is picked up")]
    NotReady,
    #[error("the drop-off is {distance_m:.0} m away; deliver within {limit_m:.0} m")]
    OutsideGeofence { distance_m: f64, limit_m: f64 },
}

impl Order {
    pub fn status(&self) -> OrderStatus {
        match &self.phase {
            Phase::AwaitingPayment => OrderStatus::AwaitingPayment,
            Phase::AwaitingStore { .. } => OrderStatus::AwaitingStore,
            Phase::Active { kitchen: Kitchen::Preparing { .. }, .. } => OrderStatus::Preparing,
            Phase::Active { kitchen: Kitchen::Ready { .. }, .. } => OrderStatus::ReadyForPickup,
            Phase::PickedUp { .. } => OrderStatus::PickedUp,
            Phase::Delivered { .. } => OrderStatus::Delivered,
            Phase::Rejected { .. } => OrderStatus::Rejected,
            Phase::Cancelled { .. } => OrderStatus::Cancelled,
        }
    }

    /// The rider the order is offered to, assigned to, or carried by.
    pub fn rider(&self) -> Option<RiderId> {
        match &self.phase {
            Phase::Active { courier: Courier::Offered { rider, .. } | Courier::Assigned { rider }, .. }
            | Phase::PickedUp { rider, .. }
            | Phase::Delivered { rider, .. } => Some(*rider),
            _ => None,
        }
    }

    /// The kitchen was flagged well past its promise and is still cooking: what the
    /// operator's count of late kitchens counts.
    pub fn kitchen_is_late(&self) -> bool {
        self.kitchen_late_at.is_some() && matches!(self.phase, Phase::Active { kitchen: Kitchen::Preparing { .. }, .. })
    }

    /// Terminal, and nothing is owed to or by the payment provider any more: the actor that
    /// owns the order can retire.
    pub fn is_settled(&self) -> bool {
        self.status().is_terminal()
            && !matches!(self.payment, Payment::Pending | Payment::Authorized { .. } | Payment::Unresolved { .. })
    }

    /// Decide what a command means for this order. `order` is `None` before placement.
    pub fn decide(
        order: Option<&Order>,
        command: OrderCommand,
        now: DateTime<Utc>,
    ) -> Result<Vec<OrderEvent>, OrderError> {
        match (order, command) {
            (None, OrderCommand::Place(terms)) => Ok(vec![OrderEvent::Placed { terms, at: now }]),
            (Some(_), OrderCommand::Place(_)) => Err(OrderError::AlreadyPlaced),
            (None, _) => Err(OrderError::NotPlaced),
            (Some(order), command) => order.decide_placed(command, now),
        }
    }

    fn refuse(&self, command: &OrderCommand) -> OrderError {
        OrderError::InvalidTransition { command: command.name(), status: self.status() }
    }

    fn decide_placed(&self, command: OrderCommand, now: DateTime<Utc>) -> Result<Vec<OrderEvent>, OrderError> {
        use OrderCommand as C;
        use OrderEvent as E;
        let at = now;
        let events = match (&self.phase, command) {
            (Phase::AwaitingPayment, C::RecordAuthorization { authorization }) => {
                let store_deadline = now + Duration::seconds(i64::from(self.terms.store_accept_secs));
                vec![E::PaymentAuthorized { authorization, store_deadline, at }]
            }
            (Phase::AwaitingPayment, C::RecordDecline { reason }) => vec![E::PaymentDeclined { reason, at }],
            (Phase::AwaitingPayment, C::AbandonPayment { reason }) => vec![E::PaymentAbandoned { reason, at }],
            (Phase::Cancelled { .. }, C::AbandonPayment { reason }) if self.payment == Payment::Pending => {
                vec![E::PaymentAbandoned { reason, at }]
            }
            (_, C::AbandonPayment { .. }) => vec![],
            // Cancelled while the provider was still deciding: record its answer, so a hold
            // that was granted after all is then voided.
            (Phase::Cancelled { .. }, C::RecordAuthorization { authorization }) if self.payment == Payment::Pending => {
                vec![E::PaymentAuthorized { authorization, store_deadline: now, at }]
            }
            (Phase::Cancelled { .. }, C::RecordDecline { reason }) if self.payment == Payment::Pending => {
                vec![E::PaymentDeclined { reason, at }]
            }
            // A late answer from the provider for a payment already settled is a duplicate.
            (_, C::RecordAuthorization { .. } | C::RecordDecline { .. }) => vec![],

            (Phase::AwaitingStore { .. }, C::Accept { prep_minutes }) => {
                if prep_minutes == 0 || prep_minutes > MAX_PREP_MINUTES {
                    return Err(OrderError::InvalidPrepMinutes);
                }
                let ready_by = now + Duration::minutes(i64::from(prep_minutes));
                vec![E::StoreAccepted { prep_minutes, ready_by, at }]
            }
            (Phase::AwaitingStore { .. }, C::Reject { reason }) => {
                let reason = required(reason)?;
                vec![E::Cancelled { reason: CancelReason::StoreRejected { reason }, at }]
            }
            (Phase::AwaitingStore { deadline }, C::ExpireStoreDeadline) if *deadline <= now => {
                vec![E::Cancelled { reason: CancelReason::StoreDidNotConfirm, at }]
            }
            // A timer that fired late or early is not a command anyone can be refused.
            (_, C::ExpireStoreDeadline) => vec![],

            (Phase::AwaitingPayment | Phase::AwaitingStore { .. }, C::Cancel(Canceller::Customer)) => {
                vec![E::Cancelled { reason: CancelReason::CustomerCancelled, at }]
            }
            (Phase::AwaitingStore { .. } | Phase::Active { .. }, C::Cancel(Canceller::Store { reason })) => {
                let reason = required(reason)?;
                vec![E::Cancelled { reason: CancelReason::StoreCancelled { reason }, at }]
            }
            (
                Phase::AwaitingPayment | Phase::AwaitingStore { .. } | Phase::Active { .. } | Phase::PickedUp { .. },
                C::Cancel(Canceller::Operator { reason }),
            ) => {
                let reason = required(reason)?;
                vec![E::Cancelled { reason: CancelReason::OperatorCancelled { reason }, at }]
            }
            (Phase::Active { courier: Courier::Searching { .. }, .. }, C::GiveUpDispatch) => {
                vec![E::Cancelled { reason: CancelReason::NoRiderFound, at }]
            }
            // The rider was found after all, or the order moved on: a late timer.
            (_, C::GiveUpDispatch) => vec![],
            (
                Phase::Active { courier: Courier::Searching { .. } | Courier::Offered { .. }, .. },
                C::EscalateDispatch,
            ) if self.dispatch_alerted_at.is_none() => {
                vec![E::DispatchEscalated { at }]
            }
            (_, C::EscalateDispatch) => vec![],
            // Recorded once, and never before the promised time: a timer that fires early
            // (or again, or after the food is ready) changes nothing.
            (Phase::Active { kitchen: Kitchen::Preparing { ready_by }, .. }, C::FlagKitchenLate)
                if self.kitchen_late_at.is_none() && *ready_by < now =>
            {
                vec![E::KitchenLate { at }]
            }
            (_, C::FlagKitchenLate) => vec![],
            (Phase::Active { .. } | Phase::PickedUp { .. }, C::UpdateEta(eta)) => match &self.eta {
                Some(current) if !eta.differs_from(current) => vec![],
                _ => vec![E::EtaUpdated { eta, at }],
            },
            (_, C::UpdateEta(_)) => vec![],

            (Phase::Active { kitchen: Kitchen::Preparing { .. }, .. }, C::MarkReady) => vec![E::MarkedReady { at }],

            (Phase::Active { courier: Courier::Searching { .. }, excluded, .. }, C::Offer { rider, deadline }) => {
                if excluded.contains(&rider) {
                    return Err(OrderError::NotYourJob { rider });
                }
                vec![E::RiderOffered { rider, deadline, at }]
            }
            (
                Phase::Active { courier: Courier::Offered { rider: offered, deadline }, .. },
                C::AcceptOffer { rider },
            ) => {
                if *offered != rider {
                    return Err(OrderError::NotYourJob { rider });
                }
                if *deadline <= now {
                    vec![E::OfferExpired { rider, at }]
                } else {
                    vec![E::RiderAccepted { rider, at }]
                }
            }
            (Phase::Active { courier: Courier::Offered { rider: offered, .. }, .. }, C::DeclineOffer { rider }) => {
                if *offered != rider {
                    return Err(OrderError::NotYourJob { rider });
                }
                vec![E::RiderDeclined { rider, at }]
            }
            (
                Phase::Active { courier: Courier::Offered { rider: offered, deadline }, .. },
                C::ExpireOffer { rider },
            ) if *offered == rider && *deadline <= now => vec![E::OfferExpired { rider, at }],
            (_, C::ExpireOffer { .. }) => vec![],
            (
                Phase::Active {
                    courier: Courier::Offered { rider: held, .. } | Courier::Assigned { rider: held }, ..
                },
                C::ReleaseRider { rider },
            ) if *held == rider => vec![E::RiderReleased { rider, at }],
            (_, C::ReleaseRider { .. }) => vec![],
            (
                Phase::Active { courier: Courier::Offered { rider, .. } | Courier::Assigned { rider }, .. },
                C::Reassign,
            ) => vec![E::RiderReassigned { rider: *rider, at }],

            (Phase::Active { kitchen, courier: Courier::Assigned { rider: held }, .. }, C::PickUp { rider }) => {
                if *held != rider {
                    return Err(OrderError::NotYourJob { rider });
                }
                if !matches!(kitchen, Kitchen::Ready { .. }) {
                    return Err(OrderError::NotReady);
                }
                vec![E::PickedUp { rider, at }]
            }
            (Phase::PickedUp { rider: held, .. }, C::Deliver { rider, position, geofence_m }) => {
                if *held != rider {
                    return Err(OrderError::NotYourJob { rider });
                }
                let distance_m = position.distance_m(&self.terms.dropoff);
                if distance_m > geofence_m {
                    return Err(OrderError::OutsideGeofence { distance_m, limit_m: geofence_m });
                }
                vec![E::Delivered { rider, position, at }]
            }

            (Phase::Rejected { .. } | Phase::Cancelled { .. }, C::RecordVoid)
                if self.payment.authorization().is_some() || matches!(self.payment, Payment::Unresolved { .. }) =>
            {
                vec![E::PaymentVoided { at }]
            }
            (Phase::Delivered { .. }, C::RecordCapture) if self.payment.authorization().is_some() => {
                vec![E::PaymentCaptured { at }]
            }
            (_, C::RecordVoid | C::RecordCapture) => vec![],

            (_, command) => return Err(self.refuse(&command)),
        };
        Ok(events)
    }

    /// The state after an event. Placement starts a stream; every other event needs an
    /// order. Events are facts: one that does not fit the phase (which `decide` never
    /// produces) changes nothing rather than failing a replay.
    pub fn apply(order: Option<Order>, id: OrderId, event: &OrderEvent) -> Option<Order> {
        match (order, event) {
            (None, OrderEvent::Placed { terms, at }) => Some(Order {
                id,
                terms: terms.clone(),
                placed_at: *at,
                updated_at: *at,
                phase: Phase::AwaitingPayment,
                payment: Payment::Pending,
                prep_minutes: None,
                accepted_at: None,
                dispatch_alerted_at: None,
                kitchen_late_at: None,
                eta: None,
            }),
            (None, _) => None,
            (Some(mut order), event) => {
                order.apply_placed(event);
                Some(order)
            }
        }
    }

    fn apply_placed(&mut self, event: &OrderEvent) {
        use OrderEvent as E;
        match event {
            E::Placed { .. } => return,
            E::PaymentAuthorized { authorization, store_deadline, .. } => {
                self.payment = Payment::Authorized { authorization: authorization.clone() };
                if self.phase == Phase::AwaitingPayment {
                    self.phase = Phase::AwaitingStore { deadline: *store_deadline };
                }
            }
            E::PaymentDeclined { reason, .. } => {
                self.payment = Payment::Declined { reason: reason.clone() };
                if self.phase == Phase::AwaitingPayment {
                    self.phase = Phase::Rejected { reason: reason.clone() };
                }
            }
            E::PaymentAbandoned { reason, .. } => {
                self.payment = Payment::Unresolved { reason: reason.clone() };
                if self.phase == Phase::AwaitingPayment {
                    self.phase = Phase::Rejected { reason: reason.clone() };
                }
            }
            E::StoreAccepted { prep_minutes, ready_by, at } => {
                self.prep_minutes = Some(*prep_minutes);
                self.accepted_at = Some(*at);
                self.phase = Phase::Active {
                    kitchen: Kitchen::Preparing { ready_by: *ready_by },
                    courier: Courier::Searching { since: *at },
                    excluded: BTreeSet::new(),
                };
            }
            E::Cancelled { reason, at } => {
                // A payment still pending stays so: the provider's answer is recorded when it
                // comes, and a granted hold is then voided.
                self.phase = Phase::Cancelled { reason: reason.clone(), at: *at };
            }
            E::MarkedReady { at } => {
                if let Phase::Active { kitchen, .. } = &mut self.phase {
                    *kitchen = Kitchen::Ready { at: *at };
                }
            }
            E::RiderOffered { rider, deadline, .. } => {
                if let Phase::Active { courier, .. } = &mut self.phase {
                    *courier = Courier::Offered { rider: *rider, deadline: *deadline };
                }
            }
            E::RiderAccepted { rider, .. } => {
                if let Phase::Active { courier, .. } = &mut self.phase {
                    *courier = Courier::Assigned { rider: *rider };
                }
            }
            E::RiderDeclined { rider, at } | E::OfferExpired { rider, at } | E::RiderReassigned { rider, at } => {
                if let Phase::Active { courier, excluded, .. } = &mut self.phase {
                    excluded.insert(*rider);
                    *courier = Courier::Searching { since: *at };
                }
            }
            E::RiderReleased { at, .. } => {
                if let Phase::Active { courier, .. } = &mut self.phase {
                    *courier = Courier::Searching { since: *at };
                }
            }
            E::PickedUp { rider, at } => self.phase = Phase::PickedUp { rider: *rider, at: *at },
            E::Delivered { rider, at, .. } => self.phase = Phase::Delivered { rider: *rider, at: *at },
            E::PaymentVoided { .. } => match &self.payment {
                Payment::Authorized { authorization } => {
                    self.payment = Payment::Voided { authorization: authorization.clone() };
                }
                Payment::Unresolved { reason } => self.payment = Payment::Abandoned { reason: reason.clone() },
                _ => {}
            },
            E::PaymentCaptured { .. } => {
                if let Payment::Authorized { authorization } = &self.payment {
                    self.payment = Payment::Captured { authorization: authorization.clone() };
                }
            }
            E::DispatchEscalated { at } => self.dispatch_alerted_at = Some(*at),
            E::EtaUpdated { eta, .. } => self.eta = Some(*eta),
            E::KitchenLate { at } => {
                self.kitchen_late_at.get_or_insert(*at);
            }
        }
        self.updated_at = event_time(event);
    }

    /// Rebuild an order from its whole history.
    pub fn replay<'a>(id: OrderId, events: impl IntoIterator<Item = &'a OrderEvent>) -> Option<Order> {
        events.into_iter().fold(None, |order, event| Order::apply(order, id, event))
    }

    /// Invariants that hold in every reachable state. Checked by the property tests.
    pub fn check_invariants(&self) -> Result<(), String> {
        let paid = matches!(self.payment, Payment::Authorized { .. });
        match &self.phase {
            Phase::AwaitingPayment if self.payment != Payment::Pending => {
                Err("awaiting payment but payment settled".into())
            }
            Phase::AwaitingStore { .. } | Phase::Active { .. } | Phase::PickedUp { .. } if !paid => {
                Err(format!("{} without an authorized payment", self.status()))
            }
            Phase::Delivered { .. }
                if !matches!(self.payment, Payment::Authorized { .. } | Payment::Captured { .. }) =>
            {
                Err("delivered without payment".into())
            }
            Phase::Rejected { .. } if !matches!(self.payment, Payment::Declined { .. }) => {
                Err("rejected but payment not declined".into())
            }
            Phase::Cancelled { .. } if matches!(self.payment, Payment::Captured { .. }) => {
                Err("cancelled with money taken".into())
            }
            Phase::Active { courier: Courier::Offered { rider, .. }, excluded, .. } if excluded.contains(rider) => {
                Err("offered to an excluded rider".into())
            }
            Phase::Active { kitchen: Kitchen::Preparing { ready_by }, .. }
                if self.kitchen_late_at.is_some_and(|late| late <= *ready_by) =>
            {
                Err("kitchen flagged late before its promised ready time".into())
            }
            _ if self.kitchen_late_at.is_some() && self.accepted_at.is_none() => {
                Err("kitchen flagged late without the store accepting".into())
            }
            _ => Ok(()),
        }
    }
}

/// A reason given by a person (a store, an operator): present, at most 500 characters, and
/// free of control characters, which some stores cannot keep (PostgreSQL's `jsonb` refuses
/// `\u0000`) and no reader wants.
fn required(reason: String) -> Result<String, OrderError> {
    let reason = reason.trim();
    if reason.is_empty() {
        Err(OrderError::MissingReason)
    } else if reason.chars().any(char::is_control) {
        Err(OrderError::ControlCharacters)
    } else {
        Ok(reason.chars().take(500).collect())
    }
}

fn event_time(event: &OrderEvent) -> DateTime<Utc> {
    use OrderEvent as E;
    match event {
        E::Placed { at, .. }
        | E::PaymentAuthorized { at, .. }
        | E::PaymentDeclined { at, .. }
        | E::PaymentAbandoned { at, .. }
        | E::StoreAccepted { at, .. }
        | E::Cancelled { at, .. }
        | E::MarkedReady { at }
        | E::RiderOffered { at, .. }
        | E::RiderAccepted { at, .. }
        | E::RiderDeclined { at, .. }
        | E::OfferExpired { at, .. }
        | E::RiderReleased { at, .. }
        | E::RiderReassigned { at, .. }
        | E::PickedUp { at, .. }
        | E::Delivered { at, .. }
        | E::PaymentVoided { at }
        | E::PaymentCaptured { at }
        | E::DispatchEscalated { at }
        | E::EtaUpdated { at, .. }
        | E::KitchenLate { at } => *at,
    }
}

impl super::Aggregate for Order {
    type Id = OrderId;
    type Event = OrderEvent;
    const KIND: &'static str = "order";

    fn apply(state: Option<Self>, id: OrderId, event: &OrderEvent) -> Option<Self> {
        Order::apply(state, id, event)
    }

    fn event_name(event: &OrderEvent) -> &'static str {
        event.name()
    }

    fn zone(&self) -> &ZoneId {
        &self.terms.zone
    }

    fn is_closed(&self) -> bool {
        self.is_settled()
    }
}

/// The events of an order placed, paid and accepted at `at` with a promise of
/// `prep_minutes`, for the unit tests of the modules that read orders.
#[cfg(test)]
pub(crate) fn accepted_history(at: DateTime<Utc>, prep_minutes: u32) -> Vec<OrderEvent> {
    use super::{Currency, Money};
    let here = GeoPoint::new(37.5665, 126.978).expect("a valid point");
    let terms = OrderTerms {
        customer_id: CustomerId::named("c"),
        store_id: StoreId::named("s"),
        zone: ZoneId::default(),
        lines: Vec::new(),
        total: Money::new(9000, Currency::parse("KRW").expect("KRW")).expect("an amount"),
        pickup: here,
        dropoff: here,
        store_accept_secs: 300,
        request_fingerprint: String::new(),
    };
    vec![
        OrderEvent::Placed { terms, at },
        OrderEvent::PaymentAuthorized { authorization: "a".into(), store_deadline: at + Duration::minutes(5), at },
        OrderEvent::StoreAccepted { prep_minutes, ready_by: at + Duration::minutes(i64::from(prep_minutes)), at },
    ]
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, Duration, TimeZone, Utc};

    use super::{accepted_history, CancelReason, Order, OrderCommand, OrderEvent, OrderStatus};
    use crate::domain::{OrderId, RiderId};

    fn noon() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 2, 12, 0, 0).unwrap()
    }

    /// An order the store accepted at noon, promising it in `prep` minutes, with its events.
    fn accepted(prep: u32) -> (Order, Vec<OrderEvent>) {
        let history = accepted_history(noon(), prep);
        (Order::replay(OrderId::named("o"), history.iter()).unwrap(), history)
    }

    fn run(order: &Order, command: OrderCommand, at: DateTime<Utc>) -> (Order, Vec<OrderEvent>) {
        let events = Order::decide(Some(order), command, at).unwrap();
        let after = events.iter().try_fold(order.clone(), |o, e| Order::apply(Some(o), order.id, e)).unwrap();
        (after, events)
    }

    #[test]
    fn a_late_kitchen_is_flagged_once_and_only_while_it_cooks_past_its_promise() {
        let (order, _) = accepted(10);
        let ready_by = noon() + Duration::minutes(10);
        // Not before the promised time: an early timer changes nothing.
        assert_eq!(run(&order, OrderCommand::FlagKitchenLate, ready_by).1, vec![]);
        let late = ready_by + Duration::minutes(10);
        let (flagged, events) = run(&order, OrderCommand::FlagKitchenLate, late);
        assert_eq!(events, vec![OrderEvent::KitchenLate { at: late }]);
        assert_eq!(flagged.kitchen_late_at, Some(late));
        assert!(flagged.kitchen_is_late());
        assert_eq!(flagged.status(), OrderStatus::Preparing);
        assert_eq!(flagged.check_invariants(), Ok(()));
        // Fired again: already recorded.
        assert_eq!(run(&flagged, OrderCommand::FlagKitchenLate, late + Duration::minutes(5)).1, vec![]);
        // Ready at last: the record stays, the kitchen no longer counts as late, and a late
        // timer is ignored without an error.
        let (ready, _) = run(&flagged, OrderCommand::MarkReady, late + Duration::minutes(6));
        assert_eq!((ready.kitchen_late_at, ready.kitchen_is_late()), (Some(late), false));
        assert_eq!(run(&ready, OrderCommand::FlagKitchenLate, late + Duration::minutes(7)).1, vec![]);
    }

    #[test]
    fn flagging_a_kitchen_late_in_other_phases_is_ignored_not_refused() {
        let (order, _) = accepted(10);
        let later = noon() + Duration::hours(2);
        let (ready, _) = run(&order, OrderCommand::MarkReady, noon() + Duration::minutes(5));
        let (cancelled, _) =
            run(&order, OrderCommand::Cancel(super::Canceller::Operator { reason: "test".into() }), later);
        let rider = RiderId::named("r");
        let (offered, _) = run(&ready, OrderCommand::Offer { rider, deadline: later }, noon());
        let (assigned, _) = run(&offered, OrderCommand::AcceptOffer { rider }, noon());
        let (picked, _) = run(&assigned, OrderCommand::PickUp { rider }, noon());
        for other in [ready, cancelled, picked] {
            assert_eq!(Order::decide(Some(&other), OrderCommand::FlagKitchenLate, later), Ok(vec![]), "{other:?}");
        }
    }

    #[test]
    fn the_late_flag_survives_event_and_snapshot_round_trips_and_old_snapshots_load() {
        let (order, mut history) = accepted(10);
        let late = noon() + Duration::minutes(25);
        let (flagged, events) = run(&order, OrderCommand::FlagKitchenLate, late);
        history.extend(events);
        // The events as the event store keeps them (JSON), replayed.
        let stored: Vec<OrderEvent> =
            history.iter().map(|e| serde_json::from_value(serde_json::to_value(e).unwrap()).unwrap()).collect();
        assert_eq!(serde_json::to_value(&history[3]).unwrap()["type"], "kitchen_late");
        assert_eq!(Order::replay(order.id, stored.iter()), Some(flagged.clone()));
        // A snapshot, then the same state read back.
        let snapshot = serde_json::to_value(&flagged).unwrap();
        assert_eq!(serde_json::from_value::<Order>(snapshot).unwrap(), flagged);
        // A snapshot written before the alert existed has no such field: never late.
        let mut old = serde_json::to_value(&order).unwrap();
        old.as_object_mut().unwrap().remove("kitchen_late_at");
        let loaded: Order = serde_json::from_value(old).unwrap();
        assert_eq!((loaded.kitchen_late_at, &loaded), (None, &order));
    }

    #[test]
    fn a_cancel_reason_code_is_the_one_the_api_shows() {
        let reasons = [
            CancelReason::CustomerCancelled,
            CancelReason::StoreRejected { reason: "busy".into() },
            CancelReason::StoreDidNotConfirm,
            CancelReason::StoreCancelled { reason: "mistake".into() },
            CancelReason::OperatorCancelled { reason: "test".into() },
            CancelReason::NoRiderFound,
        ];
        for reason in reasons {
            let json = serde_json::to_value(&reason).unwrap();
            assert_eq!(json["code"], reason.code(), "{reason:?}");
        }
    }
}
