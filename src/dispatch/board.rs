//! One zone's dispatch board: which riders are online and where, which are held by orders
//! (offered, assigned, carrying), and which orders wait for a rider. Each tick, when orders
//! outnumber free riders, first offers riders already on their way to a store the orders of
//! that neighbourhood that fit their trip (stacking), then groups the other waiting orders
//! into trips (orders of one store or of stores close together, due about together; see
//! [`trip`](super::trip)); with riders to spare every order rides alone. It then solves the
//! assignment of those trips to free riders (k nearest candidates each, inside a radius that
//! widens as the order waits), and hands back the offers to make: one per order, the orders
//! of one trip to the same rider. A rider is free when online, holding nothing, and heard
//! from recently; one who declined or let an offer lapse is never offered that order again
//! (the order lists it in its need).
//!
//! The board is a view, not a record: riders announce their presence and orders announce
//! what they need, so after a restart both simply announce again. It owns no clock and
//! sends no message; every call that depends on time is given `now`.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use chrono::{DateTime, Duration, Utc};

use crate::config::{DispatchSettings, Release};
use crate::domain::{GeoPoint, OrderId, RiderId};
use crate::matching::batch::{self, BatchSettings, Job};
use crate::matching::{Position, RiderIndex, SpeedModel};

use super::decision::{Considered, Decision, Verdict};
use super::trip::{self, Leg, Places};

/// What an order needs from dispatch now.
#[derive(Clone, Debug, PartialEq)]
pub enum Need {
    /// A rider, other than these, from `since` on, for food due at `ready_at` (`None`:
    /// ready). With dispatch timed to the kitchen ([`Release::BeforeReady`]) a rider who
    /// would arrive well before the food is not sent yet (see [`ARRIVE_EARLY_SECS`]).
    Rider { excluded: BTreeSet<RiderId>, since: DateTime<Utc>, ready_at: Option<DateTime<Utc>> },
    /// Nothing new: it holds this rider, at this stage, with its food due at `ready_at`
    /// (`None`: ready).
    Holds { rider: RiderId, stage: Stage, ready_at: Option<DateTime<Utc>> },
    /// Nothing: it is done with dispatch.
    Nothing,
}

/// How far along an order holding a rider is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stage {
    /// Offered, not yet answered.
    Offered,
    /// Taken; the rider is on its way to the store.
    Assigned,
    /// The food is on board.
    PickedUp,
}

/// How a tick pairs waiting orders with free riders.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Policy {
    /// The assignment with the most matches and then the least total pickup time.
    #[default]
    Optimal,
    /// Oldest order first, each to its nearest free rider: the textbook baseline.
    Greedy,
}

/// An offer the tick decided: the rider is held for the order until the order answers. The
/// offers of one tick to one rider are one trip.
#[derive(Clone, Debug, PartialEq)]
pub struct Offer {
    pub order: OrderId,
    pub rider: RiderId,
    pub deadline: DateTime<Utc>,
    pub pickup_eta_secs: f64,
}

/// How long before the food is due a rider may arrive at the store: an offer goes out
/// once the rider's pickup ETA plus this covers the cooking left, so riders do not stand
/// at the counter while the food cooks (and stay free for orders that are ready), yet
/// the food does not wait for them either. It covers the rider's answer and the model's
/// error.
pub const ARRIVE_EARLY_SECS: f64 = 60.0;

#[derive(Clone)]
struct Waiting<P: Position> {
    places: Places<P>,
    ready_at: Option<DateTime<Utc>>,
    excluded: BTreeSet<RiderId>,
    /// When dispatch started for the order: the radius widens from here.
    since: DateTime<Utc>,
}

/// An order holding a rider.
#[derive(Clone)]
struct Held<P> {
    rider: RiderId,
    places: Places<P>,
    stage: Stage,
    ready_at: Option<DateTime<Utc>>,
}

/// Where an online rider was last heard from.
#[derive(Clone)]
struct Seen<P> {
    position: P,
    at: DateTime<Utc>,
}

#[derive(Clone)]
pub struct Board<P: Position = GeoPoint> {
    online: HashMap<RiderId, Seen<P>>,
    /// Free riders only: online, fresh and not held.
    free: RiderIndex<P>,
    /// The orders each busy rider's trip holds.
    held_by: HashMap<RiderId, BTreeSet<OrderId>>,
    holding: HashMap<OrderId, Held<P>>,
    /// Ordered, so that trips are built the same way from the same state.
    waiting: BTreeMap<OrderId, Waiting<P>>,
    /// Offers made and not yet answered: a need the order sent before it saw the offer
    /// must not free the rider meanwhile.
    offering: HashMap<OrderId, RiderId>,
    /// When riders who said so end their shift: nothing they could not finish by then is
    /// offered to them.
    shift_ends: HashMap<RiderId, DateTime<Utc>>,
    /// Orders whose "need a rider" came while an offer was out and was set aside: it may be
    /// stale (sent before the order saw the offer) or new (the order took the offer and was
    /// let go again at once). Only the order knows: it is asked again once the offer is
    /// answered, whatever the answer.
    set_aside: HashSet<OrderId>,
}

impl<P: Position> Default for Board<P> {
    fn default() -> Self {
        Board {
            online: HashMap::new(),
            free: RiderIndex::new(),
            held_by: HashMap::new(),
            holding: HashMap::new(),
            waiting: BTreeMap::new(),
            offering: HashMap::new(),
            shift_ends: HashMap::new(),
            set_aside: HashSet::new(),
        }
    }
}

impl<P: Position> Board<P> {
    pub fn new() -> Self {
        Self::default()
    }

    /// Riders free to be offered a job now (online, fresh, not held).
    pub fn free_riders(&self) -> usize {
        self.free.len()
    }

    /// Orders waiting for a rider.
    pub fn waiting_orders(&self) -> usize {
        self.waiting.len()
    }

    /// Hold `rider` for `order`: one more order on its trip.
    fn hold(&mut self, rider: RiderId, order: OrderId, held: Held<P>) {
        self.held_by.entry(rider).or_default().insert(order);
        self.holding.insert(order, held);
        self.free.remove(rider);
    }

    /// `order` lets its rider go; a rider whose trip is then empty is free again.
    fn release(&mut self, order: OrderId) {
        let Some(held) = self.holding.remove(&order) else { return };
        let Some(trip) = self.held_by.get_mut(&held.rider) else { return };
        trip.remove(&order);
        if trip.is_empty() {
            self.held_by.remove(&held.rider);
            if let Some(seen) = self.online.get(&held.rider) {
                self.free.upsert(held.rider, &seen.position);
            }
        }
    }

    /// A rider's position while on duty, or `None` when off duty.
    pub fn presence(&mut self, rider: RiderId, position: Option<P>, now: DateTime<Utc>) {
        match position {
            Some(position) => {
                self.online.insert(rider, Seen { position, at: now });
                if !self.held_by.contains_key(&rider) {
                    self.free.upsert(rider, &position);
                }
            }
            None => {
                self.online.remove(&rider);
                self.free.remove(rider);
            }
        }
    }

    /// When `rider`'s shift ends (`None`: not said, or off duty).
    pub fn shift(&mut self, rider: RiderId, ends_at: Option<DateTime<Utc>>) {
        match ends_at {
            Some(at) => self.shift_ends.insert(rider, at),
            None => self.shift_ends.remove(&rider),
        };
    }

    /// Riders whose shift ends before they could ride from where they are to `pickup` and
    /// then `trip_secs` more.
    fn shift_too_short(&self, pickup: &P, trip_secs: f64, now: DateTime<Utc>, speed: &SpeedModel) -> Vec<RiderId> {
        let mut ending: Vec<RiderId> = self
            .shift_ends
            .keys()
            .filter(|rider| {
                let Some(seen) = self.online.get(rider) else { return false };
                self.outlasts_shift(rider, speed.travel_secs(seen.position.distance_m(pickup)) + trip_secs, now)
            })
            .copied()
            .collect();
        ending.sort();
        ending
    }

    /// Whether work of `secs` from `now` would end after `rider`'s shift (never, when it
    /// did not say when its shift ends).
    fn outlasts_shift(&self, rider: &RiderId, secs: f64, now: DateTime<Utc>) -> bool {
        self.shift_ends.get(rider).is_some_and(|ends| now + Duration::milliseconds((secs * 1000.0) as i64) > *ends)
    }

    /// What `order` (picked up and dropped off at `places`) needs now.
    pub fn needs(&mut self, order: OrderId, places: Places<P>, need: Need) {
        if self.offering.contains_key(&order) && matches!(need, Need::Rider { .. }) {
            // Perhaps sent before the order saw our offer: the offer stands until answered,
            // and then the order is asked what it needs (see `answered`).
            self.set_aside.insert(order);
            return;
        }
        match need {
            Need::Holds { rider, stage, ready_at } => {
                if self.holding.get(&order).map(|h| h.rider) != Some(rider) {
                    self.release(order);
                }
                self.waiting.remove(&order);
                self.hold(rider, order, Held { rider, places, stage, ready_at });
            }
            Need::Rider { excluded, since, ready_at } => {
                self.release(order);
                self.waiting.insert(order, Waiting { places, ready_at, excluded, since });
            }
            Need::Nothing => {
                self.release(order);
                self.waiting.remove(&order);
            }
        }
    }

    /// Riders not heard from for `stale_after_secs` leave the free index until they ping.
    fn drop_stale(&mut self, now: DateTime<Utc>, stale_after: Duration) {
        for (rider, seen) in &self.online {
            if now - seen.at > stale_after {
                self.free.remove(*rider);
            }
        }
    }

    /// Decide this tick's offers. Each offered rider is held for its order, and the order's
    /// answer is awaited ([`Board::answered`]); an offer that cannot be delivered is taken
    /// back with [`Board::withdraw`].
    pub fn tick(&mut self, now: DateTime<Utc>, settings: &DispatchSettings, policy: Policy) -> Vec<Offer> {
        self.decide(now, settings, policy, false).0
    }

    /// [`Board::tick`], with the [`Decision`] behind each offer (what the live server keeps
    /// for its operators; the benchmark runners skip the bookkeeping).
    pub fn tick_explained(
        &mut self,
        now: DateTime<Utc>,
        settings: &DispatchSettings,
        policy: Policy,
    ) -> (Vec<Offer>, Vec<Decision>) {
        self.decide(now, settings, policy, true)
    }

    fn decide(
        &mut self,
        now: DateTime<Utc>,
        settings: &DispatchSettings,
        policy: Policy,
        explain: bool,
    ) -> (Vec<Offer>, Vec<Decision>) {
        // Capped so a "never stale" setting stays a valid duration.
        let stale_after = Duration::seconds(settings.stale_after_secs.min(1 << 40) as i64);
        self.drop_stale(now, stale_after);
        // Dispatch starts at `since` (the order's release time): nothing is offered before.
        let mut eligible: Vec<OrderId> =
            self.waiting.iter().filter(|(_, job)| job.since <= now).map(|(order, _)| *order).collect();
        if eligible.is_empty() {
            return (Vec::new(), Vec::new());
        }
        // Oldest first: the exact solver does not care, greedy serves in this order, trips
        // are led by their oldest order, and ties go to the longest wait.
        eligible.sort_by_key(|order| (self.waiting[order].since, *order));
        let deadline = now + Duration::seconds(i64::from(settings.offer_timeout_secs));
        // Trips only when riders are short: with a free rider for every order, each order
        // rides alone and reaches its door soonest; sharing pays when orders would wait.
        let short = eligible.len() > self.free.len();
        let (mut offers, mut decisions) =
            if short { self.stack(&eligible, now, stale_after, settings, policy, explain) } else { Default::default() };
        if !offers.is_empty() {
            eligible.retain(|order| !offers.iter().any(|o| o.order == *order));
        }
        let trips = if short {
            self.trips(&eligible, now, settings)
        } else {
            eligible.iter().map(|order| vec![*order]).collect()
        };
        if self.free.is_empty() || trips.is_empty() {
            self.commit(&offers);
            return (offers, decisions);
        }
        // Riders whose shift ends first are left out of each trip, as if they had declined.
        let shift_ending: Vec<Vec<RiderId>> = trips
            .iter()
            .map(|trip| {
                if self.shift_ends.is_empty() {
                    return Vec::new();
                }
                let pickup = self.waiting[&trip[0]].places.pickup;
                let legs: Vec<Leg<P>> = trip
                    .iter()
                    .map(|order| Leg { order: *order, places: self.waiting[order].places, picked_up: false })
                    .collect();
                self.shift_too_short(&pickup, trip::duration_secs(pickup, &legs, &settings.speed), now, &settings.speed)
            })
            .collect();
        let jobs: Vec<Job<P>> = trips
            .iter()
            .zip(&shift_ending)
            .map(|(trip, ending)| {
                let lead = &self.waiting[&trip[0]];
                let waited_secs = (now - lead.since).num_milliseconds().max(0) as f64 / 1000.0;
                let declined = trip.iter().flat_map(|order| self.waiting[order].excluded.iter().copied());
                Job {
                    order: trip[0],
                    pickup: lead.places.pickup,
                    excluded: declined.chain(ending.iter().copied()).collect(),
                    radius_m: settings.radius_after(waited_secs),
                    waited_secs,
                }
            })
            .collect();
        let batch =
            BatchSettings { k: settings.candidates_k.max(1), speed: settings.speed, age_weight: settings.age_weight };
        let graph = batch::candidates(&jobs, &self.free, &batch);
        let assignment = match policy {
            Policy::Optimal => graph.solve(),
            Policy::Greedy => graph.greedy(),
        };
        let sent: Vec<(usize, RiderId, f64)> = graph
            .pairings(&jobs, &assignment)
            .into_iter()
            .filter_map(|p| {
                let row = jobs.iter().position(|job| job.order == p.order)?;
                let due = settings.release == Release::AtAccept || self.due(&trips[row], p.pickup_eta_secs, now);
                due.then_some((row, p.rider, p.pickup_eta_secs))
            })
            .collect();
        let offered = |order: OrderId| sent.iter().any(|(row, _, _)| jobs[*row].order == order);
        for (row, rider, pickup_eta_secs) in &sent {
            for order in &trips[*row] {
                offers.push(Offer { order: *order, rider: *rider, deadline, pickup_eta_secs: *pickup_eta_secs });
            }
            if !explain {
                continue;
            }
            let job = &jobs[*row];
            let mut candidates: Vec<Considered> = graph
                .considered(*row, &assignment)
                .map(|(rider, pickup_eta_secs, cost_secs, taker)| Considered {
                    rider,
                    pickup_eta_secs,
                    cost_secs,
                    verdict: match taker.map(|taker| (taker, jobs[taker].order)) {
                        Some((taker, _)) if taker == *row => Verdict::Chosen,
                        Some((_, other)) if offered(other) => Verdict::OfferedAnotherOrder { order: other },
                        Some((_, other)) => Verdict::KeptForAnotherOrder { order: other },
                        None => Verdict::Farther,
                    },
                })
                .collect();
            candidates.sort_by(|a, b| a.cost_secs.total_cmp(&b.cost_secs).then(a.rider.cmp(&b.rider)));
            for order in &trips[*row] {
                decisions.push(Decision {
                    order: *order,
                    at: now,
                    policy,
                    rider: *rider,
                    pickup_eta_secs: *pickup_eta_secs,
                    radius_m: job.radius_m,
                    waited_secs: (now - self.waiting[order].since).num_milliseconds().max(0) as f64 / 1000.0,
                    free_riders: self.free.len(),
                    waiting_orders: self.waiting.len(),
                    candidates: candidates.clone(),
                    excluded: job.excluded.iter().copied().filter(|r| !shift_ending[*row].contains(r)).collect(),
                    shift_ending: shift_ending[*row].clone(),
                    trip: trips[*row].iter().copied().filter(|other| other != order).collect(),
                    joins_trip: false,
                });
            }
        }
        self.commit(&offers);
        (offers, decisions)
    }

    /// Hold each offered rider for its orders until they answer.
    fn commit(&mut self, offers: &[Offer]) {
        for offer in offers {
            let Some(waiting) = self.waiting.remove(&offer.order) else { continue };
            let held =
                Held { rider: offer.rider, places: waiting.places, stage: Stage::Offered, ready_at: waiting.ready_at };
            self.hold(offer.rider, offer.order, held);
            self.offering.insert(offer.order, offer.rider);
        }
    }

    /// Offer riders on their way to a store (every order taken, nothing on board yet) the
    /// waiting orders of that neighbourhood that fit their trip: food due within the ready
    /// window of when the rider would leave the store (it gets there and the trip's food is
    /// ready), and no order of the trip delayed past the detour cap.
    fn stack(
        &self,
        eligible: &[OrderId],
        now: DateTime<Utc>,
        stale_after: Duration,
        settings: &DispatchSettings,
        policy: Policy,
        explain: bool,
    ) -> (Vec<Offer>, Vec<Decision>) {
        let (mut offers, mut decisions) = (Vec::new(), Vec::new());
        let rules = &settings.trips;
        if rules.max_orders <= 1 || self.held_by.is_empty() {
            return (offers, decisions);
        }
        let deadline = now + Duration::seconds(i64::from(settings.offer_timeout_secs));
        let window = Duration::seconds(rules.ready_window_secs.min(1 << 32) as i64);
        let mut riders: Vec<(&RiderId, &BTreeSet<OrderId>)> = self.held_by.iter().collect();
        riders.sort_by_key(|(rider, _)| **rider);
        for (rider, held) in riders {
            let Some(seen) = self.online.get(rider).filter(|seen| now - seen.at <= stale_after) else { continue };
            let trip: Vec<&Held<P>> = held.iter().filter_map(|order| self.holding.get(order)).collect();
            let on_the_way = held.len() < rules.max_orders
                && trip.len() == held.len()
                && trip.iter().all(|h| h.stage == Stage::Assigned)
                && held.iter().all(|order| !self.offering.contains_key(order));
            if !on_the_way {
                continue;
            }
            let trip_ready = trip.iter().filter_map(|h| h.ready_at).max().unwrap_or(now);
            let mut legs: Vec<Leg<P>> = held
                .iter()
                .zip(&trip)
                .map(|(order, h)| Leg { order: *order, places: h.places, picked_up: false })
                .collect();
            for order in eligible {
                if legs.len() >= rules.max_orders || offers.iter().any(|o: &Offer| o.order == *order) {
                    continue;
                }
                let job = &self.waiting[order];
                let near = legs.iter().any(|l| l.places.pickup.distance_m(&job.places.pickup) <= rules.store_radius_m);
                if job.excluded.contains(rider) || !near {
                    continue;
                }
                let eta = settings.speed.travel_secs(seen.position.distance_m(&job.places.pickup));
                let leaves = trip_ready.max(now + Duration::milliseconds((eta * 1000.0) as i64));
                let ready = job.ready_at.unwrap_or(now).max(now);
                if ready > leaves + window || leaves > ready + window {
                    continue;
                }
                legs.push(Leg { order: *order, places: job.places, picked_up: false });
                let done = trip::duration_secs(seen.position, &legs, &settings.speed);
                let fair = trip::fits(seen.position, &legs, &settings.speed, rules)
                    && trip::keeps_promise(seen.position, &legs, |o| self.food_due(o), now, &settings.speed, rules);
                if self.outlasts_shift(rider, done, now) || !fair {
                    legs.pop();
                    continue;
                }
                offers.push(Offer { order: *order, rider: *rider, deadline, pickup_eta_secs: eta });
                if explain {
                    decisions.push(Decision {
                        order: *order,
                        at: now,
                        policy,
                        rider: *rider,
                        pickup_eta_secs: eta,
                        radius_m: settings.radius_after(0.0),
                        waited_secs: (now - job.since).num_milliseconds().max(0) as f64 / 1000.0,
                        free_riders: self.free.len(),
                        waiting_orders: self.waiting.len(),
                        candidates: vec![Considered {
                            rider: *rider,
                            pickup_eta_secs: eta,
                            cost_secs: eta,
                            verdict: Verdict::Chosen,
                        }],
                        excluded: job.excluded.iter().copied().collect(),
                        shift_ending: Vec::new(),
                        trip: legs.iter().map(|l| l.order).filter(|other| other != order).collect(),
                        joins_trip: true,
                    });
                }
            }
        }
        (offers, decisions)
    }

    /// Group `eligible` (oldest first) into trips, each led by its oldest order: the orders
    /// of stores within the trip radius of the lead's, due within the ready window of it and
    /// declined by the same riders, while the trip still fits. With `max_orders = 1` every
    /// order is its own trip.
    fn trips(&self, eligible: &[OrderId], now: DateTime<Utc>, settings: &DispatchSettings) -> Vec<Vec<OrderId>> {
        let rules = &settings.trips;
        let ready = |order: &OrderId| self.waiting[order].ready_at.unwrap_or(now).max(now);
        let mut grouped: HashSet<OrderId> = HashSet::new();
        let mut trips = Vec::new();
        for (at, lead) in eligible.iter().enumerate() {
            if !grouped.insert(*lead) {
                continue;
            }
            let first = &self.waiting[lead];
            let mut legs = vec![Leg { order: *lead, places: first.places, picked_up: false }];
            for mate in &eligible[at + 1..] {
                if legs.len() >= rules.max_orders {
                    break;
                }
                let job = &self.waiting[mate];
                let apart = (ready(mate) - ready(lead)).num_seconds().unsigned_abs();
                // A trip goes to none of the riders any of its orders left out: only orders
                // that left out the same riders share one, so none loses a rider it has.
                if grouped.contains(mate)
                    || job.excluded != first.excluded
                    || first.places.pickup.distance_m(&job.places.pickup) > rules.store_radius_m
                    || apart > rules.ready_window_secs
                {
                    continue;
                }
                legs.push(Leg { order: *mate, places: job.places, picked_up: false });
                let fair = trip::fits(first.places.pickup, &legs, &settings.speed, rules)
                    && trip::keeps_promise(
                        first.places.pickup,
                        &legs,
                        |o| self.food_due(o),
                        now,
                        &settings.speed,
                        rules,
                    );
                if fair {
                    grouped.insert(*mate);
                } else {
                    legs.pop();
                }
            }
            trips.push(legs.iter().map(|l| l.order).collect());
        }
        trips
    }

    /// Whether a rider `pickup_eta_secs` away should be sent to `trip` now: always, unless
    /// it would reach the store more than [`ARRIVE_EARLY_SECS`] before the last of the
    /// trip's food is due.
    fn due(&self, trip: &[OrderId], pickup_eta_secs: f64, now: DateTime<Utc>) -> bool {
        let Some(ready_at) = trip.iter().filter_map(|order| self.waiting.get(order)?.ready_at).max() else {
            return true;
        };
        let cooking_left = (ready_at - now).num_milliseconds() as f64 / 1000.0;
        pickup_eta_secs + ARRIVE_EARLY_SECS >= cooking_left
    }

    /// When an order's food is due, whether it waits or holds a rider (`None`: ready, or
    /// not on the board).
    fn food_due(&self, order: OrderId) -> Option<DateTime<Utc>> {
        match self.holding.get(&order) {
            Some(held) => held.ready_at,
            None => self.waiting.get(&order).and_then(|w| w.ready_at),
        }
    }

    /// Take back an offer that could not reach its order.
    pub fn withdraw(&mut self, order: OrderId) {
        self.offering.remove(&order);
        self.set_aside.remove(&order);
        self.release(order);
    }

    /// The order answered an offer: taken, or refused (its state had moved on). Returns
    /// whether the order should be asked to announce its need again: after a refusal (its
    /// re-sent need may have been set aside while the offer was out), and after any answer
    /// when a need was set aside meanwhile (the order may be searching again already).
    pub fn answered(&mut self, order: OrderId, rider: RiderId, taken: bool) -> bool {
        self.offering.remove(&order);
        let set_aside = self.set_aside.remove(&order);
        if !taken && self.holding.get(&order).map(|h| h.rider) == Some(rider) {
            self.release(order);
            return true;
        }
        set_aside
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::matching::PlanarPoint;

    fn t(minutes: i64) -> DateTime<Utc> {
        DateTime::<Utc>::UNIX_EPOCH + Duration::minutes(minutes)
    }

    fn settings() -> DispatchSettings {
        DispatchSettings { base_radius_m: 10_000.0, stale_after_secs: 600, ..DispatchSettings::default() }
    }

    /// A store at (x, y) and a door 500 m east of it.
    fn at(x: f64, y: f64) -> Places<PlanarPoint> {
        Places { pickup: PlanarPoint::new(x, y), dropoff: PlanarPoint::new(x + 500.0, y), placed_at: t(0) }
    }

    fn searching(since: i64) -> Need {
        Need::Rider { excluded: BTreeSet::new(), since: t(since), ready_at: None }
    }

    #[test]
    fn offers_hold_riders_until_released() {
        let mut board: Board<PlanarPoint> = Board::new();
        let (near, far) = (RiderId::random(), RiderId::random());
        board.presence(near, Some(PlanarPoint::new(100.0, 0.0)), t(0));
        board.presence(far, Some(PlanarPoint::new(3000.0, 0.0)), t(0));
        let order = OrderId::random();
        board.needs(order, at(0.0, 0.0), searching(0));
        let offers = board.tick(t(1), &settings(), Policy::Optimal);
        assert_eq!(offers.len(), 1);
        assert_eq!(offers[0].rider, near);
        assert_eq!(board.free_riders(), 1);
        // A "need a rider" while the offer is out changes nothing yet; once the offer is
        // answered the order is asked again, since it may be searching already.
        board.needs(order, at(0.0, 0.0), searching(0));
        assert_eq!(board.waiting_orders(), 0);
        assert!(board.answered(order, near, true), "asked again after a set-aside need");
        board.needs(order, at(0.0, 0.0), Need::Holds { rider: near, stage: Stage::Assigned, ready_at: None });
        assert_eq!(board.free_riders(), 1);
        board.needs(order, at(0.0, 0.0), Need::Nothing);
        assert_eq!(board.free_riders(), 2);
    }

    #[test]
    fn excluded_and_stale_riders_are_not_offered() {
        let mut board: Board<PlanarPoint> = Board::new();
        let (declined, silent) = (RiderId::random(), RiderId::random());
        board.presence(declined, Some(PlanarPoint::new(10.0, 0.0)), t(20));
        board.presence(silent, Some(PlanarPoint::new(20.0, 0.0)), t(0));
        let order = OrderId::random();
        let need = Need::Rider { excluded: [declined].into_iter().collect(), since: t(20), ready_at: None };
        board.needs(order, at(0.0, 0.0), need);
        assert!(board.tick(t(20), &settings(), Policy::Optimal).is_empty());
        board.presence(silent, Some(PlanarPoint::new(20.0, 0.0)), t(20));
        let offers = board.tick(t(20), &settings(), Policy::Optimal);
        assert_eq!(offers.iter().map(|o| o.rider).collect::<Vec<_>>(), vec![silent]);
    }

    #[test]
    fn a_refused_offer_frees_the_rider_and_asks_for_a_resync() {
        let mut board: Board<PlanarPoint> = Board::new();
        let rider = RiderId::random();
        board.presence(rider, Some(PlanarPoint::new(0.0, 0.0)), t(0));
        let order = OrderId::random();
        board.needs(order, at(0.0, 0.0), searching(0));
        assert_eq!(board.tick(t(0), &settings(), Policy::Greedy).len(), 1);
        assert!(board.answered(order, rider, false));
        assert_eq!(board.free_riders(), 1);
    }

    #[test]
    fn an_order_let_go_while_its_offer_was_out_is_not_lost() {
        let mut board: Board<PlanarPoint> = Board::new();
        let (first, second) = (RiderId::random(), RiderId::random());
        board.presence(first, Some(PlanarPoint::new(0.0, 0.0)), t(0));
        let order = OrderId::random();
        board.needs(order, at(0.0, 0.0), searching(0));
        assert_eq!(board.tick(t(0), &settings(), Policy::Greedy).len(), 1);
        // The order takes the offer, the rider declines at once, and the order searches
        // again before the dispatcher hears that the offer was taken.
        let excluded = [first].into_iter().collect();
        board.needs(order, at(0.0, 0.0), Need::Rider { excluded, since: t(0), ready_at: None });
        assert!(board.answered(order, first, true), "the order must be asked what it needs");
        // Asked, it says again that it needs a rider, and gets the next one.
        let excluded = [first].into_iter().collect();
        board.needs(order, at(0.0, 0.0), Need::Rider { excluded, since: t(0), ready_at: None });
        board.presence(second, Some(PlanarPoint::new(5.0, 0.0)), t(1));
        let offers = board.tick(t(1), &settings(), Policy::Greedy);
        assert_eq!(offers.iter().map(|o| o.rider).collect::<Vec<_>>(), vec![second]);
        // Not asked twice.
        assert!(!board.answered(order, second, true));
    }

    #[test]
    fn each_offer_says_whom_it_weighed_and_why_they_lost() {
        let mut board: Board<PlanarPoint> = Board::new();
        // Rider `between` is nearest to both orders; `south` only reaches `a`; `far` is the
        // runner-up for `a` and stays free; `declined` already said no to `a`.
        let (between, south, far, declined) =
            (RiderId::random(), RiderId::random(), RiderId::random(), RiderId::random());
        board.presence(between, Some(PlanarPoint::new(0.0, 200.0)), t(0));
        board.presence(south, Some(PlanarPoint::new(0.0, -300.0)), t(0));
        board.presence(far, Some(PlanarPoint::new(0.0, -2000.0)), t(0));
        board.presence(declined, Some(PlanarPoint::new(0.0, 10.0)), t(0));
        let (a, b) = (OrderId::random(), OrderId::random());
        let need_a = Need::Rider { excluded: [declined].into_iter().collect(), since: t(0), ready_at: None };
        board.needs(a, at(0.0, 0.0), need_a);
        board.needs(
            b,
            at(0.0, 1200.0),
            Need::Rider { excluded: [declined].into_iter().collect(), since: t(0), ready_at: None },
        );
        let settings = DispatchSettings { candidates_k: 3, ..settings() };
        let (offers, decisions) = board.tick_explained(t(0), &settings, Policy::Optimal);
        assert_eq!(offers.len(), 2);
        let of_a = decisions.iter().find(|d| d.order == a).expect("a decision for each offer");
        assert_eq!(of_a.rider, south);
        assert_eq!(of_a.excluded, vec![declined]);
        let verdict = |rider| of_a.candidates.iter().find(|c| c.rider == rider).map(|c| c.verdict.clone());
        assert_eq!(verdict(south), Some(Verdict::Chosen));
        assert_eq!(verdict(between), Some(Verdict::OfferedAnotherOrder { order: b }));
        assert_eq!(verdict(far), Some(Verdict::Farther));
        assert_eq!(verdict(declined), None, "an excluded rider is not weighed");
        assert!(of_a.candidates.windows(2).all(|w| w[0].cost_secs <= w[1].cost_secs), "cheapest first");
        assert_eq!((of_a.free_riders, of_a.waiting_orders), (4, 2));
        // The plain tick decides the same and keeps no records.
        let mut again: Board<PlanarPoint> = Board::new();
        for (rider, y) in [(between, 200.0), (south, -300.0), (far, -2000.0), (declined, 10.0)] {
            again.presence(rider, Some(PlanarPoint::new(0.0, y)), t(0));
        }
        again.needs(
            a,
            at(0.0, 0.0),
            Need::Rider { excluded: [declined].into_iter().collect(), since: t(0), ready_at: None },
        );
        again.needs(
            b,
            at(0.0, 1200.0),
            Need::Rider { excluded: [declined].into_iter().collect(), since: t(0), ready_at: None },
        );
        assert_eq!(again.tick(t(0), &settings, Policy::Optimal), offers);
    }

    #[test]
    fn an_order_is_offered_nothing_before_its_dispatch_starts() {
        let mut board: Board<PlanarPoint> = Board::new();
        let rider = RiderId::random();
        board.presence(rider, Some(PlanarPoint::new(0.0, 0.0)), t(0));
        let order = OrderId::random();
        board.needs(order, at(0.0, 0.0), searching(10));
        assert!(board.tick(t(9), &settings(), Policy::Optimal).is_empty(), "not yet released");
        assert_eq!(board.waiting_orders(), 1);
        let offers = board.tick(t(10), &settings(), Policy::Optimal);
        assert_eq!(offers.iter().map(|o| o.rider).collect::<Vec<_>>(), vec![rider]);
    }

    #[test]
    fn a_rider_is_sent_so_as_to_arrive_as_the_food_is_ready() {
        let mut board: Board<PlanarPoint> = Board::new();
        let rider = RiderId::random();
        // 1 km away: 260 s at 18 km/h with the 1.3 detour.
        board.presence(rider, Some(PlanarPoint::new(1000.0, 0.0)), t(0));
        let order = OrderId::random();
        let need = Need::Rider { excluded: BTreeSet::new(), since: t(0), ready_at: Some(t(10)) };
        board.needs(order, at(0.0, 0.0), need);
        for minute in 0..5 {
            assert!(board.tick(t(minute), &settings(), Policy::Optimal).is_empty(), "minute {minute}: too early");
        }
        assert_eq!(board.free_riders(), 1, "the rider stays free meanwhile");
        // 320 s of cooking left = 260 s to get there + 60 s early: go.
        let offers = board.tick(t(4) + Duration::seconds(40), &settings(), Policy::Optimal);
        assert_eq!(offers.iter().map(|o| o.rider).collect::<Vec<_>>(), vec![rider]);
    }

    #[test]
    fn a_rider_kept_for_food_not_yet_due_is_recorded_as_such() {
        let mut board: Board<PlanarPoint> = Board::new();
        // `at_b` stands at store B, whose food is ten minutes off; `near_a` is 50 m from A,
        // whose food is ready. The assignment pairs at_b with B (not due: no offer) and
        // near_a with A.
        let (at_b, near_a) = (RiderId::random(), RiderId::random());
        board.presence(at_b, Some(PlanarPoint::new(0.0, 100.0)), t(0));
        board.presence(near_a, Some(PlanarPoint::new(0.0, -50.0)), t(0));
        let (a, b) = (OrderId::random(), OrderId::random());
        board.needs(a, at(0.0, 0.0), searching(0));
        let later = Need::Rider { excluded: BTreeSet::new(), since: t(0), ready_at: Some(t(10)) };
        board.needs(b, at(0.0, 100.0), later);
        let (offers, decisions) = board.tick_explained(t(0), &settings(), Policy::Optimal);
        assert_eq!(offers.iter().map(|o| (o.order, o.rider)).collect::<Vec<_>>(), vec![(a, near_a)]);
        let verdict = |rider| decisions[0].candidates.iter().find(|c| c.rider == rider).map(|c| c.verdict.clone());
        assert_eq!(verdict(at_b), Some(Verdict::KeptForAnotherOrder { order: b }), "not offered B: kept for it");
        assert_eq!(board.free_riders(), 1, "and left free");
    }

    #[test]
    fn the_orders_of_a_trip_hold_their_rider_until_the_last_lets_go() {
        let mut board: Board<PlanarPoint> = Board::new();
        let rider = RiderId::random();
        board.presence(rider, Some(PlanarPoint::new(0.0, 0.0)), t(0));
        let (a, b) = (OrderId::random(), OrderId::random());
        board.needs(a, at(0.0, 0.0), Need::Holds { rider, stage: Stage::Assigned, ready_at: None });
        board.needs(b, at(0.0, 0.0), Need::Holds { rider, stage: Stage::PickedUp, ready_at: None });
        assert_eq!(board.free_riders(), 0);
        board.needs(a, at(0.0, 0.0), Need::Nothing);
        assert_eq!(board.free_riders(), 0, "b still holds the rider");
        board.needs(b, at(0.0, 0.0), Need::Nothing);
        assert_eq!(board.free_riders(), 1);
    }

    fn ready(since: i64, ready: i64) -> Need {
        Need::Rider { excluded: BTreeSet::new(), since: t(since), ready_at: Some(t(ready)) }
    }

    #[test]
    fn two_orders_of_one_store_due_together_go_to_one_rider_as_one_trip_when_riders_are_short() {
        let (near, far) = (RiderId::random(), RiderId::random());
        let (a, b, c) = (OrderId::random(), OrderId::random(), OrderId::random());
        let board_of = |orders: &[OrderId]| {
            let mut board: Board<PlanarPoint> = Board::new();
            board.presence(near, Some(PlanarPoint::new(0.0, 300.0)), t(0));
            board.presence(far, Some(PlanarPoint::new(0.0, 900.0)), t(0));
            board.needs(a, at(0.0, 0.0), ready(0, 2));
            let door = PlanarPoint::new(400.0, 200.0);
            board.needs(b, Places { pickup: PlanarPoint::new(0.0, 0.0), dropoff: door, placed_at: t(0) }, ready(0, 4));
            if orders.contains(&c) {
                board.needs(c, at(2000.0, 0.0), ready(0, 2));
            }
            board
        };
        // Two riders for two orders: each rides alone, soonest at its door.
        let offers = board_of(&[a, b]).tick(t(2), &settings(), Policy::Optimal);
        assert_eq!(offers.iter().map(|o| o.rider).collect::<BTreeSet<_>>(), [near, far].into());
        // Three orders for two riders: the two of one store share the nearer rider.
        let mut board = board_of(&[a, b, c]);
        let (offers, decisions) = board.tick_explained(t(2), &settings(), Policy::Optimal);
        let pairs: BTreeSet<_> = offers.iter().map(|o| (o.order, o.rider)).collect();
        assert_eq!(pairs, [(a, near), (b, near), (c, far)].into());
        let of_b = decisions.iter().find(|d| d.order == b).unwrap();
        assert_eq!((of_b.trip.clone(), of_b.joins_trip), (vec![a], false));
        // One order per rider: one of the three waits.
        let one_each = DispatchSettings { trips: super::trip::TripSettings::single(), ..settings() };
        let offers = board_of(&[a, b, c]).tick(t(2), &one_each, Policy::Optimal);
        assert_eq!(offers.len(), 2);
        assert_eq!(offers.iter().map(|o| o.rider).collect::<BTreeSet<_>>(), [near, far].into());
    }

    #[test]
    fn orders_apart_in_place_or_in_time_do_not_share_a_rider() {
        let mut board: Board<PlanarPoint> = Board::new();
        let rider = RiderId::random();
        board.presence(rider, Some(PlanarPoint::new(0.0, 50.0)), t(0));
        let (a, other_store, later) = (OrderId::random(), OrderId::random(), OrderId::random());
        board.needs(a, at(0.0, 0.0), ready(-1, 0));
        board.needs(other_store, at(2000.0, 0.0), ready(0, 0));
        // Ready 9 minutes after a, outside the 5-minute window; released now all the same.
        board.needs(later, at(0.0, 0.0), ready(0, 9));
        let now = DispatchSettings { base_radius_m: 50_000.0, release: Release::AtAccept, ..settings() };
        let offers = board.tick(t(0), &now, Policy::Optimal);
        assert_eq!(offers.iter().map(|o| (o.order, o.rider)).collect::<Vec<_>>(), vec![(a, rider)]);
    }

    #[test]
    fn an_order_long_waiting_does_not_share_a_trip_that_brings_it_later_to_its_door() {
        let rider = RiderId::random();
        let (old, fresh) = (OrderId::random(), OrderId::random());
        let offered = |placed: i64| {
            let mut board: Board<PlanarPoint> = Board::new();
            board.presence(rider, Some(PlanarPoint::new(0.0, 50.0)), t(60));
            // One store, both doors east of it: the near door first, so the far one is
            // reached later (the hand-over at the near door) than riding alone.
            let store = PlanarPoint::new(0.0, 0.0);
            let far = Places { pickup: store, dropoff: PlanarPoint::new(900.0, 0.0), placed_at: t(placed) };
            let near = Places { dropoff: PlanarPoint::new(300.0, 0.0), placed_at: t(55), ..far };
            board.needs(old, far, ready(59, 60));
            board.needs(fresh, near, ready(59, 60));
            let settings = DispatchSettings { base_radius_m: 50_000.0, release: Release::AtAccept, ..settings() };
            let settings = DispatchSettings {
                trips: trip::TripSettings {
                    max_detour_secs: 3600,
                    max_click_to_door_secs: 1800,
                    ..trip::TripSettings::default()
                },
                ..settings
            };
            let mut orders: Vec<OrderId> =
                board.tick(t(60), &settings, Policy::Optimal).iter().map(|o| o.order).collect();
            orders.sort();
            orders
        };
        let mut both = vec![old, fresh];
        both.sort();
        assert_eq!(offered(50), both, "placed ten minutes ago: both keep the 30-minute promise together");
        assert_eq!(offered(20).len(), 1, "placed forty minutes ago: it rides alone, the other waits");
    }

    #[test]
    fn a_rider_on_the_way_to_a_store_takes_its_next_order_and_one_with_food_on_board_does_not() {
        let mut board: Board<PlanarPoint> = Board::new();
        let (on_the_way, carrying, free) = (RiderId::random(), RiderId::random(), RiderId::random());
        board.presence(on_the_way, Some(PlanarPoint::new(0.0, 400.0)), t(0));
        board.presence(carrying, Some(PlanarPoint::new(0.0, 10.0)), t(0));
        let (first, second) = (OrderId::random(), OrderId::random());
        board.needs(first, at(0.0, 0.0), Need::Holds { rider: on_the_way, stage: Stage::Assigned, ready_at: None });
        board.needs(second, at(0.0, 0.0), Need::Holds { rider: carrying, stage: Stage::PickedUp, ready_at: None });
        let third = OrderId::random();
        board.needs(third, at(0.0, 0.0), ready(0, 1));
        let (offers, decisions) = board.tick_explained(t(0), &settings(), Policy::Optimal);
        assert_eq!(offers.iter().map(|o| (o.order, o.rider)).collect::<Vec<_>>(), vec![(third, on_the_way)]);
        assert_eq!((decisions[0].trip.clone(), decisions[0].joins_trip), (vec![first], true));
        // While that offer is out, nothing more joins the trip: the next two go to a free
        // rider, as a trip of their own.
        board.presence(free, Some(PlanarPoint::new(0.0, 1500.0)), t(0));
        let (fourth, fifth) = (OrderId::random(), OrderId::random());
        board.needs(fourth, at(0.0, 0.0), ready(0, 1));
        board.needs(fifth, at(0.0, 0.0), ready(0, 1));
        let offers = board.tick(t(0), &settings(), Policy::Optimal);
        let pairs: BTreeSet<_> = offers.iter().map(|o| (o.order, o.rider)).collect();
        assert_eq!(pairs, [(fourth, free), (fifth, free)].into());
    }

    proptest::proptest! {
        /// Whatever the board holds, a tick offers no order twice, never one to a rider who
        /// was excluded from it, never gives a rider more orders than a trip may hold or a
        /// trip that breaks the detour cap or the click-to-door promise, and never one it
        /// cannot finish in its shift.
        #[test]
        fn no_order_is_in_two_trips_and_no_trip_is_too_big_or_too_long(
            riders in proptest::collection::vec(
                (0.0..3000.0f64, 0.0..3000.0f64, 0usize..4, proptest::option::of(5i64..40)),
                1..8,
            ),
            orders in proptest::collection::vec(
                (0usize..4, 0.0..3000.0f64, 0.0..3000.0f64, 0i64..12, proptest::bool::ANY, 0i64..60),
                1..14,
            ),
        ) {
            let stores = [(0.0, 0.0), (150.0, 100.0), (2500.0, 0.0), (0.0, 2500.0)];
            let mut board: Board<PlanarPoint> = Board::new();
            let ids: Vec<RiderId> = riders.iter().map(|_| RiderId::random()).collect();
            let mut holds: HashMap<RiderId, Vec<Leg<PlanarPoint>>> = HashMap::new();
            let mut where_is: HashMap<RiderId, PlanarPoint> = HashMap::new();
            for ((x, y, held, shift), rider) in riders.iter().zip(&ids) {
                board.presence(*rider, Some(PlanarPoint::new(*x, *y)), t(0));
                where_is.insert(*rider, PlanarPoint::new(*x, *y));
                board.shift(*rider, shift.map(t));
                let mut legs = Vec::new();
                for _ in 0..*held {
                    let (order, places) = (OrderId::random(), at(stores[0].0, stores[0].1));
                    board.needs(order, places, Need::Holds { rider: *rider, stage: Stage::Assigned, ready_at: None });
                    legs.push(Leg { order, places, picked_up: false });
                }
                holds.insert(*rider, legs);
            }
            let shifts: HashMap<RiderId, DateTime<Utc>> =
                riders.iter().zip(&ids).filter_map(|((_, _, _, shift), rider)| Some((*rider, t((*shift)?)))).collect();
            let mut places_of: HashMap<OrderId, Places<PlanarPoint>> = HashMap::new();
            let mut excluded_of: HashMap<OrderId, BTreeSet<RiderId>> = HashMap::new();
            let mut ready_of: HashMap<OrderId, DateTime<Utc>> = HashMap::new();
            for (store, x, y, ready_in, exclude, placed_ago) in &orders {
                let order = OrderId::random();
                let excluded: BTreeSet<RiderId> = if *exclude { ids.iter().take(2).copied().collect() } else { BTreeSet::new() };
                excluded_of.insert(order, excluded.clone());
                let (sx, sy) = stores[*store];
                let placed_at = t(-placed_ago);
                let places = Places { pickup: PlanarPoint::new(sx, sy), dropoff: PlanarPoint::new(*x, *y), placed_at };
                places_of.insert(order, places);
                ready_of.insert(order, t(*ready_in));
                board.needs(order, places, Need::Rider { excluded, since: t(0), ready_at: Some(t(*ready_in)) });
            }
            let settings = DispatchSettings { base_radius_m: 50_000.0, ..settings() };
            let offers = board.tick(t(5), &settings, Policy::Optimal);
            let mut seen = BTreeSet::new();
            let mut per_rider: HashMap<RiderId, Vec<OrderId>> = HashMap::new();
            for offer in &offers {
                proptest::prop_assert!(seen.insert(offer.order), "offered twice");
                proptest::prop_assert!(!excluded_of[&offer.order].contains(&offer.rider));
                per_rider.entry(offer.rider).or_default().push(offer.order);
            }
            let speed = settings.speed;
            for (rider, mut offered) in per_rider {
                let held = &holds[&rider];
                proptest::prop_assert!(offered.len() + held.len() <= settings.trips.max_orders.max(held.len()));
                offered.sort();
                let mut legs = held.clone();
                legs.extend(offered.iter().map(|o| Leg { order: *o, places: places_of[o], picked_up: false }));
                // A new trip is routed from its lead's store; stacking from the rider.
                let (from, lead_secs) = if held.is_empty() {
                    let store = places_of[&offered[0]].pickup;
                    (store, speed.travel_secs(where_is[&rider].distance_m(&store)))
                } else {
                    (where_is[&rider], 0.0)
                };
                proptest::prop_assert!(trip::fits(from, &legs, &speed, &settings.trips), "a trip over the cap");
                let ready_at = |order: OrderId| ready_of.get(&order).copied();
                let promise = trip::keeps_promise(from, &legs, ready_at, t(5), &speed, &settings.trips);
                proptest::prop_assert!(promise, "a trip that brings an order late to its door");
                if let Some(ends) = shifts.get(&rider) {
                    let secs = lead_secs + trip::duration_secs(from, &legs, &speed);
                    proptest::prop_assert!(t(5) + Duration::milliseconds((secs * 1000.0) as i64) <= *ends, "past its shift");
                }
            }
        }
    }

    #[test]
    fn a_rider_whose_shift_ends_first_is_left_out_and_the_record_says_so() {
        let mut board: Board<PlanarPoint> = Board::new();
        let (leaving, staying) = (RiderId::random(), RiderId::random());
        board.presence(leaving, Some(PlanarPoint::new(0.0, 50.0)), t(0));
        board.presence(staying, Some(PlanarPoint::new(0.0, 900.0)), t(0));
        // Two minutes left: not enough to reach the store, take the food and ride 500 m.
        board.shift(leaving, Some(t(2)));
        let order = OrderId::random();
        board.needs(order, at(0.0, 0.0), searching(0));
        let (offers, decisions) = board.tick_explained(t(0), &settings(), Policy::Optimal);
        assert_eq!(offers.iter().map(|o| o.rider).collect::<Vec<_>>(), vec![staying]);
        assert_eq!(decisions[0].shift_ending, vec![leaving]);
        assert!(decisions[0].excluded.is_empty(), "it did not decline anything");
        // With an hour left, it is the nearest again.
        board.needs(order, at(0.0, 0.0), Need::Nothing);
        board.shift(leaving, Some(t(60)));
        let other = OrderId::random();
        board.needs(other, at(0.0, 0.0), searching(0));
        let offers = board.tick(t(0), &settings(), Policy::Optimal);
        assert_eq!(offers.iter().map(|o| o.rider).collect::<Vec<_>>(), vec![leaving]);
    }

    #[test]
    fn an_order_a_rider_declined_does_not_take_that_rider_from_the_others() {
        let mut board: Board<PlanarPoint> = Board::new();
        let rider = RiderId::random();
        board.presence(rider, Some(PlanarPoint::new(0.0, 50.0)), t(0));
        let (declined, a, b) = (OrderId::random(), OrderId::random(), OrderId::random());
        let need = Need::Rider { excluded: [rider].into(), since: t(-1), ready_at: Some(t(1)) };
        board.needs(declined, at(0.0, 0.0), need);
        board.needs(a, at(0.0, 0.0), ready(0, 1));
        board.needs(b, at(0.0, 0.0), ready(0, 1));
        let offers = board.tick(t(0), &DispatchSettings { release: Release::AtAccept, ..settings() }, Policy::Optimal);
        let pairs: BTreeSet<_> = offers.iter().map(|o| (o.order, o.rider)).collect();
        assert_eq!(pairs, [(a, rider), (b, rider)].into());
    }
}
