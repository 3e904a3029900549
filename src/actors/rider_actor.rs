//! One actor per rider: on/off duty (event-sourced), the live position (memory, written
//! behind in batches) and a view of the rider's current offer or job, which the order that
//! holds the rider keeps current.

use std::sync::Arc;

use actix::prelude::*;
use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::domain::order::OrderCommand;
use crate::domain::rider::{Duty, OfflineReason, Rider, RiderCommand, RiderError, RiderEvent};
use crate::domain::{GeoPoint, OrderId, RiderId, ZoneId};
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
    pub duty: Duty,
    pub position: Option<GeoPoint>,
    pub position_at: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub offline_reason: Option<OfflineReason>,
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

pub struct RiderActor {
    id: RiderId,
    platform: Arc<Platform>,
    stream: Stream<Rider>,
    duty: Duty,
    position: Option<(GeoPoint, DateTime<Utc>)>,
    /// Offers let lapse since the rider last answered one. A view of facts the orders hold
    /// (their `offer_expired` events), kept in memory: a restart forgives the streak.
    lapsed_in_row: u32,
}

impl RiderActor {
    pub fn new(id: RiderId, platform: Arc<Platform>) -> Self {
        RiderActor {
            id,
            stream: Stream::new(id, platform.clone()),
            platform,
            duty: Duty::Idle,
            position: None,
            lapsed_in_row: 0,
        }
    }

    fn view(&self) -> Option<RiderView> {
        self.stream.state.as_ref().map(|rider| RiderView {
            id: self.id,
            name: rider.name.clone(),
            zone: rider.zone.clone(),
            online: rider.online,
            duty: self.duty.clone(),
            position: self.position.map(|(p, _)| p),
            position_at: self.position.map(|(_, at)| at),
            offline_reason: rider.offline_reason,
        })
    }

    /// The order this rider works on keeps its ETA from the rider's position.
    fn tell_order_where(&self) {
        let (Some(order), Some((position, _))) = (self.duty.order(), self.position) else { return };
        if let Some(addr) = self.platform.order(order) {
            addr.do_send(RiderMoved { rider: self.id, position });
        }
    }

    /// Tell the zone's dispatcher where this rider is, or that it is off duty.
    fn announce(&self) {
        let Some(rider) = &self.stream.state else { return };
        let position = if rider.online { self.position.map(|(p, _)| p) } else { None };
        self.platform.dispatcher(&rider.zone).do_send(RiderPresence { rider: self.id, position });
    }
}

stream_handlers!(RiderActor);

impl Supervised for RiderActor {
    fn restarting(&mut self, _: &mut Context<Self>) {
        // The duty and the live position are views others keep current: they stay.
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
                RiderEvent::WentOnline { position, at } => {
                    self.position = Some((*position, *at));
                    self.lapsed_in_row = 0;
                    tracing::debug!(rider = %self.id, "rider online");
                }
                RiderEvent::WentOffline { reason, .. } => {
                    match reason {
                        Some(reason) => tracing::warn!(rider = %self.id, ?reason, "rider set offline"),
                        None => tracing::debug!(rider = %self.id, "rider offline"),
                    }
                    // An offer or a job not yet picked up goes back to dispatch.
                    if let Some(order) = self.duty.order() {
                        if let Some(addr) = self.platform.order(order) {
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
        let duty = self.duty.clone();
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
        self.tell_order_where();
        self.view().ok_or(CommandError::NotFound("rider"))
    }
}

impl Handler<JobUpdate> for RiderActor {
    type Result = ();

    fn handle(&mut self, update: JobUpdate, _: &mut Context<Self>) {
        match update.duty {
            // Only the order that holds the rider can let it go.
            Duty::Idle if self.duty.order() != Some(update.order) => {}
            duty => {
                self.duty = duty;
                self.tell_order_where();
            }
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
        self.lapsed_in_row += 1;
        let limit = self.platform.settings.dispatch.lapsed_offers_offline;
        if limit == 0 || self.lapsed_in_row < limit {
            return;
        }
        tracing::info!(rider = %self.id, order = %outcome.order, lapsed = self.lapsed_in_row, "offers unanswered: setting the rider offline");
        // Off the dispatcher's free list at once, not after the write: the order that just
        // let it go is asking for a rider again, and the next tick must not pick this one.
        if let Some(rider) = &self.stream.state {
            self.platform.dispatcher(&rider.zone).do_send(RiderPresence { rider: self.id, position: None });
        }
        let (now, duty, lapsed) = (Utc::now(), self.duty.clone(), self.lapsed_in_row);
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
