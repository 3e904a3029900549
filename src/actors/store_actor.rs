//! One actor per store: its profile, menu and opening state (event-sourced), and the board
//! of its open orders (a view the orders keep current, rebuilt by them on recovery).

use std::collections::BTreeMap;
use std::sync::Arc;

use actix::prelude::*;
use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::domain::order::{Kitchen, Order, OrderLine, OrderStatus, Phase};
use crate::domain::store::{Quote, Store, StoreCommand, StoreEvent};
use crate::domain::{GeoPoint, ItemId, Money, OrderId, RiderId, StoreId};
use crate::persistence::Journal;

use super::event_sourced::{self, guarded, EventSourced};
use super::{CommandError, Flush, InjectFault, Platform};

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
    pub rider_id: Option<RiderId>,
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
    id: StoreId,
    platform: Arc<Platform>,
    state: Option<Store>,
    journal: Journal<Store>,
    loaded: bool,
    board: BTreeMap<OrderId, BoardEntry>,
}

impl StoreActor {
    pub fn new(id: StoreId, platform: Arc<Platform>) -> Self {
        StoreActor { id, platform, state: None, journal: Journal::new(id), loaded: false, board: BTreeMap::new() }
    }

    fn publish(&self) {
        if let Some(store) = &self.state {
            self.platform.directory.insert(self.id, store.clone());
        }
    }
}

impl Actor for StoreActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        event_sourced::load(self, ctx);
    }
}

impl Supervised for StoreActor {
    fn restarting(&mut self, _: &mut Context<Self>) {
        tracing::warn!(store = %self.id, "store actor restarting");
        self.platform.record_restart();
        self.state = None;
        self.loaded = false;
    }
}

impl EventSourced for StoreActor {
    type State = Store;

    fn id(&self) -> StoreId {
        self.id
    }

    fn platform(&self) -> &Arc<Platform> {
        &self.platform
    }

    fn state(&self) -> Option<&Store> {
        self.state.as_ref()
    }

    fn journal(&mut self) -> &mut Journal<Store> {
        &mut self.journal
    }

    fn set_state(&mut self, state: Option<Store>) {
        self.state = state;
    }

    fn set_journal(&mut self, journal: Journal<Store>) {
        self.journal = journal;
    }

    fn set_loaded(&mut self, loaded: bool) {
        self.loaded = loaded;
    }

    fn resumed(&mut self, _: &mut Context<Self>) {
        self.publish();
    }

    fn committed(&mut self, events: &[StoreEvent], _: &mut Context<Self>) {
        tracing::info!(store = %self.id, events = events.len(), "store changed");
        self.publish();
    }
}

impl Handler<StoreCmd> for StoreActor {
    type Result = AtomicResponse<Self, Result<Store, CommandError>>;

    fn handle(&mut self, StoreCmd(command): StoreCmd, ctx: &mut Context<Self>) -> Self::Result {
        let ready = |result| AtomicResponse::new(Box::pin(actix::fut::ready(result)));
        if !self.loaded {
            return ready(Err(CommandError::Unavailable("store is loading".into())));
        }
        let now = Utc::now();
        let events = match guarded("deciding a store command", || Store::decide(self.state.as_ref(), command, now)) {
            Err(fault) => {
                ctx.stop();
                return ready(Err(fault));
            }
            Ok(Err(refused)) => {
                if self.state.is_none() {
                    self.platform.forget_store(self.id);
                }
                return ready(Err(refused.into()));
            }
            Ok(Ok(events)) => events,
        };
        AtomicResponse::new(Box::pin(event_sourced::commit(self, events).map(|result, act, _| {
            if result.is_err() && act.state.is_none() {
                act.platform.forget_store(act.id);
            }
            result?;
            act.state.clone().ok_or(CommandError::NotFound("store"))
        })))
    }
}

impl Handler<QuoteOrder> for StoreActor {
    type Result = Result<(Quote, Store), CommandError>;

    fn handle(&mut self, quote: QuoteOrder, _: &mut Context<Self>) -> Self::Result {
        if !self.loaded {
            return Err(CommandError::Unavailable("store is loading".into()));
        }
        let store = self.state.as_ref().ok_or(CommandError::NotFound("store"))?;
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
        if !self.loaded {
            return Err(CommandError::Unavailable("store is loading".into()));
        }
        Ok(self.state.clone())
    }
}

impl Handler<Flush> for StoreActor {
    type Result = ResponseActFuture<Self, ()>;

    fn handle(&mut self, _: Flush, _: &mut Context<Self>) -> Self::Result {
        event_sourced::flush(self)
    }
}

impl Handler<InjectFault> for StoreActor {
    type Result = ();

    fn handle(&mut self, _: InjectFault, ctx: &mut Context<Self>) {
        if guarded("injected fault", || panic!("fault injected into store {}", self.id)).is_err() {
            ctx.stop();
        }
    }
}
