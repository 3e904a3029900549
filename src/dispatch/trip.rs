//! Trips: the orders one rider carries at once, and the route through their stops.
//!
//! Two orders of one store whose food is ready about together are cheaper for one rider
//! than for two, and when riders are scarce they are the difference between delivering
//! and not (the board builds trips only then: with riders to spare, every order rides alone
//! and is at its door soonest). A trip may only be built so that no order pays too much for it: the food of
//! every order may spend at most [`TripSettings::max_detour_secs`] longer between its store
//! and its door than on a direct ride, and sharing may not bring any order to its door past
//! [`TripSettings::max_click_to_door_secs`] from its placement when riding alone would not.
//! The route is pickups first (nearest store next),
//! then the drop-offs in the order that brings the food home soonest in total.
//!
//! Pure and generic over the space, like the [`Board`](super::Board) that builds trips:
//! the live server, the headless simulator and the tests all route the same way.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::OrderId;
use crate::matching::eta::SpeedModel;
use crate::matching::Position;

/// How trips are built. `max_orders = 1` is the one-order-per-rider policy.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct TripSettings {
    /// Orders one rider may carry at once (1: no trips).
    pub max_orders: usize,
    /// Stores this close (straight line) count as one stop's neighbourhood: their orders
    /// may share a trip.
    pub store_radius_m: f64,
    /// Orders share a trip only when their food is due within this much of each other.
    pub ready_window_secs: u64,
    /// The most a trip may add to any of its orders' ride from store to door.
    pub max_detour_secs: u64,
    /// Click-to-door a shared trip must keep every order within, unless the order would be
    /// no sooner at its door riding alone: the promise that sharing never ruins an order.
    pub max_click_to_door_secs: u64,
}

impl Default for TripSettings {
    fn default() -> Self {
        TripSettings {
            max_orders: 3,
            store_radius_m: 300.0,
            ready_window_secs: 120,
            max_detour_secs: 180,
            max_click_to_door_secs: 2400,
        }
    }
}

impl TripSettings {
    /// One order per rider: the policy before trips, kept to compare against.
    pub fn single() -> Self {
        TripSettings { max_orders: 1, ..TripSettings::default() }
    }
}

/// Where an order is picked up and where it goes, and when it was placed: the start of
/// the click-to-door a trip must keep.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Places<P> {
    pub pickup: P,
    pub dropoff: P,
    pub placed_at: DateTime<Utc>,
}

/// One order of a trip, as the route needs it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Leg<P> {
    pub order: OrderId,
    pub places: Places<P>,
    /// The food is on board: only its drop-off is left.
    pub picked_up: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StopKind {
    Pickup,
    Dropoff,
}

/// A stop on a rider's route.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Stop<P> {
    pub order: OrderId,
    pub kind: StopKind,
    pub at: P,
    /// Seconds from now until the rider arrives here (service at earlier stops included;
    /// waiting for food that is not ready is not).
    pub arrive_secs: f64,
}

/// Drop-offs are ordered by trying every order up to this many; beyond it, nearest next.
const PERMUTE_UP_TO: usize = 5;

/// The route from `from` through every stop left in `legs`: the stores not yet visited,
/// nearest next (orders of one store are picked up in one visit), then the drop-offs in
/// the order with the least total arrival time. Deterministic for the same input.
pub fn route<P: Position>(from: P, legs: &[Leg<P>], speed: &SpeedModel) -> Vec<Stop<P>> {
    let mut stops = Vec::with_capacity(legs.len() * 2);
    let (mut here, mut clock) = (from, 0.0);
    let mut pickups: Vec<&Leg<P>> = legs.iter().filter(|l| !l.picked_up).collect();
    pickups.sort_by_key(|l| l.order);
    while let Some(next) = nearest(here, pickups.iter().map(|l| l.places.pickup)) {
        let store = pickups[next].places.pickup;
        clock += speed.travel_secs(here.distance_m(&store));
        let (at_store, rest): (Vec<&Leg<P>>, Vec<&Leg<P>>) =
            pickups.into_iter().partition(|l| l.places.pickup.key() == store.key());
        stops.extend(at_store.iter().map(|l| Stop {
            order: l.order,
            kind: StopKind::Pickup,
            at: store,
            arrive_secs: clock,
        }));
        clock += speed.pickup_service_secs;
        here = store;
        pickups = rest;
    }
    let mut dropoffs: Vec<&Leg<P>> = legs.iter().collect();
    dropoffs.sort_by_key(|l| l.order);
    let sequence = if dropoffs.len() <= PERMUTE_UP_TO {
        best_sequence(here, &dropoffs, speed)
    } else {
        nearest_sequence(here, &dropoffs)
    };
    for index in sequence {
        let leg = dropoffs[index];
        clock += speed.travel_secs(here.distance_m(&leg.places.dropoff));
        stops.push(Stop { order: leg.order, kind: StopKind::Dropoff, at: leg.places.dropoff, arrive_secs: clock });
        clock += speed.dropoff_service_secs;
        here = leg.places.dropoff;
    }
    stops
}

/// Seconds from `from` until the last door of `legs` is done, hand-over included.
pub fn duration_secs<P: Position>(from: P, legs: &[Leg<P>], speed: &SpeedModel) -> f64 {
    route(from, legs, speed).last().map_or(0.0, |stop| stop.arrive_secs + speed.dropoff_service_secs)
}

/// When each order of `legs` reaches its door, for a rider at `from` at `now` that follows
/// the [`route`] and waits at each store for food not yet ready (`ready_at`).
pub fn doors<P: Position>(
    from: P,
    legs: &[Leg<P>],
    ready_at: impl Fn(OrderId) -> Option<DateTime<Utc>>,
    now: DateTime<Utc>,
    speed: &SpeedModel,
) -> Vec<(OrderId, DateTime<Utc>)> {
    let at = |secs: f64| now + Duration::milliseconds((secs * 1000.0) as i64);
    let mut waited = 0.0;
    let mut doors = Vec::with_capacity(legs.len());
    for stop in route(from, legs, speed) {
        let arrives = at(stop.arrive_secs + waited);
        match stop.kind {
            StopKind::Pickup => {
                if let Some(ready) = ready_at(stop.order).filter(|ready| *ready > arrives) {
                    waited += (ready - arrives).num_milliseconds() as f64 / 1000.0;
                }
            }
            StopKind::Dropoff => doors.push((stop.order, arrives)),
        }
    }
    doors
}

/// Whether sharing `legs` keeps its promise to every order: each reaches its door within
/// `max_click_to_door_secs` of its placement, or no later than riding alone from `from`.
pub fn keeps_promise<P: Position>(
    from: P,
    legs: &[Leg<P>],
    ready_at: impl Fn(OrderId) -> Option<DateTime<Utc>> + Copy,
    now: DateTime<Utc>,
    speed: &SpeedModel,
    settings: &TripSettings,
) -> bool {
    if legs.len() <= 1 {
        return true;
    }
    let cap = Duration::seconds(settings.max_click_to_door_secs.min(1 << 32) as i64);
    doors(from, legs, ready_at, now, speed).into_iter().all(|(order, door)| {
        let Some(leg) = legs.iter().find(|l| l.order == order) else { return true };
        let alone = doors(from, std::slice::from_ref(leg), ready_at, now, speed).first().map(|(_, at)| *at);
        door - leg.places.placed_at <= cap || alone.is_some_and(|alone| door <= alone + Duration::seconds(1))
    })
}

/// What a trip's route means for one of its orders.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Along {
    pub order: OrderId,
    /// Seconds until the rider reaches the order's store; `None` once the food is on board.
    pub to_store_secs: Option<f64>,
    /// Seconds the food rides along the route: from leaving its store (or from now, once on
    /// board) to its door.
    pub ride_secs: f64,
    /// The same ride taken directly.
    pub direct_secs: f64,
}

impl Along {
    /// What the route's other stops add to the order's ride.
    pub fn detour_secs(&self) -> f64 {
        self.ride_secs - self.direct_secs
    }
}

/// What the route from `from` through `legs` ([`route`]) means for each order of it: when
/// the rider reaches its store and how long its food rides, against a direct ride. The
/// detour cap of [`fits`] and the ETAs the rider actor gives its orders both read it.
pub fn along<P: Position>(from: P, legs: &[Leg<P>], speed: &SpeedModel) -> Vec<Along> {
    let stops = route(from, legs, speed);
    let at = |order: OrderId, kind| stops.iter().find(|s| s.order == order && s.kind == kind).map(|s| s.arrive_secs);
    legs.iter()
        .filter_map(|leg| {
            let door = at(leg.order, StopKind::Dropoff)?;
            let to_store_secs = at(leg.order, StopKind::Pickup);
            let (left, direct_secs) = match to_store_secs {
                Some(store) => (
                    store + speed.pickup_service_secs,
                    speed.travel_secs(leg.places.pickup.distance_m(&leg.places.dropoff)),
                ),
                None => (0.0, speed.travel_secs(from.distance_m(&leg.places.dropoff))),
            };
            Some(Along { order: leg.order, to_store_secs, ride_secs: door - left, direct_secs })
        })
        .collect()
}

/// Whether `legs` make a fair trip from `from`: no more orders than allowed, and no order's
/// food longer on board than a direct ride from its store plus the allowed detour.
pub fn fits<P: Position>(from: P, legs: &[Leg<P>], speed: &SpeedModel, settings: &TripSettings) -> bool {
    if legs.len() > settings.max_orders.max(1) {
        return false;
    }
    if legs.len() <= 1 {
        return true;
    }
    let cap = settings.max_detour_secs as f64;
    let along = along(from, legs, speed);
    along.len() == legs.len()
        && along.iter().filter(|a| a.to_store_secs.is_some()).all(|a| a.ride_secs <= a.direct_secs + cap)
}

fn nearest<P: Position>(from: P, points: impl Iterator<Item = P>) -> Option<usize> {
    points
        .enumerate()
        .min_by(|(_, a), (_, b)| from.distance_m(a).total_cmp(&from.distance_m(b)))
        .map(|(index, _)| index)
}

fn nearest_sequence<P: Position>(from: P, legs: &[&Leg<P>]) -> Vec<usize> {
    let mut left: Vec<usize> = (0..legs.len()).collect();
    let mut here = from;
    let mut sequence = Vec::with_capacity(legs.len());
    while let Some(next) = nearest(here, left.iter().map(|i| legs[*i].places.dropoff)) {
        let index = left.remove(next);
        here = legs[index].places.dropoff;
        sequence.push(index);
    }
    sequence
}

/// The drop-off order with the least sum of arrival times (first found wins a tie).
fn best_sequence<P: Position>(from: P, legs: &[&Leg<P>], speed: &SpeedModel) -> Vec<usize> {
    let mut best: Option<(f64, Vec<usize>)> = None;
    let mut current: Vec<usize> = (0..legs.len()).collect();
    loop {
        let (mut here, mut clock, mut total) = (from, 0.0, 0.0);
        for &index in &current {
            clock += speed.travel_secs(here.distance_m(&legs[index].places.dropoff));
            total += clock;
            clock += speed.dropoff_service_secs;
            here = legs[index].places.dropoff;
        }
        if best.as_ref().is_none_or(|(cost, _)| total < *cost) {
            best = Some((total, current.clone()));
        }
        if !next_permutation(&mut current) {
            break;
        }
    }
    best.map(|(_, sequence)| sequence).unwrap_or_default()
}

/// Lexicographic next permutation; `false` after the last.
fn next_permutation(items: &mut [usize]) -> bool {
    let Some(pivot) = (1..items.len()).rev().find(|&i| items[i - 1] < items[i]) else { return false };
    let swap = (pivot..items.len()).rev().find(|&j| items[j] > items[pivot - 1]).unwrap_or(pivot);
    items.swap(pivot - 1, swap);
    items[pivot..].reverse();
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::matching::PlanarPoint;
    use proptest::prelude::*;

    fn leg(x: f64, to: (f64, f64)) -> Leg<PlanarPoint> {
        Leg {
            order: OrderId::random(),
            places: Places {
                pickup: PlanarPoint::new(x, 0.0),
                dropoff: PlanarPoint::new(to.0, to.1),
                placed_at: DateTime::UNIX_EPOCH,
            },
            picked_up: false,
        }
    }

    #[test]
    fn one_store_two_doors_picks_up_once_then_nearest_door_first() {
        let speed = SpeedModel::default();
        let (near, far) = (leg(0.0, (500.0, 0.0)), leg(0.0, (1500.0, 0.0)));
        let stops = route(PlanarPoint::new(-1000.0, 0.0), &[far, near], &speed);
        let kinds: Vec<(OrderId, StopKind)> = stops.iter().map(|s| (s.order, s.kind)).collect();
        assert_eq!(kinds[2..], [(near.order, StopKind::Dropoff), (far.order, StopKind::Dropoff)]);
        assert_eq!(stops[0].arrive_secs, stops[1].arrive_secs, "both picked up in one visit");
        assert!(fits(PlanarPoint::new(0.0, 0.0), &[near, far], &speed, &TripSettings::default()));
    }

    #[test]
    fn a_trip_that_would_ruin_an_order_does_not_fit() {
        let speed = SpeedModel::default();
        // Opposite directions, 3 km each way: the second door is far out of the way.
        let (east, west) = (leg(0.0, (3000.0, 0.0)), leg(0.0, (-3000.0, 0.0)));
        assert!(!fits(PlanarPoint::new(0.0, 0.0), &[east, west], &speed, &TripSettings::default()));
        let single = TripSettings::single();
        let same_way = leg(0.0, (3200.0, 0.0));
        assert!(!fits(PlanarPoint::new(0.0, 0.0), &[east, same_way], &speed, &single), "one order per rider");
        assert!(fits(PlanarPoint::new(0.0, 0.0), &[east, same_way], &speed, &TripSettings::default()));
    }

    #[test]
    fn a_shared_trip_may_not_bring_an_order_past_the_promise_that_riding_alone_would_keep() {
        let speed = SpeedModel::default();
        let store = PlanarPoint::new(0.0, 0.0);
        let now = DateTime::UNIX_EPOCH + Duration::minutes(60);
        let (near, far) = (leg(0.0, (1000.0, 0.0)), leg(0.0, (-3000.0, 0.0)));
        let settings =
            TripSettings { max_detour_secs: 10_000, max_click_to_door_secs: 1800, ..TripSettings::default() };
        let cooked = |_| None;
        // Both placed at the start: an hour ago, past any promise. Riding alone, each is at
        // its door sooner than in the trip, so the trip would ruin both.
        assert!(!keeps_promise(store, &[near, far], cooked, now, &speed, &settings));
        // Placed just now, both keep the 30 minutes in the trip.
        let fresh = |leg: Leg<PlanarPoint>| Leg { places: Places { placed_at: now, ..leg.places }, ..leg };
        assert!(keeps_promise(store, &[fresh(near), fresh(far)], cooked, now, &speed, &settings));
        // The doors are reached later when the food is not ready: the rider waits for it.
        let cooking = |_| Some(now + Duration::minutes(10));
        let ready = doors(store, &[near], cooked, now, &speed)[0].1;
        assert_eq!(doors(store, &[near], cooking, now, &speed)[0].1, ready + Duration::minutes(10));
    }

    fn point() -> impl Strategy<Value = (f64, f64)> {
        (-3000.0..3000.0f64, -3000.0..3000.0f64)
    }

    proptest! {
        /// Every order appears once as a drop-off and, unless on board, once as a pickup
        /// before it; arrival times never go back; and a trip that fits keeps every order
        /// within the detour cap.
        #[test]
        fn routes_pick_up_before_dropping_off_and_fitting_trips_keep_the_cap(
            from in point(),
            legs in proptest::collection::vec((point(), point(), any::<bool>()), 1..6),
            max_detour in 0u64..900,
        ) {
            let speed = SpeedModel::default();
            let legs: Vec<Leg<PlanarPoint>> = legs.into_iter().map(|(store, door, picked_up)| Leg {
                order: OrderId::random(),
                places: Places {
                    pickup: PlanarPoint::new(store.0, store.1),
                    dropoff: PlanarPoint::new(door.0, door.1),
                    placed_at: DateTime::UNIX_EPOCH,
                },
                picked_up,
            }).collect();
            let from = PlanarPoint::new(from.0, from.1);
            let stops = route(from, &legs, &speed);
            prop_assert!(stops.windows(2).all(|w| w[0].arrive_secs <= w[1].arrive_secs));
            for leg in &legs {
                let position = |kind| stops.iter().position(|s| s.order == leg.order && s.kind == kind);
                let (pickup, dropoff) = (position(StopKind::Pickup), position(StopKind::Dropoff));
                prop_assert_eq!(stops.iter().filter(|s| s.order == leg.order).count(), if leg.picked_up { 1 } else { 2 });
                prop_assert!(dropoff.is_some());
                prop_assert_eq!(pickup.is_some(), !leg.picked_up);
                if let Some(pickup) = pickup {
                    prop_assert!(pickup < dropoff.unwrap_or(0));
                }
            }
            let settings = TripSettings { max_orders: 5, max_detour_secs: max_detour, ..TripSettings::default() };
            if fits(from, &legs, &speed, &settings) && legs.len() > 1 {
                for leg in legs.iter().filter(|l| !l.picked_up) {
                    let at = |kind| stops.iter().find(|s| s.order == leg.order && s.kind == kind).unwrap().arrive_secs;
                    let ride = at(StopKind::Dropoff) - at(StopKind::Pickup) - speed.pickup_service_secs;
                    let direct = speed.travel_secs(leg.places.pickup.distance_m(&leg.places.dropoff));
                    prop_assert!(ride <= direct + max_detour as f64 + 1e-6);
                }
            }
        }
    }
}
