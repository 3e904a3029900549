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
//!
//! The decisions themselves are the clock-free [`Board`]'s (the benchmark replay drives
//! the same board on simulated time); this actor gives it wall-clock time, a tick timer,
//! and delivers its offers and releases to the order actors. Every offer leaves its
//! [`Decision`](crate::dispatch::Decision) (whom the tick weighed, why the others lost),
//! queued on the platform and written behind for operators to read.

use std::sync::Arc;
use std::time::Instant;

use actix::prelude::*;
use chrono::Utc;

use crate::dispatch::{Board, Places, Policy};
use crate::domain::order::OrderCommand;
use crate::domain::{GeoPoint, OrderId, RiderId, ZoneId};
use crate::telemetry::names;

pub use crate::dispatch::Need;

use super::order_actor::Execute;
use super::Platform;

/// A rider's position while on duty, or `None` when off duty, and when its shift ends.
#[derive(Message)]
#[rtype(result = "()")]
pub struct RiderPresence {
    pub rider: RiderId,
    pub position: Option<GeoPoint>,
    pub shift_ends_at: Option<chrono::DateTime<Utc>>,
}

#[derive(Message)]
#[rtype(result = "()")]
pub struct OrderNeeds {
    pub order: OrderId,
    pub places: Places<GeoPoint>,
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

/// The zone's [`Board`] on the wall clock, with its offers delivered to order actors.
pub struct Dispatcher {
    zone: ZoneId,
    platform: Arc<Platform>,
    board: Board<GeoPoint>,
}

impl Dispatcher {
    pub fn new(zone: ZoneId, platform: Arc<Platform>) -> Self {
        Dispatcher { zone, platform, board: Board::new() }
    }

    fn tick(&mut self, ctx: &mut Context<Self>) {
        if !self.platform.dispatching() {
            return;
        }
        let started = Instant::now();
        let (waiting, free) = (self.board.waiting_orders(), self.board.free_riders());
        let (offers, decisions) =
            self.board.tick_explained(Utc::now(), &self.platform.settings.dispatch, Policy::Optimal);
        if waiting == 0 {
            return;
        }
        metrics::histogram!(names::DISPATCH_TICK_SECONDS).record(started.elapsed().as_secs_f64());
        if offers.is_empty() {
            return;
        }
        self.platform.decisions.push(decisions);
        tracing::debug!(
            zone = %self.zone,
            jobs = waiting,
            free,
            offers = offers.len(),
            elapsed_us = started.elapsed().as_micros() as u64,
            "dispatch tick"
        );
        for offer in offers {
            let (order, rider, deadline) = (offer.order, offer.rider, offer.deadline);
            let Some(addr) = self.platform.order(order) else {
                self.board.withdraw(order);
                continue;
            };
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
        self.board.presence(presence.rider, presence.position, Utc::now());
        self.board.shift(presence.rider, presence.shift_ends_at);
    }
}

impl Handler<OrderNeeds> for Dispatcher {
    type Result = ();

    fn handle(&mut self, needs: OrderNeeds, _: &mut Context<Self>) {
        self.board.needs(needs.order, needs.places, needs.need);
    }
}

impl Handler<OfferAnswered> for Dispatcher {
    type Result = ();

    fn handle(&mut self, answer: OfferAnswered, _: &mut Context<Self>) {
        if self.board.answered(answer.order, answer.rider, answer.taken) {
            // Its need may have been set aside while the offer was out (a refusal, or the
            // offer taken and let go at once): ask the order what it needs now.
            if let Some(addr) = self.platform.order(answer.order) {
                addr.do_send(crate::actors::order_actor::Resync);
            }
        }
    }
}
