//! The figures a day is judged by, computed from its solution the way the published
//! evaluator reports them.

use std::collections::HashMap;

use super::instance::Instance;
use super::solution::{Place, Solution};

/// Mean, median and 90th percentile of a sample (in minutes for the replay).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Spread {
    pub mean: f64,
    pub p50: f64,
    pub p90: f64,
}

impl Spread {
    pub fn of(mut values: Vec<f64>) -> Spread {
        if values.is_empty() {
            return Spread::default();
        }
        values.sort_by(f64::total_cmp);
        // Nearest rank, as the evaluator's percentiles.
        let rank = |q: f64| values[((q * values.len() as f64).ceil() as usize).clamp(1, values.len()) - 1];
        Spread { mean: values.iter().sum::<f64>() / values.len() as f64, p50: rank(0.5), p90: rank(0.9) }
    }
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Kpis {
    pub orders: usize,
    pub delivered: usize,
    pub click_to_door: Spread,
    pub ready_to_pickup: Spread,
    /// Share of delivered orders past the target click-to-door.
    pub over_target: f64,
    pub courier_hours: f64,
    pub orders_per_courier_hour: f64,
    /// Time spent on trips (from leaving for the restaurant to the last drop-off) over time
    /// on shift.
    pub utilisation: f64,
    pub total_pay: f64,
    pub bundles: usize,
    /// Bundles of 1, 2, 3 and more orders.
    pub bundle_sizes: [usize; 4],
}

impl Kpis {
    pub fn delivered_share(&self) -> f64 {
        if self.orders == 0 {
            1.0
        } else {
            self.delivered as f64 / self.orders as f64
        }
    }

    pub fn mean_bundle_size(&self) -> f64 {
        if self.bundles == 0 {
            0.0
        } else {
            self.delivered as f64 / self.bundles as f64
        }
    }

    pub fn compute(instance: &Instance, solution: &Solution) -> Kpis {
        let p = &instance.parameters;
        let mut click_to_door = Vec::new();
        let mut ready_to_pickup = Vec::new();
        let mut over = 0;
        let mut per_courier: HashMap<usize, usize> = HashMap::new();
        for d in &solution.deliveries {
            let spec = &instance.orders[d.order];
            let minutes = (d.dropoff_at - spec.placed) as f64;
            if minutes > p.target_click_to_door as f64 {
                over += 1;
            }
            click_to_door.push(minutes);
            ready_to_pickup.push((d.pickup_at - spec.ready) as f64);
            *per_courier.entry(d.courier).or_default() += 1;
        }
        let shift_minutes: i64 = instance.couriers.iter().map(|c| c.off - c.on).sum();
        let courier_hours = shift_minutes as f64 / 60.0;
        let total_pay = instance
            .couriers
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let by_order = p.pay_per_order * per_courier.get(&i).copied().unwrap_or(0) as f64;
                by_order.max(p.guaranteed_pay_per_hour * (c.off - c.on) as f64 / 60.0)
            })
            .sum();
        let dropoff_of: HashMap<usize, i64> = solution.deliveries.iter().map(|d| (d.order, d.dropoff_at)).collect();
        // A trip starts when its courier leaves for the restaurant: the move just before the
        // one that leaves the restaurant for the bundle's first drop-off.
        let mut approach_of: HashMap<(usize, usize), i64> = HashMap::new();
        for pair in solution.moves.windows(2) {
            if let (Place::Restaurant(_), Place::Dropoff(first)) = (pair[1].from, pair[1].to) {
                if pair[0].courier == pair[1].courier && pair[0].to == pair[1].from {
                    approach_of.insert((pair[1].courier, first), pair[0].departs_at);
                }
            }
        }
        let mut busy = 0;
        let mut bundle_sizes = [0; 4];
        for a in &solution.assignments {
            bundle_sizes[(a.orders.len().max(1) - 1).min(3)] += 1;
            let first = a.orders.first().copied().unwrap_or(usize::MAX);
            let leaves = approach_of.get(&(a.courier, first)).copied().unwrap_or(a.assigned_at);
            let ends = a.orders.iter().filter_map(|o| dropoff_of.get(o)).max().copied().unwrap_or(a.pickup_at);
            busy += ends - leaves;
        }
        let delivered = solution.deliveries.len();
        Kpis {
            orders: instance.orders.len(),
            delivered,
            click_to_door: Spread::of(click_to_door),
            ready_to_pickup: Spread::of(ready_to_pickup),
            over_target: if delivered == 0 { 0.0 } else { over as f64 / delivered as f64 },
            courier_hours,
            orders_per_courier_hour: if courier_hours > 0.0 { delivered as f64 / courier_hours } else { 0.0 },
            utilisation: if shift_minutes > 0 { busy as f64 / shift_minutes as f64 } else { 0.0 },
            total_pay,
            bundles: solution.assignments.len(),
            bundle_sizes,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let s = Spread::of((1..=10).map(f64::from).collect());
        assert_eq!((s.mean, s.p50, s.p90), (5.5, 5.0, 9.0));
        assert_eq!(Spread::of(Vec::new()), Spread::default());
    }
}
