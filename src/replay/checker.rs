//! Re-checks a written solution against every rule of the instance README: what the
//! published evaluator would reject, found before anyone else does.

use std::collections::HashMap;

use super::instance::{Instance, Minute};
use super::solution::{Delivery, Move, Place, Solution};

/// A broken rule, said in the evaluator's terms.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation(pub String);

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Every violation of `solution` on `instance` (empty when feasible).
pub fn check(instance: &Instance, solution: &Solution) -> Vec<Violation> {
    let mut found = Vec::new();
    let mut fail = |message: String| found.push(Violation(message));
    let order_name = |o: usize| instance.orders[o].id.as_str();
    let courier_name = |c: usize| instance.couriers[c].id.as_str();

    let mut delivery_of: HashMap<usize, &Delivery> = HashMap::new();
    for d in &solution.deliveries {
        if delivery_of.insert(d.order, d).is_some() {
            fail(format!("order {} is delivered twice", order_name(d.order)));
        }
        if d.dropoff_at < d.pickup_at {
            fail(format!("order {} is dropped off before it is picked up", order_name(d.order)));
        }
    }

    // Each courier's moves, in file order (grouped by courier, in time order), with arrivals.
    let mut moves_of: HashMap<usize, Vec<&Move>> = HashMap::new();
    for m in &solution.moves {
        moves_of.entry(m.courier).or_default().push(m);
    }
    let arrival = |m: &Move| m.departs_at + travel(instance, m);
    for (courier, moves) in &moves_of {
        let shift = &instance.couriers[*courier];
        let (mut at, mut since) = (Place::Start, shift.on);
        for m in moves {
            if m.from != at {
                fail(format!(
                    "courier {} leaves {:?} at {} but is at {:?}",
                    courier_name(*courier),
                    m.from,
                    m.departs_at,
                    at
                ));
            }
            if m.departs_at < since {
                fail(format!(
                    "courier {} leaves {:?} at {}, before it is there and done ({since})",
                    courier_name(*courier),
                    m.from,
                    m.departs_at
                ));
            }
            at = m.to;
            since = arrival(m);
        }
    }

    let mut assigned: HashMap<usize, usize> = HashMap::new();
    for (index, a) in solution.assignments.iter().enumerate() {
        let courier = courier_name(a.courier);
        let shift = &instance.couriers[a.courier];
        let Some(first) = a.orders.first() else {
            fail(format!("assignment {index} of courier {courier} has no order"));
            continue;
        };
        let restaurant = instance.orders[*first].restaurant;
        if a.pickup_at > shift.off || a.pickup_at < shift.on {
            fail(format!("courier {courier} picks up at {} outside its shift {}-{}", a.pickup_at, shift.on, shift.off));
        }
        if a.assigned_at > a.pickup_at {
            fail(format!("assignment {index} of courier {courier} is made after its pickup"));
        }
        for order in &a.orders {
            let spec = &instance.orders[*order];
            let name = order_name(*order);
            if assigned.insert(*order, index).is_some() {
                fail(format!("order {name} is assigned twice"));
            }
            if spec.restaurant != restaurant {
                fail(format!("assignment {index} mixes restaurants"));
            }
            if a.assigned_at < spec.placed {
                fail(format!("order {name} is assigned at {} before its placement at {}", a.assigned_at, spec.placed));
            }
            if a.pickup_at < spec.ready {
                fail(format!("order {name} is picked up at {} before it is ready at {}", a.pickup_at, spec.ready));
            }
            match delivery_of.get(order) {
                Some(d) if d.courier != a.courier || d.pickup_at != a.pickup_at => {
                    fail(format!("order {name}: the orders file disagrees with its assignment"))
                }
                Some(_) => {}
                None => fail(format!("order {name} is assigned but never dropped off")),
            }
        }
        check_trip(instance, a, moves_of.get(&a.courier).map(Vec::as_slice).unwrap_or(&[]), &delivery_of, &mut fail);
    }
    for d in &solution.deliveries {
        if !assigned.contains_key(&d.order) {
            fail(format!("order {} is dropped off without an assignment", order_name(d.order)));
        }
    }
    found
}

/// Minutes a move takes.
fn travel(instance: &Instance, m: &Move) -> Minute {
    instance.travel(m.from.point(instance, m.courier), m.to.point(instance, m.courier))
}

/// The moves of one bundle: to the restaurant early enough for the pickup service, away
/// from it no earlier than the pickup, then each drop-off in sequence, each one a drop-off
/// service after its arrival (so consecutive drop-offs are at least that far apart).
fn check_trip(
    instance: &Instance,
    a: &super::solution::Assignment,
    moves: &[&Move],
    delivery_of: &HashMap<usize, &Delivery>,
    fail: &mut impl FnMut(String),
) {
    let p = &instance.parameters;
    let courier = instance.couriers[a.courier].id.as_str();
    let restaurant = Place::Restaurant(instance.orders[a.orders[0]].restaurant);
    let Some(start) = moves.iter().position(|m| m.from == restaurant && m.to == Place::Dropoff(a.orders[0])) else {
        fail(format!("courier {courier} never leaves the restaurant for order {}", instance.orders[a.orders[0]].id));
        return;
    };
    match start.checked_sub(1).map(|i| moves[i]) {
        Some(approach) if approach.to == restaurant => {
            let arrives: Minute = approach.departs_at + travel(instance, approach);
            if arrives + p.pickup_service > a.pickup_at {
                fail(format!(
                    "courier {courier} reaches the restaurant at {arrives}, too late for a pickup at {}",
                    a.pickup_at
                ));
            }
        }
        _ => fail(format!("courier {courier} picks up at a restaurant it did not travel to")),
    }
    if moves[start].departs_at < a.pickup_at {
        fail(format!("courier {courier} leaves the restaurant before its pickup at {}", a.pickup_at));
    }
    let mut previous: Option<Minute> = None;
    for (i, order) in a.orders.iter().enumerate() {
        let name = instance.orders[*order].id.as_str();
        let Some(m) = moves.get(start + i).filter(|m| m.to == Place::Dropoff(*order)) else {
            fail(format!("courier {courier} does not go to order {name} in the bundle's sequence"));
            return;
        };
        let Some(d) = delivery_of.get(order) else { return };
        if d.dropoff_at < m.departs_at + travel(instance, m) + p.dropoff_service {
            fail(format!("order {name} is dropped off at {} before the courier can be there and done", d.dropoff_at));
        }
        if let Some(previous) = previous {
            if d.dropoff_at < previous + p.dropoff_service {
                fail(format!("order {name} is dropped off less than the service time after the previous one"));
            }
            if m.departs_at < previous {
                fail(format!("courier {courier} leaves for order {name} before finishing the previous drop-off"));
            }
        }
        previous = Some(d.dropoff_at);
    }
}
