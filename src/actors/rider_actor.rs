//! One actor per rider: on/off duty (event-sourced), the live position (memory, written
//! behind in batches) and a view of the rider's trip (the orders it is offered, riding to
//! or carrying), which the orders that hold the rider keep current. The actor routes the
//! trip ([`trip::route`]) and tells each order what the route means for its ETA.

use std::collections::BTreeMap;
use std::sync::Arc;

use actix::prelude::*;
use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::dispatch::trip::{self, Leg, Places, StopKind};
use crate::domain::order::OrderCommand;
use crate::domain::rider::{Duty, OfflineReason, Rider, RiderCommand, RiderError, RiderEvent};
use crate::domain::{GeoPoint, OrderId, RiderId, ZoneId};
use crate::matching::eta::RiderAt;
use crate::persistence::PositionRecord;

use super::dispatcher::RiderPresence;
use super::event_sourced::{self, stream_handlers, EventSourced, Stream};
use super::order_actor::{Execute, RiderMoved};
use super::{CommandError, Platform};

/// A rider as the rider app and the operator see it.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct RiderView {
    pub id: RiderId,
    pub name: String,
    pub zone: ZoneId,
    pub online: bool,
    /// The most pressing of its jobs: an offer to answer, then food on board, then a store
    /// to ride to.
    pub duty: Duty,
    /// The route through every stop left on its trip, offered stops included, in order.
    pub trip: Vec<TripStop>,
    pub position: Option<GeoPoint>,
    pub position_at: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub offline_reason: Option<OfflineReason>,
    /// When its shift ends, as it said on going online.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shift_ends_at: Option<DateTime<Utc>>,
}

/// One stop of a rider's route.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct TripStop {
    pub order_id: OrderId,
    pub kind: StopKind,
    pub at: GeoPoint,
    /// When the rider gets here riding from where it is now (food still cooking aside).
    pub eta: DateTime<Utc>,
    /// The order is offered and not yet taken: the stop stays on the route if it is.
    pub offered: bool,
}

#[derive(Message)]
#[rtype(result = "Result<RiderView, CommandError>")]
pub struct RiderCmd(pub RiderCommand);

/// A location ping from the rider app.
#[derive(Message)]
#[rtype(result = "Result<RiderView, CommandError>")]
pub struct Ping {
    pub position: GeoPoint,
}

/// The order that holds (or held) this rider says what the rider is doing for it.
#[derive(Message)]
#[rtype(result = "()")]
pub struct JobUpdate {
    pub order: OrderId,
    pub duty: Duty,
    pub places: Places<GeoPoint>,
}

/// How an offer to this rider ended, told by the order it was for: answered (taken or
/// declined) or let lapse.
#[derive(Message)]
#[rtype(result = "()")]
pub struct OfferOutcome {
    pub order: OrderId,
    pub lapsed: bool,
}

#[derive(Message)]
#[rtype(result = "Result<Option<RiderView>, CommandError>")]
pub struct GetRider;

/// The orders offered to the rider and not yet answered: the offer it answers as a whole.
#[derive(Message)]
#[rtype(result = "Vec<OrderId>")]
pub struct GetOffer;

pub struct RiderActor {
    id: RiderId,
    platform: Arc<Platform>,
    stream: Stream<Rider>,
    /// Its trip: each order holding it, what the rider does for it, and where.
    jobs: BTreeMap<OrderId, (Duty, Places<GeoPoint>)>,
    position: Option<(GeoPoint, DateTime<Utc>)>,
    /// Offers let lapse since the rider last answered one. A view of facts the orders hold
    /// (their `offer_expired` events), kept in memory: a restart forgives the streak.
    lapsed_in_row: u32,
    /// The answer deadline of the offer last counted as lapsed: the other orders of the same
    /// offer (one trip) lapse with it, and the offer counts once.
    last_lapsed: Option<DateTime<Utc>>,
}

impl RiderActor {
    pub fn new(id: RiderId, platform: Arc<Platform>) -> Self {
        RiderActor {
            id,
            stream: Stream::new(id, platform.clone()),
            platform,
            jobs: BTreeMap::new(),
            position: None,
            lapsed_in_row: 0,
            last_lapsed: None,
        }
    }

    fn view(&self) -> Option<RiderView> {
        self.stream.state.as_ref().map(|rider| RiderView {
            id: self.id,
            name: rider.name.clone(),
            zone: rider.zone.clone(),
            online: rider.online,
            duty: self.duty(),
            trip: self.route(true),
            position: self.position.map(|(p, _)| p),
            position_at: self.position.map(|(_, at)| at),
            offline_reason: rider.offline_reason,
            shift_ends_at: rider.shift_ends_at,
        })
    }

    /// The most pressing job: an offer waits for an answer, food on board comes before a
    /// store to ride to.
    fn duty(&self) -> Duty {
        let rank = |duty: &Duty| match duty {
            Duty::Offered { .. } => 0,
            Duty::Delivering { .. } => 1,
            Duty::EnRouteToStore { .. } => 2,
            Duty::Idle => 3,
        };
        self.jobs.values().map(|(duty, _)| duty).min_by_key(|duty| rank(duty)).cloned().unwrap_or(Duty::Idle)
    }

    /// What rules on going offline: food on board, if any, whatever else is going on.
    fn carrying(&self) -> Duty {
        let delivering = self.jobs.values().map(|(duty, _)| duty).find(|d| matches!(d, Duty::Delivering { .. }));
        delivering.cloned().unwrap_or_else(|| self.duty())
    }

    /// The route from where the rider is through its trip's stops: with the orders only
    /// offered (for the rider to see what taking them means) or without (what the
    /// customers are promised until the rider takes them).
    fn route(&self, with_offered: bool) -> Vec<TripStop> {
        let Some((position, _)) = self.position else { return Vec::new() };
        let now = Utc::now();
        trip::route(position, &self.legs(with_offered), &self.platform.settings.dispatch.speed)
            .into_iter()
            .map(|stop| TripStop {
                order_id: stop.order,
                kind: stop.kind,
                at: stop.at,
                eta: now + chrono::Duration::milliseconds((stop.arrive_secs * 1000.0) as i64),
                offered: matches!(self.jobs.get(&stop.order), Some((Duty::Offered { .. }, _))),
            })
            .collect()
    }

    /// The trip's orders as the route needs them: with the orders only offered, or not.
    fn legs(&self, with_offered: bool) -> Vec<Leg<GeoPoint>> {
        self.jobs
            .iter()
            .filter(|(_, (duty, _))| with_offered || !matches!(duty, Duty::Offered { .. }))
            .map(|(order, (duty, places))| Leg {
                order: *order,
                places: *places,
                picked_up: matches!(duty, Duty::Delivering { .. }),
            })
            .collect()
    }

    /// Each order on the trip keeps its ETA from the rider's position and the route of the
    /// orders taken ([`trip::along`]): when the rider reaches its store, and how much the
    /// other stops add to its ride. An order only offered is told the rider rides straight
    /// to it.
    fn tell_orders_where(&self) {
        let Some((position, _)) = self.position else { return };
        if self.jobs.is_empty() {
            return;
        }
        let along = trip::along(position, &self.legs(false), &self.platform.settings.dispatch.speed);
        for order in self.jobs.keys() {
            let at = match along.iter().find(|a| a.order == *order) {
                Some(a) => RiderAt { position, to_store_secs: a.to_store_secs, detour_secs: a.detour_secs().max(0.0) },
                None => RiderAt::direct(position),
            };
            if let Some(addr) = self.platform.order(*order) {
                addr.do_send(RiderMoved { rider: self.id, at });
            }
        }
    }

    /// Tell the zone's dispatcher where this rider is, or that it is off duty.
    fn announce(&self) {
        let Some(rider) = &self.stream.state else { return };
        let position = if rider.online { self.position.map(|(p, _)| p) } else { None };
        let shift_ends_at = rider.shift_ends_at;
        self.platform.dispatcher(&rider.zone).do_send(RiderPresence { rider: self.id, position, shift_ends_at });
    }
}

stream_handlers!(RiderActor);

impl Supervised for RiderActor {
    fn restarting(&mut self, _: &mut Context<Self>) {
        // The trip and the live position are views others keep current: they stay.
        self.stream.reset();
    }
}

impl EventSourced for RiderActor {
    type State = Rider;

    fn stream(&self) -> &Stream<Rider> {
        &self.stream
    }

    fn stream_mut(&mut self) -> &mut Stream<Rider> {
        &mut self.stream
    }

    fn resumed(&mut self, _: &mut Context<Self>) {
        if self.position.is_none() {
            let saved = self.platform.saved_positions.remove(&self.id).map(|(_, p)| p);
            let online_at = self.stream.state.as_ref().and_then(|r| r.online_at);
            self.position = saved.or(online_at).map(|p| (p, Utc::now()));
        }
        self.announce();
    }

    fn committed(&mut self, events: &[RiderEvent], _: &mut Context<Self>) {
        for event in events {
            match event {
                RiderEvent::WentOnline { position, at, .. } => {
                    self.position = Some((*position, *at));
                    self.lapsed_in_row = 0;
                    tracing::debug!(rider = %self.id, "rider online");
                }
                RiderEvent::WentOffline { reason, .. } => {
                    match reason {
                        Some(reason) => tracing::warn!(rider = %self.id, ?reason, "rider set offline"),
                        None => tracing::debug!(rider = %self.id, "rider offline"),
                    }
                    // Offers and jobs not yet picked up go back to dispatch.
                    for order in self.jobs.keys() {
                        if let Some(addr) = self.platform.order(*order) {
                            addr.do_send(Execute::new(OrderCommand::ReleaseRider { rider: self.id }));
                        }
                    }
                }
                RiderEvent::Registered { .. } => {}
            }
        }
        self.announce();
        if let Some(view) = self.view() {
            self.platform.hub.publish_rider(view);
        }
    }

    fn failed(&mut self, _: &CommandError, _: &mut Context<Self>) {
        // Never registered, and certainly not written (a write in doubt reloads instead).
        if self.stream.state.is_none() {
            self.platform.forget_rider(self.id);
        }
    }
}

impl Handler<RiderCmd> for RiderActor {
    type Result = AtomicResponse<Self, Result<RiderView, CommandError>>;

    fn handle(&mut self, RiderCmd(command): RiderCmd, ctx: &mut Context<Self>) -> Self::Result {
        let now = Utc::now();
        let duty = self.carrying();
        let run = event_sourced::execute(self, ctx, |rider| Rider::decide(rider, &duty, command, now));
        AtomicResponse::new(Box::pin(run.map(|written, act, _| {
            written?;
            act.view().ok_or(CommandError::NotFound("rider"))
        })))
    }
}

impl Handler<Ping> for RiderActor {
    type Result = Result<RiderView, CommandError>;

    fn handle(&mut self, ping: Ping, _: &mut Context<Self>) -> Self::Result {
        self.stream.ensure_loaded()?;
        let online = self.stream.state.as_ref().ok_or(CommandError::NotFound("rider"))?.online;
        if !online {
            return Err(RiderError::Offline.into());
        }
        let now = Utc::now();
        self.position = Some((ping.position, now));
        self.platform.dirty_positions.insert(
            self.id,
            PositionRecord { rider_id: self.id.as_uuid(), lat: ping.position.lat(), lon: ping.position.lon(), at: now },
        );
        self.announce();
        self.tell_orders_where();
        self.view().ok_or(CommandError::NotFound("rider"))
    }
}

impl Handler<JobUpdate> for RiderActor {
    type Result = ();

    fn handle(&mut self, update: JobUpdate, _: &mut Context<Self>) {
        let changed = match update.duty {
            Duty::Idle => self.jobs.remove(&update.order).is_some(),
            duty => self.jobs.insert(update.order, (duty.clone(), update.places)).is_none_or(|(was, _)| was != duty),
        };
        if !changed {
            return;
        }
        self.tell_orders_where();
        // The rider app hears of its trip's changes (an offer joining it, a stop done).
        if let Some(view) = self.view() {
            self.platform.hub.publish_rider(view);
        }
    }
}

impl Handler<OfferOutcome> for RiderActor {
    type Result = ();

    fn handle(&mut self, outcome: OfferOutcome, ctx: &mut Context<Self>) {
        if !outcome.lapsed {
            self.lapsed_in_row = 0;
            return;
        }
        // The order tells of the outcome before it lets the rider go: its job is still the
        // offer, with the offer's deadline.
        let offer = match self.jobs.get(&outcome.order) {
            Some((Duty::Offered { deadline, .. }, _)) => Some(*deadline),
            _ => None,
        };
        if offer.is_some() && offer == self.last_lapsed {
            return;
        }
        self.last_lapsed = offer;
        self.lapsed_in_row += 1;
        let limit = self.platform.settings.dispatch.lapsed_offers_offline;
        if limit == 0 || self.lapsed_in_row < limit {
            return;
        }
        tracing::info!(rider = %self.id, order = %outcome.order, lapsed = self.lapsed_in_row, "offers unanswered: setting the rider offline");
        // Off the dispatcher's free list at once, not after the write: the order that just
        // let it go is asking for a rider again, and the next tick must not pick this one.
        if let Some(rider) = &self.stream.state {
            let off = RiderPresence { rider: self.id, position: None, shift_ends_at: None };
            self.platform.dispatcher(&rider.zone).do_send(off);
        }
        let (now, duty, lapsed) = (Utc::now(), self.carrying(), self.lapsed_in_row);
        let command = RiderCommand::SetOfflineUnanswered { lapsed };
        let run = event_sourced::execute(self, ctx, move |rider| Rider::decide(rider, &duty, command, now));
        ctx.wait(run.map(|written, act, _| match written {
            Ok(_) => act.lapsed_in_row = 0,
            // Already offline, carrying food, or not written: the dispatcher hears where it
            // really is; the streak stands and the next lapse tries again.
            Err(error) => {
                tracing::debug!(rider = %act.id, %error, "rider not set offline");
                act.announce();
            }
        }));
    }
}

impl Handler<GetRider> for RiderActor {
    type Result = Result<Option<RiderView>, CommandError>;

    fn handle(&mut self, _: GetRider, _: &mut Context<Self>) -> Self::Result {
        self.stream.ensure_loaded()?;
        Ok(self.view())
    }
}

impl Handler<GetOffer> for RiderActor {
    type Result = Vec<OrderId>;

    fn handle(&mut self, _: GetOffer, _: &mut Context<Self>) -> Vec<OrderId> {
        self.jobs
            .iter()
            .filter(|(_, (duty, _))| matches!(duty, Duty::Offered { .. }))
            .map(|(order, _)| *order)
            .collect()
    }
}
