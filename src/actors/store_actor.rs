//! One actor per store: its profile, menu and opening state (event-sourced), and the board
//! of its open orders (a view the orders keep current, rebuilt by them on recovery).

use std::collections::BTreeMap;
use std::sync::Arc;

use actix::prelude::*;
use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::domain::order::{Courier, Kitchen, Order, OrderLine, OrderStatus, Phase};
use crate::domain::store::{Quote, Store, StoreCommand, StoreEvent};
use crate::domain::{GeoPoint, ItemId, Money, OrderId, RiderId, StoreId};

use super::event_sourced::{self, stream_handlers, EventSourced, Stream};
use super::{CommandError, Platform};

/// An open order as the store tablet sees it.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct BoardEntry {
    pub order_id: OrderId,
    pub status: OrderStatus,
    pub placed_at: DateTime<Utc>,
    pub lines: Vec<OrderLine>,
    pub total: Money,
    /// When the order is auto-rejected if the store has not accepted it.
    pub accept_by: Option<DateTime<Utc>>,
    pub ready_by: Option<DateTime<Utc>>,
    /// The rider coming for it (offered or on its way), or carrying it.
    pub rider_id: Option<RiderId>,
    /// When the rider coming for it is expected to take it, along its route.
    pub pickup_at: Option<DateTime<Utc>>,
}

impl BoardEntry {
    pub fn of(order: &Order) -> BoardEntry {
        BoardEntry {
            order_id: order.id,
            status: order.status(),
            placed_at: order.placed_at,
            lines: order.terms.lines.clone(),
            total: order.terms.total,
            accept_by: match &order.phase {
                Phase::AwaitingStore { deadline } => Some(*deadline),
                _ => None,
            },
            ready_by: match &order.phase {
                Phase::Active { kitchen: Kitchen::Preparing { ready_by }, .. } => Some(*ready_by),
                _ => None,
            },
            rider_id: order.rider(),
            pickup_at: match &order.phase {
                Phase::Active { courier: Courier::Offered { .. } | Courier::Assigned { .. }, .. } => {
                    order.eta.and_then(|eta| eta.pickup_at)
                }
                _ => None,
            },
        }
    }
}

#[derive(Message)]
#[rtype(result = "Result<Store, CommandError>")]
pub struct StoreCmd(pub StoreCommand);

/// Price an order against the store as it is now.
#[derive(Message)]
#[rtype(result = "Result<(Quote, Store), CommandError>")]
pub struct QuoteOrder {
    pub items: Vec<(ItemId, u32)>,
    pub dropoff: GeoPoint,
}

/// An order's entry on the board changed (`None`: it left the board).
#[derive(Message)]
#[rtype(result = "()")]
pub struct BoardUpdate {
    pub order: OrderId,
    pub entry: Option<BoardEntry>,
}

#[derive(Message)]
#[rtype(result = "Vec<BoardEntry>")]
pub struct GetBoard;

#[derive(Message)]
#[rtype(result = "Result<Option<Store>, CommandError>")]
pub struct GetStore;

pub struct StoreActor {
    stream: Stream<Store>,
    board: BTreeMap<OrderId, BoardEntry>,
}

impl StoreActor {
    pub fn new(id: StoreId, platform: Arc<Platform>) -> Self {
        StoreActor { stream: Stream::new(id, platform), board: BTreeMap::new() }
    }

    /// Refresh the store directory, the read model that store listings use.
    fn publish(&self) {
        if let Some(store) = &self.stream.state {
            self.stream.platform.directory.insert(self.stream.id, store.clone());
        }
    }
}

stream_handlers!(StoreActor);

impl Supervised for StoreActor {
    fn restarting(&mut self, _: &mut Context<Self>) {
        // The board is the orders' view and stays: they keep it current.
        self.stream.reset();
    }
}

impl EventSourced for StoreActor {
    type State = Store;

    fn stream(&self) -> &Stream<Store> {
        &self.stream
    }

    fn stream_mut(&mut self) -> &mut Stream<Store> {
        &mut self.stream
    }

    fn resumed(&mut self, _: &mut Context<Self>) {
        self.publish();
    }

    fn committed(&mut self, events: &[StoreEvent], _: &mut Context<Self>) {
        tracing::debug!(store = %self.stream.id, events = events.len(), "store changed");
        self.publish();
    }

    fn failed(&mut self, _: &CommandError, _: &mut Context<Self>) {
        // Never registered, and certainly not written (a write in doubt reloads instead).
        if self.stream.state.is_none() {
            self.stream.platform.forget_store(self.stream.id);
        }
    }
}

impl Handler<StoreCmd> for StoreActor {
    type Result = AtomicResponse<Self, Result<Store, CommandError>>;

    fn handle(&mut self, StoreCmd(command): StoreCmd, ctx: &mut Context<Self>) -> Self::Result {
        let now = Utc::now();
        let run = event_sourced::execute(self, ctx, |store| Store::decide(store, command, now));
        AtomicResponse::new(Box::pin(run.map(|written, act, _| {
            written?;
            act.stream.state.clone().ok_or(CommandError::NotFound("store"))
        })))
    }
}

impl Handler<QuoteOrder> for StoreActor {
    type Result = Result<(Quote, Store), CommandError>;

    fn handle(&mut self, quote: QuoteOrder, _: &mut Context<Self>) -> Self::Result {
        self.stream.ensure_loaded()?;
        let store = self.stream.state.as_ref().ok_or(CommandError::NotFound("store"))?;
        let priced = store.quote(&quote.items, &quote.dropoff)?;
        Ok((priced, store.clone()))
    }
}

impl Handler<BoardUpdate> for StoreActor {
    type Result = ();

    fn handle(&mut self, update: BoardUpdate, _: &mut Context<Self>) {
        match update.entry {
            Some(entry) => self.board.insert(update.order, entry),
            None => self.board.remove(&update.order),
        };
    }
}

impl Handler<GetBoard> for StoreActor {
    type Result = MessageResult<GetBoard>;

    fn handle(&mut self, _: GetBoard, _: &mut Context<Self>) -> Self::Result {
        let mut entries: Vec<BoardEntry> = self.board.values().cloned().collect();
        entries.sort_by_key(|entry| entry.placed_at);
        MessageResult(entries)
    }
}

impl Handler<GetStore> for StoreActor {
    type Result = Result<Option<Store>, CommandError>;

    fn handle(&mut self, _: GetStore, _: &mut Context<Self>) -> Self::Result {
        self.stream.ensure_loaded()?;
        Ok(self.stream.state.clone())
    }
}
