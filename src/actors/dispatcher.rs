//! One dispatcher per zone: it knows which riders are online and where, which are held by an
//! order (offered, assigned, carrying), and which orders wait for a rider. Every tick it
//! offers each waiting order, oldest first, the nearest free rider who has not turned it
//! down.
//!
//! Its state is a view, not a record: riders announce their presence and orders announce
//! what they need, so after a restart both simply announce again. Ticking starts only once
//! recovery has finished, so no rider held by a not-yet-loaded order is offered twice.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use actix::prelude::*;
use chrono::{DateTime, Duration, Utc};

use crate::domain::order::OrderCommand;
use crate::domain::{GeoPoint, OrderId, RiderId, ZoneId};
use crate::matching::RiderIndex;

use super::order_actor::Execute;
use super::Platform;

/// A rider's position while on duty, or `None` when off duty.
#[derive(Message)]
#[rtype(result = "()")]
pub struct RiderPresence {
    pub rider: RiderId,
    pub position: Option<GeoPoint>,
}

/// What an order needs from dispatch now.
#[derive(Clone, Debug, PartialEq)]
pub enum Need {
    /// A rider, other than these.
    Rider { excluded: BTreeSet<RiderId>, since: DateTime<Utc> },
    /// Nothing new: it holds this rider.
    Holds(RiderId),
    /// Nothing: it is done with dispatch.
    Nothing,
}

#[derive(Message)]
#[rtype(result = "()")]
pub struct OrderNeeds {
    pub order: OrderId,
    pub pickup: GeoPoint,
    pub need: Need,
}

/// The order refused an offer (its state moved on): free the rider.
#[derive(Message)]
#[rtype(result = "()")]
struct OfferRefused {
    order: OrderId,
    rider: RiderId,
}

struct Job {
    pickup: GeoPoint,
    excluded: BTreeSet<RiderId>,
    since: DateTime<Utc>,
}

pub struct Dispatcher {
    zone: ZoneId,
    platform: Arc<Platform>,
    online: HashMap<RiderId, GeoPoint>,
    /// Free riders only: online and not held.
    free: RiderIndex,
    held_by: HashMap<RiderId, OrderId>,
    holding: HashMap<OrderId, RiderId>,
    waiting: HashMap<OrderId, Job>,
}

impl Dispatcher {
    pub fn new(zone: ZoneId, platform: Arc<Platform>) -> Self {
        Dispatcher {
            zone,
            platform,
            online: HashMap::new(),
            free: RiderIndex::new(),
            held_by: HashMap::new(),
            holding: HashMap::new(),
            waiting: HashMap::new(),
        }
    }

    fn hold(&mut self, rider: RiderId, order: OrderId) {
        if let Some(previous) = self.held_by.insert(rider, order) {
            if previous != order {
                tracing::warn!(%rider, %previous, %order, "rider claimed by two orders; the latest wins");
                self.holding.remove(&previous);
            }
        }
        self.holding.insert(order, rider);
        self.free.remove(rider);
    }

    fn release(&mut self, order: OrderId) {
        if let Some(rider) = self.holding.remove(&order) {
            if self.held_by.get(&rider) == Some(&order) {
                self.held_by.remove(&rider);
                if let Some(position) = self.online.get(&rider) {
                    self.free.upsert(rider, position);
                }
            }
        }
    }

    fn tick(&mut self, ctx: &mut Context<Self>) {
        if !self.platform.dispatching() || self.waiting.is_empty() || self.free.is_empty() {
            return;
        }
        let settings = &self.platform.settings.dispatch;
        let radius = settings.search_radius_m;
        let deadline = Utc::now() + Duration::seconds(i64::from(settings.offer_timeout_secs));
        let mut queue: Vec<(DateTime<Utc>, OrderId)> = self.waiting.iter().map(|(id, job)| (job.since, *id)).collect();
        queue.sort();
        for (_, order) in queue {
            let Some(job) = self.waiting.get(&order) else { continue };
            let excluded = &job.excluded;
            let pickup = job.pickup;
            let Some(rider) = self.free.nearest(&pickup, radius, |r| !excluded.contains(&r)) else { continue };
            self.waiting.remove(&order);
            self.hold(rider, order);
            let Some(addr) = self.platform.order(order) else {
                self.release(order);
                continue;
            };
            tracing::debug!(zone = %self.zone, %order, %rider, "offering");
            ctx.spawn(addr.send(Execute(OrderCommand::Offer { rider, deadline })).into_actor(self).map(
                move |reply, _, ctx| {
                    if !matches!(reply, Ok(Ok(_))) {
                        ctx.notify(OfferRefused { order, rider });
                    }
                },
            ));
            if self.free.is_empty() {
                break;
            }
        }
    }
}

impl Actor for Dispatcher {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        ctx.run_interval(self.platform.settings.dispatch.tick(), |act, ctx| act.tick(ctx));
    }
}

impl Supervised for Dispatcher {}

impl Handler<RiderPresence> for Dispatcher {
    type Result = ();

    fn handle(&mut self, presence: RiderPresence, _: &mut Context<Self>) {
        match presence.position {
            Some(position) => {
                self.online.insert(presence.rider, position);
                if !self.held_by.contains_key(&presence.rider) {
                    self.free.upsert(presence.rider, &position);
                }
            }
            None => {
                self.online.remove(&presence.rider);
                self.free.remove(presence.rider);
            }
        }
    }
}

impl Handler<OrderNeeds> for Dispatcher {
    type Result = ();

    fn handle(&mut self, needs: OrderNeeds, _: &mut Context<Self>) {
        let order = needs.order;
        if let Need::Holds(rider) = needs.need {
            if self.holding.get(&order) != Some(&rider) {
                self.release(order);
            }
            self.waiting.remove(&order);
            self.hold(rider, order);
            return;
        }
        self.release(order);
        match needs.need {
            Need::Rider { excluded, since } => {
                self.waiting.insert(order, Job { pickup: needs.pickup, excluded, since });
            }
            Need::Nothing | Need::Holds(_) => {
                self.waiting.remove(&order);
            }
        }
    }
}

impl Handler<OfferRefused> for Dispatcher {
    type Result = ();

    fn handle(&mut self, refused: OfferRefused, _: &mut Context<Self>) {
        if self.holding.get(&refused.order) == Some(&refused.rider) {
            self.release(refused.order);
        }
    }
}
