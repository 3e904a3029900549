//! Live updates fan-out: who listens to what. Order actors publish every committed change
//! (and, at most once a second, their rider's position); websocket sessions subscribe by
//! customer, store or rider. Publishing never waits on a subscriber: each push is a
//! fire-and-forget message to the session actor, which decides what to do with a slow
//! socket.

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use actix::{Message, Recipient};
use chrono::{DateTime, Utc};
use dashmap::DashMap;

use crate::domain::order::Order;
use crate::domain::{CustomerId, GeoPoint, OrderId, RiderId, StoreId};

use super::rider_actor::RiderView;

/// What a session can listen to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Topic {
    Customer(CustomerId),
    Store(StoreId),
    Rider(RiderId),
    /// Every order change: the operator's view of the city and the demo's simulator.
    Operations,
}

/// One update for subscribers.
#[derive(Clone, Debug, Message)]
#[rtype(result = "()")]
pub enum Push {
    /// An order changed; `version` is its stream version after the change.
    Order { order: Arc<Order>, version: i64, events: Arc<[&'static str]> },
    /// Where the rider carrying an order is.
    RiderPosition { order: OrderId, rider: RiderId, position: GeoPoint, at: DateTime<Utc> },
    /// A rider came on or went off duty (by its own word or the platform's).
    Rider(Arc<RiderView>),
}

#[derive(Default)]
pub struct Hub {
    subscribers: DashMap<Topic, Vec<(u64, Recipient<Push>)>>,
    /// Each customer's live orders: what a customer session starts from.
    customer_orders: DashMap<CustomerId, HashSet<OrderId>>,
    next_id: AtomicU64,
    sessions: AtomicU64,
}

impl Hub {
    /// Subscribe `recipient` to `topic`; the id unsubscribes.
    pub fn subscribe(&self, topic: Topic, recipient: Recipient<Push>) -> u64 {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        self.subscribers.entry(topic).or_default().push((id, recipient));
        id
    }

    pub fn unsubscribe(&self, topic: Topic, id: u64) {
        if let Some(mut subs) = self.subscribers.get_mut(&topic) {
            subs.retain(|(sid, _)| *sid != id);
        }
        self.subscribers.remove_if(&topic, |_, subs| subs.is_empty());
    }

    pub fn publish(&self, topic: Topic, push: &Push) {
        if let Some(subs) = self.subscribers.get(&topic) {
            for (_, recipient) in subs.iter() {
                recipient.do_send(push.clone());
            }
        }
    }

    /// Publish an order change to its customer, its store, the riders it concerns, and the
    /// operations view.
    pub fn publish_order(&self, order: &Order, version: i64, events: &[&'static str], riders: &[RiderId]) {
        let push = Push::Order { order: Arc::new(order.clone()), version, events: events.into() };
        self.publish(Topic::Customer(order.terms.customer_id), &push);
        self.publish(Topic::Store(order.terms.store_id), &push);
        for rider in riders {
            self.publish(Topic::Rider(*rider), &push);
        }
        self.publish(Topic::Operations, &push);
    }

    /// Tell the rider's own sessions (every device it is signed in on) what it is now.
    pub fn publish_rider(&self, rider: RiderView) {
        self.publish(Topic::Rider(rider.id), &Push::Rider(Arc::new(rider)));
    }

    pub fn track(&self, customer: CustomerId, order: OrderId, live: bool) {
        if live {
            self.customer_orders.entry(customer).or_default().insert(order);
        } else {
            if let Some(mut orders) = self.customer_orders.get_mut(&customer) {
                orders.remove(&order);
            }
            self.customer_orders.remove_if(&customer, |_, orders| orders.is_empty());
        }
    }

    pub fn orders_of(&self, customer: CustomerId) -> Vec<OrderId> {
        self.customer_orders.get(&customer).map(|o| o.iter().copied().collect()).unwrap_or_default()
    }

    pub fn session_opened(&self) {
        self.sessions.fetch_add(1, Ordering::Relaxed);
    }

    pub fn session_closed(&self) {
        self.sessions.fetch_sub(1, Ordering::Relaxed);
    }

    /// Websocket sessions open now.
    pub fn sessions(&self) -> u64 {
        self.sessions.load(Ordering::Relaxed)
    }
}
