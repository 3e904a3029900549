//! One dispatcher per zone: it knows which riders are online and where, which are held by an
//! order (offered, assigned, carrying), and which orders wait for a rider. Every tick it
//! solves the batch assignment of all waiting orders to free riders (k nearest candidates
//! each, inside a radius that widens as the order waits; minimum total pickup ETA) and
//! offers each order its rider. A rider is free when online, not held, and heard from
//! recently; one who declined or let an offer lapse is never offered that order again.
//!
//! Its state is a view, not a record: riders announce their presence and orders announce
//! what they need, so after a restart both simply announce again. Ticking starts only once
//! recovery has finished, so no rider held by a not-yet-loaded order is offered twice.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::{Duration as StdDuration, Instant};

use actix::prelude::*;
use chrono::{DateTime, Duration, Utc};

use crate::domain::order::OrderCommand;
use crate::domain::{GeoPoint, OrderId, RiderId, ZoneId};
use crate::matching::{self, BatchSettings, RiderIndex};
use crate::telemetry::names;

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

/// The order answered an offer: taken, or refused (its state had moved on).
#[derive(Message)]
#[rtype(result = "()")]
struct OfferAnswered {
    order: OrderId,
    rider: RiderId,
    taken: bool,
}

struct Job {
    pickup: GeoPoint,
    excluded: BTreeSet<RiderId>,
    /// When dispatch started for the order: the radius widens from here.
    since: DateTime<Utc>,
}

/// Where an online rider was last heard from.
struct Seen {
    position: GeoPoint,
    at: Instant,
}

pub struct Dispatcher {
    zone: ZoneId,
    platform: Arc<Platform>,
    online: HashMap<RiderId, Seen>,
    /// Free riders only: online, fresh and not held.
    free: RiderIndex,
    held_by: HashMap<RiderId, OrderId>,
    holding: HashMap<OrderId, RiderId>,
    waiting: HashMap<OrderId, Job>,
    /// Offers sent and not yet answered: a need the order sent before it saw the offer
    /// must not free the rider meanwhile.
    offering: HashMap<OrderId, RiderId>,
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
            offering: HashMap::new(),
        }
    }

    fn hold(&mut self, rider: RiderId, order: OrderId) {
        if let Some(previous) = self.held_by.insert(rider, order) {
            if previous != order {
                // Two orders claim one rider (they loaded out of step): let both go back to
                // dispatch; an order whose food is on board keeps its rider by re-claiming it.
                tracing::warn!(%rider, %previous, %order, "rider claimed by two orders; releasing both");
                self.holding.remove(&previous);
                for claimant in [previous, order] {
                    if let Some(addr) = self.platform.order(claimant) {
                        addr.do_send(Execute::new(OrderCommand::ReleaseRider { rider }));
                    }
                }
            }
        }
        self.holding.insert(order, rider);
        self.free.remove(rider);
    }

    fn release(&mut self, order: OrderId) {
        if let Some(rider) = self.holding.remove(&order) {
            if self.held_by.get(&rider) == Some(&order) {
                self.held_by.remove(&rider);
                if let Some(seen) = self.online.get(&rider) {
                    self.free.upsert(rider, &seen.position);
                }
            }
        }
    }

    /// Riders not heard from for `stale_after_secs` leave the free index until they ping.
    fn drop_stale(&mut self) {
        let stale_after = StdDuration::from_secs(self.platform.settings.dispatch.stale_after_secs);
        let now = Instant::now();
        for (rider, seen) in &self.online {
            if now.duration_since(seen.at) > stale_after {
                self.free.remove(*rider);
            }
        }
    }

    fn tick(&mut self, ctx: &mut Context<Self>) {
        if !self.platform.dispatching() {
            return;
        }
        self.drop_stale();
        if self.waiting.is_empty() || self.free.is_empty() {
            return;
        }
        let started = Instant::now();
        let settings = &self.platform.settings.dispatch;
        let now = Utc::now();
        let mut jobs: Vec<matching::Job> = self
            .waiting
            .iter()
            .map(|(order, job)| {
                let waited_secs = (now - job.since).num_milliseconds().max(0) as f64 / 1000.0;
                matching::Job {
                    order: *order,
                    pickup: job.pickup,
                    excluded: job.excluded.clone(),
                    radius_m: settings.radius_after(waited_secs),
                    waited_secs,
                }
            })
            .collect();
        // Oldest first: the solver is exact either way, but ties go to the longest wait.
        jobs.sort_by(|a, b| b.waited_secs.total_cmp(&a.waited_secs).then(a.order.cmp(&b.order)));
        let batch =
            BatchSettings { k: settings.candidates_k.max(1), speed: settings.speed, age_weight: settings.age_weight };
        let pairings = matching::plan(&jobs, &self.free, &batch);
        let deadline = now + Duration::seconds(i64::from(settings.offer_timeout_secs));
        metrics::histogram!(names::DISPATCH_TICK_SECONDS).record(started.elapsed().as_secs_f64());
        tracing::debug!(
            zone = %self.zone,
            jobs = jobs.len(),
            free = self.free.len(),
            offers = pairings.len(),
            elapsed_us = started.elapsed().as_micros() as u64,
            "dispatch tick"
        );
        for pairing in pairings {
            let (order, rider) = (pairing.order, pairing.rider);
            self.waiting.remove(&order);
            self.hold(rider, order);
            let Some(addr) = self.platform.order(order) else {
                self.release(order);
                continue;
            };
            self.offering.insert(order, rider);
            ctx.spawn(addr.send(Execute::new(OrderCommand::Offer { rider, deadline })).into_actor(self).map(
                move |reply, _, ctx| {
                    ctx.notify(OfferAnswered { order, rider, taken: matches!(reply, Ok(Ok(_))) });
                },
            ));
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
                self.online.insert(presence.rider, Seen { position, at: Instant::now() });
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
        if self.offering.contains_key(&order) && matches!(needs.need, Need::Rider { .. }) {
            // Sent before the order saw our offer; its answer settles what it needs.
            return;
        }
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

impl Handler<OfferAnswered> for Dispatcher {
    type Result = ();

    fn handle(&mut self, answer: OfferAnswered, _: &mut Context<Self>) {
        self.offering.remove(&answer.order);
        if !answer.taken && self.holding.get(&answer.order) == Some(&answer.rider) {
            self.release(answer.order);
            // The order re-sends what it needs when it refuses; ask again in case that
            // message was dropped as stale above.
            if let Some(addr) = self.platform.order(answer.order) {
                addr.do_send(crate::actors::order_actor::Resync);
            }
        }
    }
}
