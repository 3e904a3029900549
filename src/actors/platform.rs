//! The wiring every actor shares: storage, the payment gateway, settings, and the registry
//! that finds an actor by id. The registry holds the only long-lived addresses of order
//! actors, so dropping an order from it lets the actor stop once it is idle.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use std::hash::Hash;

use actix::{Actor, Addr, ArbiterHandle, Context, Supervised, Supervisor};
use dashmap::DashMap;

use crate::config::Settings;
use crate::domain::rider::Rider;
use crate::domain::store::Store;
use crate::domain::{GeoPoint, OrderId, RiderId, StoreId, ZoneId};
use crate::payment::PaymentGateway;
use crate::persistence::{Journal, PositionRecord, Storage, StorageError};

use super::decision_log::DecisionQueue;
use super::hub::Hub;
use super::{Dispatcher, OrderActor, RiderActor, StoreActor};

pub struct Platform {
    pub settings: Arc<Settings>,
    pub storage: Storage,
    pub gateway: Arc<dyn PaymentGateway>,
    /// Live updates to websocket sessions.
    pub hub: Hub,
    /// Read model of every store, refreshed by the store actors on each change: listing
    /// stores near a point reads this and never waits on an actor.
    pub directory: DashMap<StoreId, Store>,
    /// Rider positions not yet written to the database.
    pub dirty_positions: DashMap<RiderId, PositionRecord>,
    /// Positions read at start-up, handed to rider actors as they load.
    pub saved_positions: DashMap<RiderId, GeoPoint>,
    /// Dispatch decisions not yet written to the database.
    pub decisions: DecisionQueue,
    arbiter: ArbiterHandle,
    orders: DashMap<OrderId, Addr<OrderActor>>,
    stores: DashMap<StoreId, Addr<StoreActor>>,
    riders: DashMap<RiderId, Addr<RiderActor>>,
    dispatchers: DashMap<ZoneId, Addr<Dispatcher>>,
    /// Dispatch waits until recovery has told every dispatcher which riders are held.
    dispatching: AtomicBool,
    /// Actors restarted by their supervisor after a contained fault.
    restarts: AtomicU64,
}

impl Platform {
    /// Actors are started on `arbiter`, whichever thread asks for them.
    pub fn new(
        settings: Arc<Settings>,
        storage: Storage,
        gateway: Arc<dyn PaymentGateway>,
        arbiter: ArbiterHandle,
    ) -> Arc<Platform> {
        Arc::new(Platform {
            settings,
            storage,
            gateway,
            hub: Hub::default(),
            directory: DashMap::new(),
            dirty_positions: DashMap::new(),
            saved_positions: DashMap::new(),
            decisions: DecisionQueue::default(),
            arbiter,
            orders: DashMap::new(),
            stores: DashMap::new(),
            riders: DashMap::new(),
            dispatchers: DashMap::new(),
            dispatching: AtomicBool::new(false),
            restarts: AtomicU64::new(0),
        })
    }

    pub fn order(&self, id: OrderId) -> Option<Addr<OrderActor>> {
        self.orders.get(&id).map(|addr| addr.clone())
    }

    /// The live actor of an order, started (and loaded from storage) if needed.
    pub fn start_order(self: &Arc<Self>, id: OrderId) -> Addr<OrderActor> {
        let platform = self.clone();
        self.start(&self.orders, id, move || OrderActor::new(id, platform))
    }

    pub fn forget_order(&self, id: OrderId) {
        self.orders.remove(&id);
    }

    pub fn live_orders(&self) -> Vec<Addr<OrderActor>> {
        self.orders.iter().map(|e| e.value().clone()).collect()
    }

    pub fn store(&self, id: StoreId) -> Option<Addr<StoreActor>> {
        self.stores.get(&id).map(|addr| addr.clone())
    }

    pub fn start_store(self: &Arc<Self>, id: StoreId) -> Addr<StoreActor> {
        let platform = self.clone();
        self.start(&self.stores, id, move || StoreActor::new(id, platform))
    }

    pub fn forget_store(&self, id: StoreId) {
        self.stores.remove(&id);
    }

    pub fn stores(&self) -> Vec<Addr<StoreActor>> {
        self.stores.iter().map(|e| e.value().clone()).collect()
    }

    pub fn rider(&self, id: RiderId) -> Option<Addr<RiderActor>> {
        self.riders.get(&id).map(|addr| addr.clone())
    }

    pub fn start_rider(self: &Arc<Self>, id: RiderId) -> Addr<RiderActor> {
        let platform = self.clone();
        self.start(&self.riders, id, move || RiderActor::new(id, platform))
    }

    /// A rider's actor, started if the rider is in storage but has no live actor (say, one
    /// retired after a write that failed); `None` when there is no such rider. A request
    /// for an entity that exists must find it.
    pub async fn find_rider(self: &Arc<Self>, id: RiderId) -> Result<Option<Addr<RiderActor>>, StorageError> {
        if let Some(addr) = self.rider(id) {
            return Ok(Some(addr));
        }
        let stored = Journal::<Rider>::load(self.storage.events.as_ref(), id).await?;
        Ok(stored.state.map(|_| self.start_rider(id)))
    }

    /// A store's actor, started if the store is in storage but has no live actor.
    pub async fn find_store(self: &Arc<Self>, id: StoreId) -> Result<Option<Addr<StoreActor>>, StorageError> {
        if let Some(addr) = self.store(id) {
            return Ok(Some(addr));
        }
        let stored = Journal::<Store>::load(self.storage.events.as_ref(), id).await?;
        Ok(stored.state.map(|_| self.start_store(id)))
    }

    pub fn forget_rider(&self, id: RiderId) {
        self.riders.remove(&id);
    }

    pub fn riders(&self) -> Vec<Addr<RiderActor>> {
        self.riders.iter().map(|e| e.value().clone()).collect()
    }

    /// The dispatcher of a zone, started on first use.
    pub fn dispatcher(self: &Arc<Self>, zone: &ZoneId) -> Addr<Dispatcher> {
        if let Some(addr) = self.dispatchers.get(zone) {
            return addr.clone();
        }
        let (platform, owned) = (self.clone(), zone.clone());
        self.start(&self.dispatchers, zone.clone(), move || Dispatcher::new(owned, platform))
    }

    pub fn dispatchers(&self) -> Vec<Addr<Dispatcher>> {
        self.dispatchers.iter().map(|e| e.value().clone()).collect()
    }

    /// The actor registered under `key`, started under supervision on the actors' arbiter
    /// if there is none yet.
    fn start<K, A>(&self, registry: &DashMap<K, Addr<A>>, key: K, make: impl FnOnce() -> A + Send + 'static) -> Addr<A>
    where
        K: Eq + Hash,
        A: Actor<Context = Context<A>> + Supervised,
    {
        registry.entry(key).or_insert_with(|| Supervisor::start_in_arbiter(&self.arbiter, move |_| make())).clone()
    }

    pub fn dispatching(&self) -> bool {
        self.dispatching.load(Ordering::Acquire)
    }

    pub fn start_dispatching(&self) {
        self.dispatching.store(true, Ordering::Release);
    }

    pub fn record_restart(&self) {
        self.restarts.fetch_add(1, Ordering::Relaxed);
    }

    pub fn restarts(&self) -> u64 {
        self.restarts.load(Ordering::Relaxed)
    }
}
