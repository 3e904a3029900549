//! A courier's trip with a bundle: the drop-off sequence and its times.

use super::instance::{Instance, Minute};

/// Drop-offs of one bundle in the chosen sequence, with when each happens.
#[derive(Clone, Debug, PartialEq)]
pub struct Trip {
    /// Order indices in drop-off sequence.
    pub sequence: Vec<usize>,
    /// Drop-off time of each order of `sequence`.
    pub dropoffs: Vec<Minute>,
}

impl Trip {
    pub fn last_dropoff(&self) -> Minute {
        self.dropoffs.last().copied().unwrap_or(0)
    }
}

/// The drop-off times of `sequence` for a courier leaving the restaurant at `pickup`: each
/// leg is the travel time, and the hand-over takes the drop-off service time on arrival.
pub fn schedule(instance: &Instance, pickup: Minute, sequence: &[usize]) -> Vec<Minute> {
    let Some(first) = sequence.first() else { return Vec::new() };
    let mut at = instance.pickup_of(*first);
    let mut clock = pickup;
    sequence
        .iter()
        .map(|order| {
            let to = instance.orders[*order].at;
            clock += instance.travel(at, to) + instance.parameters.dropoff_service;
            at = to;
            clock
        })
        .collect()
}

/// Minutes past the target click-to-door summed over the bundle, then the summed
/// click-to-door: what a drop-off sequence is judged by.
fn lateness(instance: &Instance, sequence: &[usize], dropoffs: &[Minute]) -> (Minute, Minute) {
    let target = instance.parameters.target_click_to_door;
    sequence.iter().zip(dropoffs).fold((0, 0), |(over, total), (order, dropoff)| {
        let click_to_door = dropoff - instance.orders[*order].placed;
        (over + (click_to_door - target).max(0), total + click_to_door)
    })
}

/// The drop-off sequence of `orders` (all of one restaurant, picked up at `pickup`) that
/// minimises lateness. Bundles are small, so every permutation is tried.
pub fn best_trip(instance: &Instance, pickup: Minute, orders: &[usize]) -> Trip {
    let mut sequence = orders.to_vec();
    let mut best: Option<((Minute, Minute), Trip)> = None;
    permute(&mut sequence, 0, &mut |candidate| {
        let dropoffs = schedule(instance, pickup, candidate);
        let score = lateness(instance, candidate, &dropoffs);
        if best.as_ref().is_none_or(|(b, _)| score < *b) {
            best = Some((score, Trip { sequence: candidate.to_vec(), dropoffs }));
        }
    });
    best.map(|(_, trip)| trip).unwrap_or(Trip { sequence: Vec::new(), dropoffs: Vec::new() })
}

/// Call `visit` with every ordering of `items[from..]` (Heap-style swaps, in place).
fn permute(items: &mut [usize], from: usize, visit: &mut impl FnMut(&[usize])) {
    if from + 1 >= items.len() {
        visit(items);
        return;
    }
    for i in from..items.len() {
        items.swap(from, i);
        permute(items, from + 1, visit);
        items.swap(from, i);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::matching::PlanarPoint;
    use crate::replay::instance::{InstanceOrder, Parameters, Restaurant};

    fn instance(orders: &[(f64, Minute)]) -> Instance {
        Instance {
            name: "test".into(),
            parameters: Parameters::for_tests(),
            restaurants: vec![Restaurant { id: "r1".into(), at: PlanarPoint::new(0.0, 0.0) }],
            orders: orders
                .iter()
                .enumerate()
                .map(|(i, (x, placed))| InstanceOrder {
                    id: format!("o{i}"),
                    at: PlanarPoint::new(*x, 0.0),
                    placed: *placed,
                    restaurant: 0,
                    ready: placed + 5,
                })
                .collect(),
            couriers: Vec::new(),
        }
    }

    #[test]
    fn the_late_order_goes_first_when_that_saves_lateness() {
        // o0 is 1 km out and placed long ago; o1 is next door but fresh.
        let day = instance(&[(1000.0, 0), (100.0, 20)]);
        let trip = best_trip(&day, 30, &[1, 0]);
        assert_eq!(trip.sequence, vec![0, 1]);
        assert_eq!(trip.dropoffs, vec![30 + 10 + 4, 44 + 9 + 4]);
    }

    #[test]
    fn the_near_order_goes_first_when_nobody_is_late() {
        let day = instance(&[(1000.0, 0), (100.0, 0)]);
        let trip = best_trip(&day, 10, &[0, 1]);
        assert_eq!(trip.sequence, vec![1, 0]);
        assert_eq!(trip.dropoffs, vec![10 + 1 + 4, 15 + 9 + 4]);
    }
}
