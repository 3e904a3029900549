//! One actor per live order: the owner of the order's state and the orchestrator of its
//! saga (payment, store, dispatch, delivery, and the compensations when it dies).
//!
//! Side effects are level-triggered: after every change, and after a (re)load, `sync` looks
//! at the state and makes the world agree with it (timers, payment calls, the dispatcher,
//! the rider's and store's views). So a restart needs no special recovery path: loading the
//! state and syncing once resumes whatever was in flight, and a deadline that passed while
//! the server was down fires at once.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::prelude::*;
use chrono::{DateTime, Utc};

use crate::dispatch::duties::{self, PaymentCall};
use crate::domain::order::{Courier, Kitchen, Order, OrderCommand, OrderEvent, OrderStatus, Phase};
use crate::domain::rider::Duty;
use crate::domain::{OrderId, RiderId};
use crate::matching::eta::{self, RiderAt};
use crate::payment::PaymentError;
use crate::telemetry::names;

use super::backoff::Backoff;
use super::dispatcher::OrderNeeds;
use super::event_sourced::{self, stream_handlers, EventSourced, Stream};
use super::hub::{Push, Topic};
use super::rider_actor::{JobUpdate, OfferOutcome};
use super::store_actor::{BoardEntry, BoardUpdate};
use super::{CommandError, Platform};

/// Run a command against the order; the reply is the order after it, once durable. It
/// carries the span of whoever sent it (an HTTP request, a timer, the dispatcher), so the
/// work it causes is logged under the same request id.
#[derive(Message)]
#[rtype(result = "Result<Order, CommandError>")]
pub struct Execute {
    pub command: OrderCommand,
    span: tracing::Span,
}

impl Execute {
    pub fn new(command: OrderCommand) -> Self {
        Execute { command, span: tracing::Span::current() }
    }
}

/// The order as it stands (`None`: no such order).
#[derive(Message)]
#[rtype(result = "Result<Option<Order>, CommandError>")]
pub struct GetOrder;

/// The order with its stream version, for a subscriber that starts from a snapshot and
/// then takes only later changes.
#[derive(Message)]
#[rtype(result = "Result<Option<(Order, i64)>, CommandError>")]
pub struct GetOrderVersioned;

/// Say again what the order needs from the world (timers, dispatch, views).
#[derive(Message)]
#[rtype(result = "()")]
pub struct Resync;

/// The rider holding this order moved, or its trip changed: the ETA may change.
#[derive(Message)]
#[rtype(result = "()")]
pub struct RiderMoved {
    pub rider: RiderId,
    pub at: RiderAt,
}

pub struct OrderActor {
    id: OrderId,
    platform: Arc<Platform>,
    stream: Stream<Order>,
    /// Armed deadlines: the command each fires, when, and its timer.
    timers: Vec<(&'static str, DateTime<Utc>, SpawnHandle)>,
    payment_in_flight: bool,
    /// The rider whose view of their duty we last set, so it can be cleared on release.
    rider_told: Option<RiderId>,
    /// Where that rider was last seen and what its trip means for this order, for the ETA.
    rider_position: Option<(RiderId, RiderAt)>,
    /// When the customer was last sent the rider's position (at most once a second).
    position_pushed: Option<Instant>,
    /// The status this order is counted under in the metrics.
    counted: Option<OrderStatus>,
    /// The span of the command being handled, for what it causes.
    span: tracing::Span,
    /// After a write that failed for want of the database: when to try again.
    retry: Backoff,
    /// Set while the order resyncs after a refused command: it sends itself nothing then.
    quiet: bool,
}

type Call = Pin<Box<dyn Future<Output = Option<OrderCommand>>>>;

impl OrderActor {
    pub fn new(id: OrderId, platform: Arc<Platform>) -> Self {
        OrderActor {
            id,
            stream: Stream::new(id, platform.clone()),
            platform,
            timers: Vec::new(),
            payment_in_flight: false,
            rider_told: None,
            rider_position: None,
            position_pushed: None,
            counted: None,
            span: tracing::Span::none(),
            retry: Backoff::default(),
            quiet: false,
        }
    }

    fn sync(&mut self, ctx: &mut Context<Self>) {
        let Some(order) = self.stream.state.clone() else {
            return;
        };
        self.count(order.status());
        self.sync_timers(&order, ctx);
        self.sync_payment(&order, ctx);
        self.sync_dispatch(&order);
        self.sync_rider(&order);
        self.sync_store(&order);
        self.sync_eta(&order, ctx);
        if order.is_settled() {
            self.retire(ctx);
        }
    }

    /// Keep the live-orders-by-status gauge (and the finished counter) in step.
    fn count(&mut self, status: OrderStatus) {
        if self.counted == Some(status) {
            return;
        }
        if let Some(old) = self.counted.filter(|s| !s.is_terminal()) {
            metrics::gauge!(names::ORDERS_LIVE, "status" => old.as_str()).decrement(1.0);
        }
        if status.is_terminal() {
            metrics::counter!(names::ORDERS_FINISHED, "status" => status.as_str()).increment(1);
        } else {
            metrics::gauge!(names::ORDERS_LIVE, "status" => status.as_str()).increment(1.0);
        }
        self.counted = Some(status);
    }

    /// Arm a timer for each deadline in force, and drop the ones no longer wanted. A
    /// deadline that passed while the server was down fires at once.
    fn sync_timers(&mut self, order: &Order, ctx: &mut Context<Self>) {
        let settings = &self.platform.settings;
        let wanted = duties::deadlines(order, &settings.dispatch, &settings.orders);
        self.timers.retain(|(name, at, handle)| {
            let keep = wanted.iter().any(|(deadline, command)| command.name() == *name && deadline == at);
            if !keep {
                ctx.cancel_future(*handle);
            }
            keep
        });
        for (deadline, command) in wanted {
            let name = command.name();
            if self.timers.iter().any(|(n, at, _)| *n == name && *at == deadline) {
                continue;
            }
            let delay = (deadline - Utc::now()).to_std().unwrap_or_default() + Duration::from_millis(1);
            let handle = ctx.run_later(delay, move |act, ctx| {
                act.timers.retain(|(n, at, _)| !(*n == name && *at == deadline));
                act.command_self(command, ctx);
            });
            self.timers.push((name, deadline, handle));
        }
    }

    fn sync_payment(&mut self, order: &Order, ctx: &mut Context<Self>) {
        if self.payment_in_flight {
            return;
        }
        let gateway = self.platform.gateway.clone();
        let id = self.id;
        let Some(wanted) = duties::payment_call(order) else { return };
        let call: Call = match wanted {
            // Also after a cancellation that came before the provider answered: the answer
            // is needed, to void a hold that was granted after all.
            PaymentCall::Authorize => {
                let amount = order.terms.total;
                let timeout = chrono::Duration::seconds(self.platform.settings.orders.payment_timeout_secs as i64);
                let give_up_at = order.placed_at + timeout;
                Box::pin(async move {
                    match gateway.authorize(id, amount).await {
                        Ok(authorization) => Some(OrderCommand::RecordAuthorization { authorization }),
                        Err(PaymentError::Declined(reason)) => Some(OrderCommand::RecordDecline { reason }),
                        // Unavailable is no answer: ask again (the order id makes it safe),
                        // until the payment timeout. Then the order gives up, but not on a
                        // guess that nothing was held: the hold is voided by the order id.
                        Err(PaymentError::Unavailable(reason)) if Utc::now() >= give_up_at => {
                            Some(OrderCommand::AbandonPayment {
                                reason: format!("payment provider unavailable: {reason}"),
                            })
                        }
                        Err(PaymentError::Unavailable(reason)) => {
                            tracing::warn!(order = %id, %reason, "authorization not answered; will retry");
                            None
                        }
                    }
                })
            }
            PaymentCall::Void { authorization } => Box::pin(async move {
                match gateway.void(id, &authorization).await {
                    Ok(()) => Some(OrderCommand::RecordVoid),
                    Err(error) => {
                        tracing::warn!(order = %id, %error, "void failed; will retry");
                        None
                    }
                }
            }),
            PaymentCall::VoidUnanswered => Box::pin(async move {
                match gateway.void_unanswered(id).await {
                    Ok(()) => Some(OrderCommand::RecordVoid),
                    Err(error) => {
                        tracing::warn!(order = %id, %error, "void of an unanswered authorization failed; will retry");
                        None
                    }
                }
            }),
            PaymentCall::Capture { authorization } => Box::pin(async move {
                match gateway.capture(id, &authorization).await {
                    Ok(()) => Some(OrderCommand::RecordCapture),
                    Err(error) => {
                        tracing::warn!(order = %id, %error, "capture failed; will retry");
                        None
                    }
                }
            }),
        };
        self.payment_in_flight = true;
        let retry = Duration::from_millis(self.platform.settings.orders.payment_retry_ms.max(10));
        ctx.spawn(call.into_actor(self).map(move |outcome, act, ctx| {
            act.payment_in_flight = false;
            match outcome {
                Some(command) => act.command_self(command, ctx),
                None => {
                    ctx.run_later(retry, |act, ctx| act.sync(ctx));
                }
            }
        }));
    }

    /// A rider counts the offers it lets lapse in a row (and is set offline after a few):
    /// tell it how each of its offers ended.
    fn tell_offer_outcomes(&self, events: &[OrderEvent]) {
        for event in events {
            let (rider, lapsed) = match event {
                OrderEvent::OfferExpired { rider, .. } => (*rider, true),
                OrderEvent::RiderAccepted { rider, .. } | OrderEvent::RiderDeclined { rider, .. } => (*rider, false),
                _ => continue,
            };
            if let Some(addr) = self.platform.rider(rider) {
                addr.do_send(OfferOutcome { order: self.id, lapsed });
            }
        }
    }

    fn sync_dispatch(&self, order: &Order) {
        let Some(need) = duties::need(order, &self.platform.settings.dispatch) else { return };
        self.platform.dispatcher(&order.terms.zone).do_send(OrderNeeds {
            order: self.id,
            places: duties::places(order),
            need,
        });
    }

    fn sync_rider(&mut self, order: &Order) {
        let id = self.id;
        let duty = duties::rider_duty(order);
        let current = duty.as_ref().map(|(rider, _)| *rider);
        if let Some(previous) = self.rider_told.filter(|previous| Some(*previous) != current) {
            if let Some(addr) = self.platform.rider(previous) {
                addr.do_send(JobUpdate { order: id, duty: Duty::Idle, places: duties::places(order) });
            }
        }
        if let Some((rider, duty)) = duty {
            if let Some(addr) = self.platform.rider(rider) {
                addr.do_send(JobUpdate { order: id, duty, places: duties::places(order) });
            }
        }
        self.rider_told = current;
    }

    /// Re-estimate pickup and drop-off; a significant change becomes an event (and so
    /// reaches the customer). Small shifts are not worth an event.
    fn sync_eta(&self, order: &Order, ctx: &mut Context<Self>) {
        let position = self.rider_position.filter(|(rider, _)| Some(*rider) == order.rider()).map(|(_, p)| p);
        let speed = &self.platform.settings.dispatch.speed;
        let Some(eta) = eta::estimate(order, position, Utc::now(), speed) else { return };
        if order.eta.is_none_or(|current| eta.differs_from(&current)) {
            self.command_self(OrderCommand::UpdateEta(eta), ctx);
        }
    }

    /// Queue a command of the order's own (a deadline, a payment answer, a new ETA) behind
    /// the others in the mailbox. Not `ctx.notify`: a notified message is a context item,
    /// and actix polls items in the same pass as the mailbox, before a command taken from
    /// the mailbox has registered its wait, so the two would be decided against the same
    /// version and one append would conflict. The mailbox holds each command back until the
    /// one before it is durable.
    ///
    /// Nothing is sent while a retry is pending (the database was unavailable: the retry
    /// resyncs and asks again) or while resyncing after a refusal: a failure path that
    /// sends itself new work turns one failure into a storm.
    fn command_self(&self, command: OrderCommand, ctx: &mut Context<Self>) {
        if self.quiet || self.retry.waiting() {
            return;
        }
        ctx.address().do_send(Execute::new(command));
    }

    fn sync_store(&self, order: &Order) {
        let entry = (!order.status().is_terminal()).then(|| BoardEntry::of(order));
        if let Some(addr) = self.platform.store(order.terms.store_id) {
            addr.do_send(BoardUpdate { order: self.id, entry });
        }
    }

    /// Finished and settled: leave the registry, so the actor stops once idle.
    fn retire(&mut self, ctx: &mut Context<Self>) {
        for (_, _, handle) in self.timers.drain(..) {
            ctx.cancel_future(handle);
        }
        self.platform.forget_order(self.id);
        if let Some(order) = &self.stream.state {
            self.platform.hub.track(order.terms.customer_id, self.id, false);
        }
    }
}

/// Operator alerts go to the log as warnings as well as to the dashboard, so whoever
/// watches the logs (or alerts on them) hears of them without the page open.
fn warn_of_alerts(order: &Order, events: &[OrderEvent]) {
    for event in events {
        if let OrderEvent::KitchenLate { at } = event {
            let promised = match &order.phase {
                Phase::Active { kitchen: Kitchen::Preparing { ready_by }, .. } => Some(*ready_by),
                _ => order
                    .accepted_at
                    .zip(order.prep_minutes)
                    .map(|(accepted, prep)| accepted + chrono::Duration::minutes(i64::from(prep))),
            };
            // Only an accepted order can be flagged, so a promise is always there.
            let ready_by = promised.unwrap_or(*at);
            // The customer is not told: delay notices are a later piece of work.
            tracing::warn!(
                order = %order.id,
                store = %order.terms.store_id,
                promised_ready_at = %ready_by.to_rfc3339(),
                minutes_late = (*at - ready_by).num_minutes(),
                prep_minutes = order.prep_minutes.unwrap_or(0),
                "kitchen well past its promised ready time; operator alerted"
            );
        }
    }
}

stream_handlers!(OrderActor);

impl Supervised for OrderActor {
    fn restarting(&mut self, _ctx: &mut Context<Self>) {
        self.stream.reset();
        self.timers.clear();
        self.payment_in_flight = false;
    }
}

impl EventSourced for OrderActor {
    type State = Order;

    fn stream(&self) -> &Stream<Order> {
        &self.stream
    }

    fn stream_mut(&mut self) -> &mut Stream<Order> {
        &mut self.stream
    }

    fn resumed(&mut self, ctx: &mut Context<Self>) {
        if let Some(order) = &self.stream.state {
            self.platform.hub.track(order.terms.customer_id, self.id, !order.status().is_terminal());
        }
        self.sync(ctx);
    }

    fn committed(&mut self, events: &[OrderEvent], ctx: &mut Context<Self>) {
        self.retry.succeeded();
        let span = self.span.clone();
        let _entered = span.enter();
        let names: Vec<&'static str> = events.iter().map(OrderEvent::name).collect();
        tracing::info!(order = %self.id, events = ?names, "order events");
        if let Some(order) = &self.stream.state {
            warn_of_alerts(order, events);
        }
        self.tell_offer_outcomes(events);
        let previous_rider = self.rider_told;
        self.sync(ctx);
        if let Some(order) = &self.stream.state {
            let mut riders: Vec<RiderId> = order.rider().into_iter().chain(previous_rider).collect();
            riders.dedup();
            let hub = &self.platform.hub;
            hub.track(order.terms.customer_id, self.id, !order.status().is_terminal());
            hub.publish_order(order, self.stream.journal.version(), &names, &riders);
        }
    }

    fn failed(&mut self, error: &CommandError, ctx: &mut Context<Self>) {
        if self.stream.state.is_none() {
            // Never placed (and certainly not written): nothing to keep alive.
            self.retire(ctx);
            return;
        }
        if let CommandError::Unavailable(_) = error {
            // Nothing was written, for want of the database: try again later, not now. One
            // retry at a time; what else comes meanwhile waits for it.
            if !self.retry.waiting() {
                let delay = self.retry.failed();
                ctx.run_later(delay, |act, ctx| act.sync(ctx));
            }
            return;
        }
        // Refused: the caller's view was stale (a dispatcher offer, a late timer). Say again
        // what the order needs now, without sending itself anything.
        self.quiet = true;
        self.sync(ctx);
        self.quiet = false;
    }
}

impl Handler<Execute> for OrderActor {
    type Result = AtomicResponse<Self, Result<Order, CommandError>>;

    fn handle(&mut self, Execute { command, span }: Execute, ctx: &mut Context<Self>) -> Self::Result {
        let entered = span.clone().entered();
        self.span = span.clone();
        let now = Utc::now();
        let run = event_sourced::execute(self, ctx, |order| Order::decide(order, command, now));
        drop(entered);
        AtomicResponse::new(Box::pin(run.map(move |written, act, ctx| {
            let _entered = span.enter();
            if written? == 0 {
                // A timer or a duplicate: re-arm whatever the state still needs.
                act.sync(ctx);
            }
            act.stream.state.clone().ok_or(CommandError::NotFound("order"))
        })))
    }
}

impl Handler<GetOrder> for OrderActor {
    type Result = Result<Option<Order>, CommandError>;

    fn handle(&mut self, _: GetOrder, _: &mut Context<Self>) -> Self::Result {
        self.stream.ensure_loaded()?;
        Ok(self.stream.state.clone())
    }
}

impl Handler<Resync> for OrderActor {
    type Result = ();

    fn handle(&mut self, _: Resync, ctx: &mut Context<Self>) {
        self.sync(ctx);
    }
}

impl Handler<GetOrderVersioned> for OrderActor {
    type Result = Result<Option<(Order, i64)>, CommandError>;

    fn handle(&mut self, _: GetOrderVersioned, _: &mut Context<Self>) -> Self::Result {
        self.stream.ensure_loaded()?;
        Ok(self.stream.state.clone().map(|order| (order, self.stream.journal.version())))
    }
}

impl Handler<RiderMoved> for OrderActor {
    type Result = ();

    fn handle(&mut self, moved: RiderMoved, ctx: &mut Context<Self>) {
        self.rider_position = Some((moved.rider, moved.at));
        let Some(order) = self.stream.state.clone() else { return };
        if order.rider() != Some(moved.rider) {
            return;
        }
        self.sync_eta(&order, ctx);
        // The customer sees the rider move once the job is theirs, at most once a second.
        let on_the_job =
            matches!(order.phase, Phase::Active { courier: Courier::Assigned { .. }, .. } | Phase::PickedUp { .. });
        if on_the_job && self.position_pushed.is_none_or(|at| at.elapsed() >= Duration::from_secs(1)) {
            self.position_pushed = Some(Instant::now());
            let push =
                Push::RiderPosition { order: self.id, rider: moved.rider, position: moved.at.position, at: Utc::now() };
            self.platform.hub.publish(Topic::Customer(order.terms.customer_id), &push);
        }
    }
}
