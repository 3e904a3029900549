//! The live state of the city as actors.
//!
//! One [`OrderActor`] per live order (it orchestrates the order's saga), one [`StoreActor`]
//! per store, one [`RiderActor`] per rider and one [`Dispatcher`] per zone. Each actor owns
//! its state; its mailbox serialises every change. A command is decided by the pure domain
//! code, appended to the event store, and only then applied and acknowledged.
//!
//! Actors run under an actix `Supervisor`. A panic in an actor's code is caught at the
//! handler, the actor stops, and the supervisor restarts it in place (same address, same
//! queued messages); on restart it reloads itself from its snapshot and events.

mod backoff;
pub mod city_board;
pub mod decision_log;
mod dispatcher;
mod error;
mod event_sourced;
pub mod hub;
mod lifecycle;
pub(crate) mod order_actor;
mod platform;
mod rider_actor;
mod store_actor;

pub use dispatcher::{Dispatcher, Need, OrderNeeds, RiderPresence};
pub use error::CommandError;
pub use lifecycle::{recover, shutdown, spawn_decision_pruner, spawn_position_writer, Recovered};
pub use order_actor::{Execute, GetOrder, GetOrderVersioned, OrderActor};
pub use platform::Platform;
pub use rider_actor::{GetOffer, GetRider, Ping, RiderActor, RiderCmd, RiderView, TripStop};
pub use store_actor::{BoardEntry, GetBoard, GetStore, QuoteOrder, StoreActor, StoreCmd};

use actix::Message;

/// Hand over a snapshot of the state, if it moved since the last one (graceful shutdown:
/// the caller writes them all).
#[derive(Message)]
#[rtype(result = "Option<crate::persistence::Snapshot>")]
pub struct Flush;

/// Make the actor panic inside its guarded code: proves that a fault is contained and the
/// actor comes back from storage. Not reachable from the HTTP API.
#[derive(Message)]
#[rtype(result = "()")]
pub struct InjectFault;
