//! The simulation loop: an agenda of timed happenings on a simulated clock. Customers,
//! store staff and riders behave as the live simulator's do ([`crate::sim::city`]), and
//! every decision goes through the server's own rules: each order through the order state
//! machine, its deadlines and what it needs from dispatch through [`duties`], and dispatch
//! through the zone [`Board`] with its batch matcher, ticking as often as the server's.

use std::collections::HashMap;
use std::time::Instant;

use chrono::{DateTime, Duration, Utc};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

use crate::dispatch::duties::{self, PaymentCall};
use crate::dispatch::trip::{self, Leg};
use crate::dispatch::Board;
use crate::domain::order::{Courier, Kitchen, Order, OrderCommand, OrderEvent, Phase};
use crate::domain::rider::Duty;
use crate::domain::store::{Store, StoreCommand};
use crate::domain::{CustomerId, GeoPoint, OrderId, RiderId};
use crate::sim::agenda::Agenda;
use crate::sim::route::metres_per_sec;
use crate::sim::{customers, demo, kitchen};

use super::kpi::{Outcome, Sample, Trace};
use super::plan::Plan;

/// Milliseconds of simulated time since the start.
pub type Millis = i64;

/// Customers who order in the simulated city.
const CUSTOMERS: usize = 200;
/// Riders report where they are this often, as the live simulator's do (those on a trip too:
/// the board offers them orders to join it).
const IDLE_PING: Millis = 10_000;
/// The open orders and idle riders are sampled this often for the report's charts.
const SAMPLE_EVERY: Millis = 60_000;
/// Mixed into the seed for the riders' and each order's streams of chance.
const RIDERS_STREAM: u64 = 0x5249_4445_5253;
const ORDER_STREAM: u64 = 0x9E37_79B9_7F4A_7C15;
const REJECT_REASONS: &[&str] = &["too busy right now", "out of an ingredient", "kitchen closing soon"];

/// Where the simulated day begins: a weekday lunchtime, so the report's clock reads naturally.
fn start() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-03-02T11:00:00Z").map(|t| t.with_timezone(&Utc)).unwrap_or_default()
}

/// Things that happen at a set time.
#[derive(Clone, Debug)]
enum Happening {
    /// The next customer orders.
    Arrival,
    PaymentAnswered(usize),
    StoreAnswers(usize),
    Cooked(usize),
    /// The rider answers the offer it was made (every order of it at once).
    RiderAnswers {
        order: usize,
        rider: usize,
    },
    /// The rider reaches the next stop of its trip.
    Arrives {
        rider: usize,
        at: GeoPoint,
    },
    /// A deadline the order's state called for; it fires only if still in force.
    Deadline {
        order: usize,
        at: DateTime<Utc>,
        command: OrderCommand,
    },
    DispatchTick,
    IdlePings,
    Sample,
}

struct SimRider {
    id: RiderId,
    /// Where the rider is, or was when it set off for the next stop.
    position: GeoPoint,
    speed_mps: f64,
    /// The orders of its trip, by index, in the order they joined it.
    trip: Vec<usize>,
    /// Orders offered to it and not yet answered.
    offered: Vec<usize>,
    /// On the way to a stop (its `Arrives` is on the agenda).
    moving: bool,
    /// Since when the rider has had a trip.
    busy_since: Option<Millis>,
    /// Time on trips inside the ordering window, for utilisation.
    busy_ms: Millis,
}

struct SimOrder {
    id: OrderId,
    state: Option<Order>,
    /// The deadlines armed so far, by command name and time.
    armed: Vec<(&'static str, DateTime<Utc>)>,
    /// The rider whose trip this order is on.
    carrier: Option<usize>,
    /// This order's own stream of chance: its payment, its store's answer and cooking, and
    /// its riders' answers.
    rng: SmallRng,
    trace: Trace,
}

/// What a run produced: every order's trace, the samples, and how the run went.
pub struct Outcomes {
    pub traces: Vec<Trace>,
    pub samples: Vec<Sample>,
    pub riders: usize,
    /// Rider time on jobs inside the ordering window, summed over riders.
    pub rider_busy_ms: Millis,
    /// The ordering window and the whole run (the window plus the time to finish).
    pub window_ms: Millis,
    pub ran_ms: Millis,
    /// Commands the order state machine refused: none when the people behave.
    pub refused: usize,
    /// Wall-clock time of each dispatch tick that had work, in microseconds.
    pub tick_micros: Vec<f64>,
    pub wall: std::time::Duration,
}

/// How far along a run is, for a progress bar.
#[derive(Clone, Copy, Debug)]
pub struct Progress {
    pub simulated_ms: Millis,
    pub window_ms: Millis,
    pub placed: usize,
    pub finished: usize,
}

pub struct Simulation {
    plan: Plan,
    rng: SmallRng,
    agenda: Agenda<Millis, Happening>,
    now: Millis,
    board: Board<GeoPoint>,
    stores: Vec<Store>,
    riders: Vec<SimRider>,
    rider_of: HashMap<RiderId, usize>,
    customers: Vec<CustomerId>,
    orders: Vec<SimOrder>,
    order_of: HashMap<OrderId, usize>,
    open: usize,
    refused: usize,
    samples: Vec<Sample>,
    tick_micros: Vec<f64>,
}

impl Simulation {
    /// The demo city of `plan`, its riders on duty where the live demo puts them.
    pub fn new(plan: Plan) -> Simulation {
        // Separate streams of chance (common random numbers): the same seed gives the same
        // customers, orders and kitchens whatever dispatch does, so two policies can be
        // compared on the same day.
        let rng = SmallRng::seed_from_u64(plan.seed);
        let mut riders_rng = SmallRng::seed_from_u64(plan.seed ^ RIDERS_STREAM);
        let (layout, demo_riders) = demo::layout(&plan.city);
        let t0 = start();
        let stores = layout
            .into_iter()
            .filter_map(|(id, profile)| {
                let events = Store::decide(None, StoreCommand::Register(profile), t0).ok()?;
                events.iter().fold(None, |store, event| Store::apply(store, id, event))
            })
            .collect();
        let riders: Vec<SimRider> = demo_riders
            .into_iter()
            .map(|r| SimRider {
                id: r.id,
                position: r.position,
                speed_mps: metres_per_sec(plan.people.rider_speed_kmh.sample(&mut riders_rng)),
                trip: Vec::new(),
                offered: Vec::new(),
                moving: false,
                busy_since: None,
                busy_ms: 0,
            })
            .collect();
        let mut board = Board::new();
        for rider in &riders {
            board.presence(rider.id, Some(rider.position), t0);
        }
        let customers = (0..CUSTOMERS).map(|n| CustomerId::named(&format!("sim-customer-{n}"))).collect();
        let mut agenda = Agenda::default();
        agenda.at(0, Happening::Sample);
        agenda.at(0, Happening::IdlePings);
        agenda.at(plan.dispatch.tick_ms.max(1) as Millis, Happening::DispatchTick);
        let mut simulation = Simulation {
            rider_of: riders.iter().enumerate().map(|(i, r)| (r.id, i)).collect(),
            plan,
            rng,
            agenda,
            now: 0,
            board,
            stores,
            riders,
            customers,
            orders: Vec::new(),
            order_of: HashMap::new(),
            open: 0,
            refused: 0,
            samples: Vec::new(),
            tick_micros: Vec::new(),
        };
        simulation.schedule_arrival();
        simulation
    }

    fn window_ms(&self) -> Millis {
        self.plan.duration_secs.saturating_mul(1000)
    }

    fn clock(&self) -> DateTime<Utc> {
        start() + Duration::milliseconds(self.now)
    }

    fn after_secs(&mut self, secs: f64, what: Happening) {
        let at = self.now + (secs.max(0.0) * 1000.0).round() as Millis;
        self.agenda.at(at, what);
    }

    /// Run to the end: customers order through the window, then the city runs on until
    /// every order has finished or the drain time is up. `progress` hears about every
    /// simulated minute.
    pub fn run(mut self, mut progress: impl FnMut(Progress)) -> Outcomes {
        let started = Instant::now();
        let window = self.window_ms();
        let limit = window.saturating_add(self.plan.drain_secs.saturating_mul(1000));
        while let Some((at, what)) = self.agenda.pop() {
            if at > limit || (at >= window && self.open == 0) {
                break;
            }
            self.now = at;
            if matches!(what, Happening::Sample) {
                progress(Progress {
                    simulated_ms: at,
                    window_ms: window,
                    placed: self.orders.len(),
                    finished: self.orders.len() - self.open,
                });
            }
            self.handle(what);
        }
        let ran_ms = self.now.max(window);
        let riders = self.riders.len();
        // Trips still running at the end count as busy up to it.
        for r in 0..riders {
            self.count_busy(r);
        }
        Outcomes {
            traces: self.orders.into_iter().map(|o| o.trace).collect(),
            samples: self.samples,
            riders,
            rider_busy_ms: self.riders.iter().map(|r| r.busy_ms).sum(),
            window_ms: window,
            ran_ms,
            refused: self.refused,
            tick_micros: self.tick_micros,
            wall: started.elapsed(),
        }
    }

    fn handle(&mut self, what: Happening) {
        match what {
            Happening::Arrival => {
                if self.now < self.window_ms() {
                    self.place_order();
                    self.schedule_arrival();
                }
            }
            Happening::PaymentAnswered(order) => self.payment_answered(order),
            Happening::StoreAnswers(order) => self.store_answers(order),
            Happening::Cooked(order) => self.cooked(order),
            Happening::RiderAnswers { order, rider } => self.rider_answers(order, rider),
            Happening::Arrives { rider, at } => {
                self.riders[rider].position = at;
                self.riders[rider].moving = false;
                self.step(rider);
            }
            Happening::Deadline { order, at, command } => {
                let still = self.orders[order].state.as_ref().is_some_and(|state| {
                    duties::deadlines(state, &self.plan.dispatch, &self.plan.orders)
                        .iter()
                        .any(|(due, wanted)| *due == at && wanted.name() == command.name())
                });
                if still {
                    self.drive(order, command);
                }
            }
            Happening::DispatchTick => {
                self.dispatch_tick();
                self.agenda.at(self.now + self.plan.dispatch.tick_ms.max(1) as Millis, Happening::DispatchTick);
            }
            Happening::IdlePings => {
                // Riders on a trip ping too: the board offers them orders to join it.
                let now = self.clock();
                for rider in &self.riders {
                    self.board.presence(rider.id, Some(rider.position), now);
                }
                self.agenda.at(self.now + IDLE_PING, Happening::IdlePings);
            }
            Happening::Sample => {
                self.sample();
                self.agenda.at(self.now + SAMPLE_EVERY, Happening::Sample);
            }
        }
    }

    /// The next arrival after an exponentially distributed wait: a Poisson process at the
    /// configured mean rate.
    fn schedule_arrival(&mut self) {
        let Some(wait) = customers::next_arrival_secs(self.plan.people.orders_per_minute, &mut self.rng) else {
            return;
        };
        self.after_secs(wait, Happening::Arrival);
    }

    /// Apply `command` to an order through the state machine, then make the world agree
    /// with its new state. A refusal is counted, as the live simulator logs it.
    fn drive(&mut self, order: usize, command: OrderCommand) -> bool {
        let name = command.name();
        let now = self.clock();
        let sim = &mut self.orders[order];
        let events = match Order::decide(sim.state.as_ref(), command, now) {
            Ok(events) => events,
            Err(error) => {
                tracing::debug!(order = %sim.id, command = name, %error, "simulated command refused");
                self.refused += 1;
                return false;
            }
        };
        for event in &events {
            sim.state = Order::apply(sim.state.take(), sim.id, event);
            record(&mut sim.trace, event, self.now);
        }
        self.sync(order);
        true
    }

    /// What the order actor does after every change: arm its deadlines, tell dispatch what
    /// it needs, and let go of a rider whose job it no longer is.
    fn sync(&mut self, order: usize) {
        let Some(state) = self.orders[order].state.clone() else { return };
        let wanted = duties::deadlines(&state, &self.plan.dispatch, &self.plan.orders);
        let armed: Vec<(&'static str, DateTime<Utc>)> = wanted.iter().map(|(at, c)| (c.name(), *at)).collect();
        for (at, command) in wanted {
            if !self.orders[order].armed.contains(&(command.name(), at)) {
                let due = (at - start()).num_milliseconds().max(self.now);
                self.agenda.at(due, Happening::Deadline { order, at, command });
            }
        }
        self.orders[order].armed = armed;
        if let Some(need) = duties::need(&state, &self.plan.dispatch) {
            self.board.needs(state.id, duties::places(&state), need);
        }
        let duty = duties::rider_duty(&state);
        let holder = duty.as_ref().and_then(|(r, _)| self.rider_of.get(r).copied());
        let on_trip = matches!(duty, Some((_, Duty::EnRouteToStore { .. } | Duty::Delivering { .. })));
        let carrier = self.orders[order].carrier;
        if carrier.is_some() && (carrier != holder || !on_trip) {
            self.leave_trip(order);
        }
        if let (true, Some(r), None) = (on_trip, holder, self.orders[order].carrier) {
            if self.riders[r].trip.is_empty() {
                self.riders[r].busy_since = Some(self.now);
            }
            self.riders[r].trip.push(order);
            self.orders[order].carrier = Some(r);
            if !self.riders[r].moving {
                self.step(r);
            }
        }
        if state.status().is_terminal() && !self.orders[order].trace.outcome.is_finished() {
            self.orders[order].trace.outcome = Outcome::of(&state);
            self.open -= 1;
        }
        // The simulated provider settles at once. The authorization was asked at placement
        // and is answered after the payment latency ([`Happening::PaymentAnswered`]).
        match duties::payment_call(&state) {
            Some(PaymentCall::Capture { .. }) => {
                self.drive(order, OrderCommand::RecordCapture);
            }
            Some(PaymentCall::Void { .. } | PaymentCall::VoidUnanswered) => {
                self.drive(order, OrderCommand::RecordVoid);
            }
            Some(PaymentCall::Authorize) | None => {}
        }
    }

    /// `order` leaves its rider's trip (delivered, released or cancelled); a rider left
    /// standing goes on to its next stop.
    fn leave_trip(&mut self, order: usize) {
        let Some(r) = self.orders[order].carrier.take() else { return };
        self.riders[r].trip.retain(|o| *o != order);
        if self.riders[r].trip.is_empty() {
            self.count_busy(r);
        }
        if !self.riders[r].moving {
            self.step(r);
        }
    }

    /// The rider's trip ended (or the run did): count its busy time inside the window.
    fn count_busy(&mut self, r: usize) {
        let window = self.window_ms();
        let rider = &mut self.riders[r];
        if let Some(since) = rider.busy_since.take() {
            rider.busy_ms += (self.now.min(window) - since.min(window)).max(0);
        }
    }

    /// A rider standing somewhere does what can be done here (hands over the food for
    /// doors here, takes the food that is ready at a store here) and, unless it must wait
    /// for food still cooking here, sets off for the next stop of its trip's route.
    fn step(&mut self, r: usize) {
        let here = self.riders[r].position;
        let rider = self.riders[r].id;
        let mut waits = false;
        for order in self.riders[r].trip.clone() {
            let Some(state) = self.orders[order].state.clone() else { continue };
            match &state.phase {
                Phase::PickedUp { .. } if state.terms.dropoff == here => {
                    // Where the rider is free again, before the order lets it go.
                    self.board.presence(rider, Some(here), self.clock());
                    let geofence_m = self.plan.orders.delivery_geofence_m;
                    self.drive(order, OrderCommand::Deliver { rider, position: here, geofence_m });
                }
                Phase::Active { kitchen, courier: Courier::Assigned { .. }, .. } if state.terms.pickup == here => {
                    self.orders[order].trace.at_store.get_or_insert(self.now);
                    match kitchen {
                        Kitchen::Ready { .. } => {
                            self.drive(order, OrderCommand::PickUp { rider });
                        }
                        Kitchen::Preparing { .. } => waits = true,
                    }
                }
                _ => {}
            }
        }
        if waits || self.riders[r].moving {
            return;
        }
        let legs: Vec<Leg<GeoPoint>> = self.riders[r]
            .trip
            .iter()
            .filter_map(|order| {
                let state = self.orders[*order].state.as_ref()?;
                let picked_up = matches!(state.phase, Phase::PickedUp { .. });
                Some(Leg { order: state.id, places: duties::places(state), picked_up })
            })
            .collect();
        let Some(next) = trip::route(here, &legs, &self.plan.dispatch.speed).first().map(|stop| stop.at) else {
            return;
        };
        self.riders[r].moving = true;
        let secs = here.distance_m(&next) / self.riders[r].speed_mps;
        self.after_secs(secs, Happening::Arrives { rider: r, at: next });
    }

    /// A customer orders one or two dishes from a random open store, to a point nearby.
    fn place_order(&mut self) {
        let open: Vec<usize> = (0..self.stores.len()).filter(|s| self.stores[*s].open).collect();
        if open.is_empty() {
            return;
        }
        let store = &self.stores[open[self.rng.gen_range(0..open.len())]];
        let Some(items) = customers::basket(store, &mut self.rng) else { return };
        let dropoff = customers::dropoff_near(store, self.plan.people.delivery_distance_m, &mut self.rng);
        let Ok(quote) = store.quote(&items, &dropoff) else { return };
        let customer = self.customers[self.rng.gen_range(0..self.customers.len())];
        let terms = quote.into_terms(store, customer, dropoff, "headless-simulator".into());
        let index = self.orders.len();
        let id = OrderId::named(&format!("simulation-{}-{index}", self.plan.seed));
        self.orders.push(SimOrder {
            id,
            state: None,
            armed: Vec::new(),
            carrier: None,
            rng: SmallRng::seed_from_u64(self.plan.seed.wrapping_mul(ORDER_STREAM) ^ index as u64),
            trace: Trace::default(),
        });
        self.order_of.insert(id, index);
        self.open += 1;
        if self.drive(index, OrderCommand::Place(terms)) {
            self.after_secs(self.plan.payment_latency_secs, Happening::PaymentAnswered(index));
        } else {
            self.open -= 1;
        }
    }

    fn payment_answered(&mut self, order: usize) {
        let command = if self.orders[order].rng.gen_bool(self.plan.payment_decline_rate.clamp(0.0, 1.0)) {
            OrderCommand::RecordDecline { reason: "card declined by issuer".into() }
        } else {
            OrderCommand::RecordAuthorization { authorization: format!("sim_auth_{order}") }
        };
        if self.drive(order, command) && self.status_is(order, |p| matches!(p, Phase::AwaitingStore { .. })) {
            let secs = self.plan.people.store_answer_secs.sample(&mut self.orders[order].rng);
            self.after_secs(secs, Happening::StoreAnswers(order));
        }
    }

    fn status_is(&self, order: usize, test: impl Fn(&Phase) -> bool) -> bool {
        self.orders[order].state.as_ref().is_some_and(|o| test(&o.phase))
    }

    /// The store staff accept (with a preparation time matching the cooking) or reject. A
    /// share of kitchens (`late_kitchen_share`, none by default) then cook past the promise.
    fn store_answers(&mut self, order: usize) {
        if !self.status_is(order, |p| matches!(p, Phase::AwaitingStore { .. })) {
            return;
        }
        let rng = &mut self.orders[order].rng;
        if rng.gen_bool(self.plan.people.reject_share.get()) {
            let reason = REJECT_REASONS[rng.gen_range(0..REJECT_REASONS.len())].to_owned();
            self.drive(order, OrderCommand::Reject { reason });
            return;
        }
        let cook_secs = self.plan.people.cook_secs.sample(rng);
        let prep_minutes = kitchen::promise(cook_secs);
        let cook_secs = cook_secs + kitchen::overrun_secs(&self.plan.people, rng);
        if self.drive(order, OrderCommand::Accept { prep_minutes }) {
            self.after_secs(cook_secs, Happening::Cooked(order));
        }
    }

    fn cooked(&mut self, order: usize) {
        let preparing = |p: &Phase| matches!(p, Phase::Active { kitchen: Kitchen::Preparing { .. }, .. });
        if !self.status_is(order, preparing) || !self.drive(order, OrderCommand::MarkReady) {
            return;
        }
        // A rider already waiting at the counter takes it at once.
        if let Some(r) = self.orders[order].carrier.filter(|r| !self.riders[*r].moving) {
            self.step(r);
        }
    }

    fn dispatch_tick(&mut self) {
        let busy = self.board.waiting_orders() > 0 && self.board.free_riders() > 0;
        let started = Instant::now();
        let offers = self.board.tick(self.clock(), &self.plan.dispatch, self.plan.policy);
        if busy {
            self.tick_micros.push(started.elapsed().as_secs_f64() * 1e6);
        }
        for offer in offers {
            let Some(order) = self.order_of.get(&offer.order).copied() else {
                self.board.withdraw(offer.order);
                continue;
            };
            let taken = self.drive(order, OrderCommand::Offer { rider: offer.rider, deadline: offer.deadline });
            if self.board.answered(offer.order, offer.rider, taken) {
                self.sync(order);
            }
            let Some(rider) = self.rider_of.get(&offer.rider).copied().filter(|_| taken) else { continue };
            // The orders of one offer are one trip: the rider answers them together.
            if self.riders[rider].offered.is_empty() {
                let secs = self.plan.people.rider_answer_secs.sample(&mut self.orders[order].rng);
                self.after_secs(secs, Happening::RiderAnswers { order, rider });
            }
            self.riders[rider].offered.push(order);
        }
    }

    /// The rider takes the offer (every order of it) or, now and then, declines it.
    fn rider_answers(&mut self, first: usize, r: usize) {
        let rider = self.riders[r].id;
        let accept = !self.orders[first].rng.gen_bool(self.plan.people.decline_share.get());
        for order in std::mem::take(&mut self.riders[r].offered) {
            let offered = |p: &Phase| matches!(p, Phase::Active { courier: Courier::Offered { rider: to, .. }, .. } if *to == rider);
            if !self.status_is(order, offered) {
                continue;
            }
            let command =
                if accept { OrderCommand::AcceptOffer { rider } } else { OrderCommand::DeclineOffer { rider } };
            self.drive(order, command);
        }
    }

    fn sample(&mut self) {
        let on_job = self.riders.iter().filter(|r| !r.trip.is_empty()).count();
        self.samples.push(Sample {
            minute: self.now as f64 / 60_000.0,
            open_orders: self.open,
            waiting_for_rider: self.board.waiting_orders(),
            idle_riders: self.riders.len() - on_job,
            riders_on_job: on_job,
        });
    }
}

/// Note in the trace when the order reached each step.
fn record(trace: &mut Trace, event: &OrderEvent, now: Millis) {
    match event {
        OrderEvent::Placed { .. } => trace.placed = now,
        OrderEvent::StoreAccepted { .. } => trace.accepted = Some(now),
        OrderEvent::MarkedReady { .. } => trace.ready = Some(now),
        OrderEvent::RiderOffered { .. } => trace.offers += 1,
        OrderEvent::RiderDeclined { .. } => trace.declines += 1,
        OrderEvent::OfferExpired { .. } => trace.lapsed += 1,
        OrderEvent::RiderAccepted { .. } => {
            trace.assigned.get_or_insert(now);
        }
        OrderEvent::PickedUp { .. } => trace.picked_up = Some(now),
        OrderEvent::Delivered { .. } => trace.delivered = Some(now),
        OrderEvent::DispatchEscalated { .. } => trace.escalated = true,
        OrderEvent::KitchenLate { .. } => trace.kitchen_late = Some(now),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Between, Settings, Share};
    use crate::dispatch::Policy;
    use crate::sim::headless::Kpis;

    fn plan(minutes: i64) -> Plan {
        Plan::from_settings(&Settings::default(), minutes * 60)
    }

    fn run(plan: Plan) -> (Outcomes, Kpis) {
        let outcomes = Simulation::new(plan).run(|_| {});
        let kpis = Kpis::of(&outcomes);
        (outcomes, kpis)
    }

    /// Moving code must not change what a seeded day does: the first hour of the default
    /// day, every order's trace and the riders' time on jobs, is pinned. A change meant to
    /// alter the day updates the value in the same commit and says why.
    #[test]
    fn the_default_hour_replays_to_the_pinned_traces() {
        let (outcomes, _) = run(plan(60));
        let text = format!("{:?} {} {}", outcomes.traces, outcomes.rider_busy_ms, outcomes.ran_ms);
        let fnv = text.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3));
        assert_eq!(fnv, 9_226_540_762_684_868_167, "the seeded day decided differently");
    }

    #[test]
    fn the_demo_city_delivers_and_every_order_finishes() {
        let (outcomes, kpis) = run(plan(60));
        assert!((80..=160).contains(&kpis.placed), "{} orders in an hour at 2 a minute", kpis.placed);
        assert_eq!(kpis.open_at_end, 0);
        assert_eq!(kpis.refused, 0, "the state machine refused a command the people sent");
        assert_eq!(kpis.delivered + kpis.rejected + kpis.cancelled_total(), kpis.placed);
        assert!(kpis.delivered as f64 >= 0.9 * kpis.placed as f64, "{kpis}");
        assert!(kpis.cancelled.keys().all(|code| *code == "store_rejected"), "{kpis}");
        // Nothing reaches the door before it is cooked and ridden.
        for trace in outcomes.traces.iter().filter(|t| t.outcome == Outcome::Delivered) {
            let (ready, picked, door) = (trace.ready.unwrap(), trace.picked_up.unwrap(), trace.delivered.unwrap());
            assert!(trace.placed < trace.accepted.unwrap() && trace.accepted.unwrap() < ready);
            assert!(ready <= picked && picked < door, "{trace:?}");
            assert!(trace.assigned.unwrap() <= picked);
        }
        let s = kpis.click_to_door;
        assert!(0.0 < s.p50 && s.p50 <= s.p90 && s.mean < 60.0, "{s:?}");
        assert!(kpis.utilisation > 0.0 && kpis.utilisation < 1.0, "{}", kpis.utilisation);
        assert!(outcomes.samples.len() >= 60);
        assert!(kpis.speedup > 1.0);
    }

    #[test]
    fn the_same_seed_gives_the_same_day() {
        let day = |seed| {
            let mut p = plan(30);
            p.seed = seed;
            run(p).0.traces.iter().map(|t| (t.placed, t.delivered, t.outcome.clone())).collect::<Vec<_>>()
        };
        assert_eq!(day(7), day(7));
        assert_ne!(day(7), day(8));
    }

    #[test]
    fn stores_that_reject_everything_deliver_nothing() {
        let mut p = plan(20);
        p.people.reject_share = Share::try_from(1.0).unwrap();
        let (_, kpis) = run(p);
        assert!(kpis.placed > 0);
        assert_eq!(kpis.delivered, 0);
        assert_eq!(kpis.cancelled.get("store_rejected").copied(), Some(kpis.placed));
    }

    #[test]
    fn with_no_riders_dispatch_alerts_then_gives_up_at_the_configured_time() {
        let mut p = plan(10);
        p.city.riders = 0;
        p.people.reject_share = Share::try_from(0.0).unwrap();
        let give_up_ms = p.dispatch.give_up_after_secs as Millis * 1000;
        let (outcomes, kpis) = run(p);
        assert_eq!(kpis.delivered, 0);
        assert_eq!(kpis.cancelled.get("no_rider_found").copied(), Some(kpis.placed));
        assert_eq!(kpis.escalated, kpis.placed);
        assert_eq!(kpis.open_at_end, 0);
        assert_eq!(kpis.utilisation, 0.0);
        for trace in &outcomes.traces {
            assert!(trace.accepted.is_some() && trace.offers == 0);
        }
        assert!(kpis.ran_min * 60_000.0 >= give_up_ms as f64);
    }

    #[test]
    fn kitchens_well_past_their_promise_alert_the_operator_and_a_little_late_does_not() {
        let late = |share: f64, secs: Option<(f64, f64)>| {
            let mut p = plan(30);
            p.people.late_kitchen_share = Share::try_from(share).unwrap();
            if let Some((min, max)) = secs {
                p.people.late_kitchen_secs = Between::new(min, max).unwrap();
            }
            run(p)
        };
        // By default kitchens keep their promise: no alert.
        assert_eq!(late(0.0, None).1.kitchens_late, 0);
        // A few minutes over is inside the grace (10 minutes, or half the promise).
        let (_, kpis) = late(1.0, Some((60.0, 240.0)));
        assert_eq!((kpis.kitchens_late, kpis.refused, kpis.open_at_end), (0, 0, 0));
        // Every kitchen 25 to 30 minutes over: each one alerts, once, before the food is ready.
        let (outcomes, kpis) = late(1.0, Some((1500.0, 1800.0)));
        assert_eq!((kpis.refused, kpis.open_at_end), (0, 0));
        assert!(kpis.delivered > 0 && kpis.kitchens_late >= kpis.delivered, "{kpis}");
        for trace in outcomes.traces.iter().filter(|t| t.outcome == Outcome::Delivered) {
            let (accepted, late, ready) = (trace.accepted.unwrap(), trace.kitchen_late.unwrap(), trace.ready.unwrap());
            // At least a 5-minute promise and the 10-minute grace after it.
            assert!(late - accepted >= 15 * 60_000 && late < ready, "{trace:?}");
        }
        assert!(kpis
            .rows()
            .iter()
            .any(|(name, value)| name.contains("kitchen well past") && *value == kpis.kitchens_late.to_string()));
    }

    #[test]
    fn riders_who_decline_everything_are_never_offered_the_same_order_twice() {
        let mut p = plan(10);
        p.people.decline_share = Share::try_from(1.0).unwrap();
        p.city.riders = 5;
        let (outcomes, kpis) = run(p);
        assert_eq!(kpis.delivered, 0);
        assert_eq!(kpis.refused, 0);
        for trace in &outcomes.traces {
            assert!(trace.offers <= 5, "offered {} times by 5 riders", trace.offers);
            assert_eq!(trace.offers, trace.declines);
        }
        assert!(kpis.offers > 0);
    }

    #[test]
    fn fewer_riders_are_busier_and_food_waits_longer_for_them() {
        let with = |riders| {
            let mut p = plan(60);
            p.city.riders = riders;
            run(p).1
        };
        let (few, many) = (with(15), with(60));
        assert!(few.utilisation > many.utilisation, "{} vs {}", few.utilisation, many.utilisation);
        // Riders are sent to arrive as the food is ready, so the time to find one says
        // little; the food waiting on the counter for its rider says how scarce they are.
        assert!(few.ready_to_pickup.mean > many.ready_to_pickup.mean, "{few}\n{many}");
    }

    #[test]
    fn greedy_dispatch_runs_the_same_day() {
        let mut greedy = plan(30);
        greedy.policy = Policy::Greedy;
        let (greedy, kpis) = run(greedy);
        assert_eq!(kpis.open_at_end, 0);
        assert_eq!(kpis.refused, 0);
        assert!(kpis.delivered > 0);
        // The same customers ordered at the same times, and the same stores answered.
        let (batch, _) = run(plan(30));
        let day = |o: &Outcomes| o.traces.iter().map(|t| (t.placed, t.accepted)).collect::<Vec<_>>();
        assert_eq!(day(&greedy), day(&batch));
    }
}
