//! How many orders of a day could be delivered at all: an upper bound from the couriers'
//! shifts alone, to tell a policy's shortfall from what the day allows.

use super::instance::Instance;

/// Whether some courier's shift allows picking up `order` under the rules: starting where
/// it appears when its shift starts, it reaches the restaurant, does the pickup service and
/// picks up no earlier than the ready time and no later than its shift end.
///
/// A relaxation: the courier is taken as free and heading straight there. Coming from any
/// other place (a restaurant, a drop-off) is never faster, since a detour's legs, each
/// rounded up, add up to at least the direct time rounded up; being busy only makes it
/// later.
pub fn reachable(instance: &Instance, order: usize) -> bool {
    let spec = &instance.orders[order];
    let restaurant = instance.pickup_of(order);
    let service = instance.parameters.pickup_service;
    instance.couriers.iter().any(|c| {
        let earliest = c.on + instance.travel(c.at, restaurant) + service;
        earliest.max(spec.ready) <= c.off
    })
}

/// Orders some courier could pick up ([`reachable`]): no policy delivers more.
pub fn deliverable_bound(instance: &Instance) -> usize {
    (0..instance.orders.len()).filter(|o| reachable(instance, *o)).count()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::matching::PlanarPoint;
    use crate::replay::instance::{Courier, InstanceOrder, Parameters, Restaurant};

    fn day(couriers: Vec<Courier>, orders: Vec<InstanceOrder>) -> Instance {
        Instance {
            name: "day".into(),
            parameters: Parameters::for_tests(),
            restaurants: vec![Restaurant { id: "r".into(), at: PlanarPoint::new(1000.0, 0.0) }],
            orders,
            couriers,
        }
    }

    fn order(id: &str, ready: i64) -> InstanceOrder {
        InstanceOrder { id: id.into(), at: PlanarPoint::new(0.0, 500.0), placed: ready - 10, restaurant: 0, ready }
    }

    #[test]
    fn an_order_is_reachable_only_before_some_shift_ends() {
        // 10 minutes to the restaurant and 4 of service: the earliest pickup is minute 14.
        let courier = Courier { id: "c".into(), at: PlanarPoint::new(0.0, 0.0), on: 0, off: 60 };
        let instance = day(vec![courier], vec![order("early", 5), order("last", 60), order("late", 61)]);
        assert!(reachable(&instance, 0));
        assert!(reachable(&instance, 1));
        assert!(!reachable(&instance, 2));
        assert_eq!(deliverable_bound(&instance), 2);

        // A short shift that cannot get there in time makes nothing reachable.
        let short = Courier { id: "s".into(), at: PlanarPoint::new(0.0, 0.0), on: 0, off: 13 };
        assert_eq!(deliverable_bound(&day(vec![short], vec![order("early", 5)])), 0);
    }
}
