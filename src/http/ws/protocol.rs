//! The websocket protocol: JSON text frames, one object each, tagged by `type`.
//!
//! Every server message carries `seq`, counting from 1 on each connection, so a client can
//! tell that it missed nothing. Order messages carry the order's `version` (its event-stream
//! position): a connection starts with a `snapshot`, and after it sends an order only when
//! its version is newer than the last one sent, so there is no gap and no duplicate.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::actors::RiderView;
use crate::domain::{GeoPoint, OrderId, RiderId};
use crate::http::views::OrderView;

/// An order with the stream version it is at.
#[derive(Serialize)]
pub struct VersionedOrder {
    pub version: i64,
    #[serde(flatten)]
    pub order: OrderView,
}

#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerMessage {
    /// First message: who the connection is.
    Welcome { session: Uuid, role: &'static str, subject: Uuid },
    /// The state to start from: the caller's live orders (the store's board, the rider's
    /// trip's orders) and, for a rider, the rider.
    Snapshot { orders: Vec<VersionedOrder>, rider: Option<RiderView> },
    /// An order changed: its new state, and the events that changed it.
    Order { events: Vec<&'static str>, order: VersionedOrder },
    /// A job offer for this rider, with the time to answer by.
    Offer { deadline: DateTime<Utc>, order: VersionedOrder },
    /// The rider itself came on or went off duty; `rider.offline_reason` says when the
    /// platform took it off (offers went unanswered).
    Rider { rider: RiderView },
    /// The rider on the customer's order moved (at most once a second).
    RiderPosition { order_id: OrderId, rider_id: RiderId, position: GeoPoint, at: DateTime<Utc> },
    /// A command was done; `result` is the order (or rider) after it.
    Ack { request_id: Option<String>, result: serde_json::Value },
    /// A frame could not be understood or a command was refused.
    Error {
        request_id: Option<String>,
        code: String,
        message: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        field: Option<String>,
    },
}

#[derive(Serialize)]
pub struct Envelope<'a> {
    pub seq: u64,
    #[serde(flatten)]
    pub message: &'a ServerMessage,
}

// Client commands are written `{"type": "accept", ...}`; they are parsed by lifting the
// `type` into an external tag (see `commands::parse`), so that a bad field is named by its
// path, as in REST bodies.

/// From the customer app.
#[derive(Deserialize, Debug)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum CustomerCommand {
    Cancel { request_id: Option<String>, order_id: OrderId },
}

/// From the store tablet.
#[derive(Deserialize, Debug)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum StoreCommand {
    Accept {
        request_id: Option<String>,
        order_id: OrderId,
        #[serde(deserialize_with = "crate::http::extract::whole")]
        prep_minutes: u32,
    },
    Reject {
        request_id: Option<String>,
        order_id: OrderId,
        reason: String,
    },
    Ready {
        request_id: Option<String>,
        order_id: OrderId,
    },
    Cancel {
        request_id: Option<String>,
        order_id: OrderId,
        reason: String,
    },
}

/// From the rider app.
#[derive(Deserialize, Debug)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum RiderCommand {
    /// A location ping; not acknowledged (they come every few seconds).
    Location {
        lat: f64,
        lon: f64,
    },
    Online {
        request_id: Option<String>,
        position: GeoPoint,
        /// When the rider's shift ends, if it says.
        #[serde(default)]
        shift_ends_at: Option<DateTime<Utc>>,
    },
    Offline {
        request_id: Option<String>,
    },
    /// Take the whole offer (every order offered now): one trip.
    AcceptTrip {
        request_id: Option<String>,
    },
    DeclineTrip {
        request_id: Option<String>,
    },
    /// Answer for one order of an offer only.
    AcceptOffer {
        request_id: Option<String>,
        order_id: OrderId,
    },
    DeclineOffer {
        request_id: Option<String>,
        order_id: OrderId,
    },
    PickUp {
        request_id: Option<String>,
        order_id: OrderId,
    },
    Deliver {
        request_id: Option<String>,
        order_id: OrderId,
        position: Option<GeoPoint>,
    },
}
