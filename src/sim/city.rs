//! The demo city's inhabitants, so that a newcomer sees the platform work: customers order
//! at a random rate, store staff accept (or now and then reject) and cook, riders answer
//! offers (declining some) and ride to the store and on to the customer at a realistic speed,
//! reporting where they are every second or so.
//!
//! It is a client of the platform like any app: it learns what happens from the same order
//! pushes the websockets forward (the hub's operations topic) and acts by sending the
//! actors the same commands the REST and websocket handlers send. So every step is a real
//! event, dispatch is the real dispatcher, and the live pages see real updates. It drives
//! only the demo city's stores and riders; a store or rider someone acts for through the
//! API first simply finds its order moved on.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::prelude::*;
use chrono::Utc;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

use crate::actors::hub::{Push, Topic};
use crate::actors::{CommandError, Execute, GetRider, Ping, Platform, QuoteOrder};
use crate::config::{DemoSettings, SimulatorSettings};
use crate::dispatch::duties;
use crate::dispatch::trip::{self, Leg, Places};
use crate::domain::order::{Courier, Kitchen, Order, OrderCommand, OrderStatus, Phase};
use crate::domain::{CustomerId, GeoPoint, OrderId, RiderId, StoreId};

use super::route::{metres_per_sec, step_towards};
use super::{customers, demo, kitchen};

/// Customers other than the demo account who order in the demo city.
const CUSTOMERS: usize = 200;
/// An idle rider reports where it is this often, so dispatch keeps counting it as fresh.
const IDLE_PING: Duration = Duration::from_secs(10);
const REJECT_REASONS: &[&str] = &["too busy right now", "out of an ingredient", "kitchen closing soon"];

/// Start the simulator for the demo city's stores and riders.
pub fn start(platform: Arc<Platform>, demo: &DemoSettings, settings: &SimulatorSettings) -> Addr<CitySim> {
    let stores = (0..demo.stores).map(demo::store_id).collect();
    let riders = (0..demo.riders).map(demo::rider_id).collect();
    tracing::info!(
        orders_per_minute = settings.orders_per_minute,
        stores = demo.stores,
        riders = demo.riders,
        "demo city simulator started (BAEDAL__SIMULATOR__ENABLED=false turns it off)"
    );
    CitySim::new(platform, settings.clone(), stores, riders).start()
}

/// A step the simulator has planned for an order, so each is planned once.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Step {
    StoreAnswer,
    Cook,
    RiderAnswer(RiderId),
}

/// One order of a rider's trip.
#[derive(Debug)]
struct Job {
    order: OrderId,
    places: Places<GeoPoint>,
    picked_up: bool,
    /// The store has marked the food ready.
    ready: bool,
    /// A pickup or delivery is on its way to the order; do not send another.
    pending: bool,
}

#[derive(Debug)]
struct SimRider {
    position: Option<GeoPoint>,
    speed_mps: f64,
    /// The orders of its trip; it rides the route through their stops.
    trip: Vec<Job>,
    last_ping: Option<Instant>,
}

pub struct CitySim {
    platform: Arc<Platform>,
    settings: SimulatorSettings,
    rng: SmallRng,
    stores: HashSet<StoreId>,
    riders: HashMap<RiderId, SimRider>,
    customers: Vec<CustomerId>,
    planned: HashSet<(OrderId, Step)>,
    /// The orders offered to each demo rider and not yet answered: one offer, answered whole.
    offers: HashMap<RiderId, HashSet<OrderId>>,
    /// The latest status of the orders the simulator acts on.
    status: HashMap<OrderId, OrderStatus>,
    last_tick: Instant,
    subscription: Option<u64>,
}

impl CitySim {
    fn new(platform: Arc<Platform>, settings: SimulatorSettings, stores: Vec<StoreId>, riders: Vec<RiderId>) -> Self {
        let mut rng = SmallRng::from_entropy();
        let riders = riders
            .into_iter()
            .map(|id| {
                let speed_mps = metres_per_sec(settings.rider_speed_kmh.sample(&mut rng));
                (id, SimRider { position: None, speed_mps, trip: Vec::new(), last_ping: None })
            })
            .collect();
        let customers = (0..CUSTOMERS).map(|n| CustomerId::named(&format!("demo-sim-customer-{n}"))).collect();
        CitySim {
            platform,
            settings,
            rng,
            stores: stores.into_iter().collect(),
            riders,
            customers,
            planned: HashSet::new(),
            offers: HashMap::new(),
            status: HashMap::new(),
            last_tick: Instant::now(),
            subscription: None,
        }
    }

    /// Send a command to a live order; a refusal (someone else acted first) is only logged.
    fn command(&mut self, order: OrderId, command: OrderCommand, ctx: &mut Context<Self>) {
        let Some(addr) = self.platform.order(order) else { return };
        let name = command.name();
        ctx.spawn(addr.send(Execute::new(command)).into_actor(self).map(move |reply, act, _| {
            if let Err(error) = reply.map_err(CommandError::from).and_then(|r| r.map(|_| ())) {
                tracing::debug!(%order, command = name, %error, "simulated command refused");
            }
            // Whatever happened, the next push or tick decides again.
            for job in act.riders.values_mut().flat_map(|r| r.trip.iter_mut()).filter(|job| job.order == order) {
                job.pending = false;
            }
        }));
    }

    /// Do `act` for `order` after a random delay from `secs`, once per step.
    fn plan(
        &mut self,
        order: OrderId,
        step: Step,
        secs: f64,
        ctx: &mut Context<Self>,
        act: impl FnOnce(&mut Self, &mut Context<Self>) + 'static,
    ) {
        if self.planned.insert((order, step)) {
            ctx.run_later(Duration::from_secs_f64(secs), move |sim, ctx| act(sim, ctx));
        }
    }

    /// Act on an order's new state as its store staff and its rider would.
    fn react(&mut self, order: &Order, ctx: &mut Context<Self>) {
        let id = order.id;
        let status = order.status();
        for offered in self.offers.values_mut() {
            offered.remove(&id);
        }
        if status.is_terminal() {
            self.status.remove(&id);
            self.planned.retain(|(planned, _)| *planned != id);
            for rider in self.riders.values_mut() {
                rider.trip.retain(|job| job.order != id);
            }
            return;
        }
        self.status.insert(id, status);
        if self.stores.contains(&order.terms.store_id) {
            self.staff(order, ctx);
        }
        // A rider whose job this no longer is (released, reassigned) drops it.
        let holder = order.rider();
        for (rider_id, rider) in self.riders.iter_mut() {
            if holder != Some(*rider_id) {
                rider.trip.retain(|job| job.order != id);
            }
        }
        match &order.phase {
            Phase::Active { courier: Courier::Offered { rider, .. }, .. } if self.riders.contains_key(rider) => {
                let rider = *rider;
                self.offers.entry(rider).or_default().insert(id);
                let secs = self.settings.rider_answer_secs.sample(&mut self.rng);
                self.plan(id, Step::RiderAnswer(rider), secs, ctx, move |sim, ctx| sim.answer_offer(id, rider, ctx));
            }
            Phase::Active { courier: Courier::Assigned { rider }, kitchen, .. } => {
                let ready = matches!(kitchen, Kitchen::Ready { .. });
                if let Some(job) = self.job_for(*rider, order) {
                    job.ready = ready;
                }
            }
            Phase::PickedUp { rider, .. } => {
                if let Some(job) = self.job_for(*rider, order) {
                    job.picked_up = true;
                }
            }
            _ => {}
        }
    }

    /// The job a managed rider holds for `order`, added to its trip if it is new.
    fn job_for(&mut self, rider: RiderId, order: &Order) -> Option<&mut Job> {
        let sim = self.riders.get_mut(&rider)?;
        let index = match sim.trip.iter().position(|job| job.order == order.id) {
            Some(index) => index,
            None => {
                sim.trip.push(Job {
                    order: order.id,
                    places: duties::places(order),
                    picked_up: false,
                    ready: false,
                    pending: false,
                });
                sim.trip.len() - 1
            }
        };
        sim.trip.get_mut(index)
    }

    /// The store staff: answer a new order after a while, cook an accepted one.
    fn staff(&mut self, order: &Order, ctx: &mut Context<Self>) {
        let id = order.id;
        match order.status() {
            OrderStatus::AwaitingStore => {
                let secs = self.settings.store_answer_secs.sample(&mut self.rng);
                self.plan(id, Step::StoreAnswer, secs, ctx, move |sim, ctx| sim.answer_order(id, ctx));
            }
            OrderStatus::Preparing => {
                // Counted from the acceptance, with the cooking the promise stands for, so
                // an order recovered after a restart is ready when it would have been.
                let (Some(accepted_at), Some(prep_minutes)) = (order.accepted_at, order.prep_minutes) else { return };
                let cook = kitchen::cook_secs(id, prep_minutes, &self.settings);
                let secs = kitchen::remaining_secs(accepted_at, cook, Utc::now());
                self.plan(id, Step::Cook, secs, ctx, move |sim, ctx| {
                    if sim.status.get(&id) == Some(&OrderStatus::Preparing) {
                        sim.command(id, OrderCommand::MarkReady, ctx);
                    }
                });
            }
            _ => {}
        }
    }

    fn answer_order(&mut self, id: OrderId, ctx: &mut Context<Self>) {
        if self.status.get(&id) != Some(&OrderStatus::AwaitingStore) {
            return;
        }
        if self.rng.gen_bool(self.settings.reject_share.get()) {
            let reason = REJECT_REASONS[self.rng.gen_range(0..REJECT_REASONS.len())].to_owned();
            self.command(id, OrderCommand::Reject { reason }, ctx);
        } else {
            // The cooking itself follows from the promise and the order (see `staff`).
            let prep_minutes = kitchen::promise(self.settings.cook_secs.sample(&mut self.rng));
            self.command(id, OrderCommand::Accept { prep_minutes }, ctx);
        }
    }

    /// The rider answers its offer, every order of it (a trip) at once.
    fn answer_offer(&mut self, id: OrderId, rider: RiderId, ctx: &mut Context<Self>) {
        self.planned.remove(&(id, Step::RiderAnswer(rider)));
        let Some(offered) = self.offers.get_mut(&rider).filter(|offered| offered.contains(&id)) else { return };
        let orders = std::mem::take(offered);
        let decline = self.rng.gen_bool(self.settings.decline_share.get());
        for order in orders {
            let command =
                if decline { OrderCommand::DeclineOffer { rider } } else { OrderCommand::AcceptOffer { rider } };
            self.command(order, command, ctx);
        }
    }

    /// A new order from a random customer at a random open demo store, to a point nearby.
    fn place_order(&mut self, ctx: &mut Context<Self>) {
        let open: Vec<StoreId> = self
            .stores
            .iter()
            .filter(|id| self.platform.directory.get(*id).is_some_and(|store| store.open))
            .copied()
            .collect();
        if open.is_empty() {
            return;
        }
        let store_id = open[self.rng.gen_range(0..open.len())];
        let (Some(store), Some(addr)) = (self.platform.directory.get(&store_id), self.platform.store(store_id)) else {
            return;
        };
        let Some(items) = customers::basket(&store, &mut self.rng) else { return };
        let dropoff = customers::dropoff_near(&store, self.settings.delivery_distance_m, &mut self.rng);
        let customer = if self.rng.gen_bool(self.settings.demo_customer_share.get()) {
            demo::demo_customer()
        } else {
            self.customers[self.rng.gen_range(0..self.customers.len())]
        };
        drop(store);
        let platform = self.platform.clone();
        let placed = async move {
            let (quote, store) = addr.send(QuoteOrder { items, dropoff }).await??;
            let terms = quote.into_terms(&store, customer, dropoff, "demo-simulator".into());
            platform.start_order(OrderId::random()).send(Execute::new(OrderCommand::Place(terms))).await?
        };
        ctx.spawn(placed.into_actor(self).map(|placed: Result<Order, CommandError>, _, _| match placed {
            Ok(order) => tracing::debug!(order = %order.id, "simulated customer ordered"),
            Err(error) => tracing::debug!(%error, "simulated order refused"),
        }));
    }

    /// The next order after an exponentially distributed wait: arrivals at random, at the
    /// configured mean rate.
    fn schedule_order(&mut self, ctx: &mut Context<Self>) {
        let Some(wait) = customers::next_arrival_secs(self.settings.orders_per_minute, &mut self.rng) else { return };
        ctx.run_later(Duration::from_secs_f64(wait), |sim, ctx| {
            sim.place_order(ctx);
            sim.schedule_order(ctx);
        });
    }

    /// Move every rider on a job one step, report positions, pick up and deliver on arrival.
    fn tick(&mut self, ctx: &mut Context<Self>) {
        let elapsed = self.last_tick.elapsed().as_secs_f64();
        self.last_tick = Instant::now();
        let geofence_m = self.platform.settings.orders.delivery_geofence_m;
        let speed = &self.platform.settings.dispatch.speed;
        let mut commands = Vec::new();
        let mut pings = Vec::new();
        for (id, rider) in self.riders.iter_mut() {
            let Some(position) = rider.position else { continue };
            let legs: Vec<Leg<GeoPoint>> = rider
                .trip
                .iter()
                .map(|job| Leg { order: job.order, places: job.places, picked_up: job.picked_up })
                .collect();
            let Some(target) = trip::route(position, &legs, speed).first().map(|stop| stop.at) else {
                if rider.last_ping.is_none_or(|at| at.elapsed() >= IDLE_PING) {
                    rider.last_ping = Some(Instant::now());
                    pings.push((*id, position));
                }
                continue;
            };
            let (next, arrived) = step_towards(position, target, rider.speed_mps * elapsed);
            rider.position = Some(next);
            rider.last_ping = Some(Instant::now());
            pings.push((*id, next));
            if !arrived {
                continue;
            }
            // Everything that can be done here: the food that is ready at this store, the
            // doors at this address.
            for job in rider.trip.iter_mut().filter(|job| !job.pending) {
                if !job.picked_up && job.ready && job.places.pickup == target {
                    job.pending = true;
                    commands.push((job.order, OrderCommand::PickUp { rider: *id }));
                } else if job.picked_up && job.places.dropoff == target {
                    job.pending = true;
                    commands.push((job.order, OrderCommand::Deliver { rider: *id, position: next, geofence_m }));
                }
            }
        }
        for (id, position) in pings {
            if let Some(addr) = self.platform.rider(id) {
                // An offline rider refuses the ping; it stays where it is.
                addr.do_send(Ping { position });
            }
        }
        for (order, command) in commands {
            self.command(order, command, ctx);
        }
    }

    /// Where the riders are now, and what the live orders need: the state to resume from
    /// after a restart.
    fn load(&mut self, ctx: &mut Context<Self>) {
        let riders: Vec<_> = self.riders.keys().filter_map(|id| self.platform.rider(*id)).collect();
        let views = futures_util::future::join_all(riders.into_iter().map(|addr| addr.send(GetRider)));
        let orders = self.platform.live_orders();
        let orders = futures_util::future::join_all(orders.into_iter().map(|addr| addr.send(crate::actors::GetOrder)));
        ctx.spawn(async move { (views.await, orders.await) }.into_actor(self).map(|(views, orders), sim, ctx| {
            for view in views.into_iter().filter_map(|reply| reply.ok()?.ok()?) {
                if let Some(rider) = sim.riders.get_mut(&view.id) {
                    rider.position = rider.position.or(view.position);
                }
            }
            for order in orders.into_iter().filter_map(|reply| reply.ok()?.ok()?) {
                sim.react(&order, ctx);
            }
        }));
    }
}

impl Actor for CitySim {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        self.subscription = Some(self.platform.hub.subscribe(Topic::Operations, ctx.address().recipient()));
        self.load(ctx);
        let every = Duration::from_millis(self.settings.ping_ms.max(100));
        ctx.run_interval(every, |sim, ctx| sim.tick(ctx));
        self.schedule_order(ctx);
    }

    fn stopped(&mut self, _: &mut Context<Self>) {
        if let Some(id) = self.subscription.take() {
            self.platform.hub.unsubscribe(Topic::Operations, id);
        }
    }
}

impl Handler<Push> for CitySim {
    type Result = ();

    fn handle(&mut self, push: Push, ctx: &mut Context<Self>) {
        if let Push::Order { order, .. } = push {
            self.react(&order, ctx);
        }
    }
}
