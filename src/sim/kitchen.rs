//! How long a simulated kitchen cooks, for the live demo city and the headless day alike.
//!
//! The live simulator keeps nothing across a restart, so what a kitchen cooks must follow
//! from what the order itself records: the store's promise (`prep_minutes`), when it was
//! given (`accepted_at`) and the order's id. A recovered order then finishes cooking when
//! it would have without the restart (at once if that moment has passed), instead of
//! starting a fresh draw of up to 15 minutes from the moment the server came back.

use chrono::{DateTime, Utc};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

use crate::config::SimulatorSettings;
use crate::domain::OrderId;

/// Mixed into an order id to seed its kitchen's stream of chance.
const KITCHEN_STREAM: u64 = 0x4b49_5443_4845_4e21;

/// The whole minutes a store promises for a kitchen that will cook `cook_secs`.
pub fn promise(cook_secs: f64) -> u32 {
    (cook_secs / 60.0).ceil().clamp(1.0, f64::from(crate::domain::order::MAX_PREP_MINUTES)) as u32
}

/// Seconds past its promise a kitchen runs: none for most, and for the share of kitchens
/// that run late a draw from `late_kitchen_secs`. Draws nothing when no kitchen runs late,
/// so a day with the default settings keeps its streams of chance.
pub fn overrun_secs(people: &SimulatorSettings, rng: &mut impl Rng) -> f64 {
    let share = people.late_kitchen_share.get();
    if share > 0.0 && rng.gen_bool(share) {
        people.late_kitchen_secs.sample(rng)
    } else {
        0.0
    }
}

/// How long the kitchen of `order`, which promised `prep_minutes`, cooks in all: a time
/// `promise` rounds up to those minutes, inside `cook_secs` (so a demo city that cooks in
/// seconds still does), plus its overrun if it is one that runs late. A promise outside
/// `cook_secs` (someone accepted for a demo store by hand) is kept to the minute. The same
/// order always gets the same answer, overrun included.
pub fn cook_secs(order: OrderId, prep_minutes: u32, people: &SimulatorSettings) -> f64 {
    let (first, second) = order.as_uuid().as_u64_pair();
    let mut rng = SmallRng::seed_from_u64(first ^ second ^ KITCHEN_STREAM);
    let promised = f64::from(prep_minutes.max(1)) * 60.0;
    let (low, high) = (people.cook_secs.min().max(promised - 60.0), people.cook_secs.max().min(promised));
    let (low, high) = if low <= high { (low, high) } else { (promised - 60.0, promised) };
    let within = high - (high - low) * rng.gen::<f64>();
    within + overrun_secs(people, &mut rng)
}

/// Seconds left to cook for a kitchen that started at `accepted_at` and cooks `cook_secs`
/// in all: none once that time has passed, never more than the whole.
pub fn remaining_secs(accepted_at: DateTime<Utc>, cook_secs: f64, now: DateTime<Utc>) -> f64 {
    let cooked = (now - accepted_at).num_milliseconds() as f64 / 1000.0;
    (cook_secs - cooked.max(0.0)).clamp(0.0, cook_secs.max(0.0))
}

#[cfg(test)]
mod tests {
    use chrono::{Duration, TimeZone};

    use super::*;
    use crate::config::{Between, Share};

    fn noon() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 2, 12, 0, 0).unwrap()
    }

    #[test]
    fn the_rest_of_the_cooking_counts_from_acceptance() {
        let cook = 600.0;
        assert_eq!(remaining_secs(noon(), cook, noon()), 600.0);
        assert_eq!(remaining_secs(noon(), cook, noon() + Duration::minutes(4)), 360.0);
        // A restart after the food would have been ready: ready at once.
        assert_eq!(remaining_secs(noon(), cook, noon() + Duration::minutes(20)), 0.0);
        // A clock that stepped back does not cook longer than the whole.
        assert_eq!(remaining_secs(noon(), cook, noon() - Duration::minutes(1)), 600.0);
    }

    #[test]
    fn a_recovered_order_is_ready_when_it_would_have_been_without_the_restart() {
        let people = SimulatorSettings::default();
        let order = OrderId::named("recovered");
        let accepted_at = noon();
        let ready_at = |now: DateTime<Utc>| {
            // What the simulator plans on seeing the order cooking at `now`, as a moment.
            let left = remaining_secs(accepted_at, cook_secs(order, 12, &people), now);
            now + Duration::milliseconds((left * 1000.0) as i64)
        };
        let first = ready_at(noon());
        let after_restart = ready_at(noon() + Duration::minutes(7));
        assert!((first - after_restart).num_milliseconds().abs() <= 1, "{first} vs {after_restart}");
        assert!(first > noon() + Duration::minutes(11) && first <= noon() + Duration::minutes(12));
    }

    #[test]
    fn cooking_keeps_the_promise_to_the_minute_and_differs_by_order() {
        let people = SimulatorSettings::default();
        let times: Vec<f64> = (0..50).map(|n| cook_secs(OrderId::named(&format!("o{n}")), 10, &people)).collect();
        assert!(times.iter().all(|t| (540.0..=600.0).contains(t)), "{times:?}");
        assert!(times.windows(2).any(|w| w[0] != w[1]));
        assert_eq!(cook_secs(OrderId::named("o1"), 10, &people), times[1]);
        assert_eq!(promise(times[1]), 10);
        assert_eq!((promise(0.0), promise(301.0), promise(1e9)), (1, 6, crate::domain::order::MAX_PREP_MINUTES));
        // Inside the configured range: a city that cooks in seconds promises a minute and
        // still cooks in seconds; the shortest promise of the default range is its minimum.
        let fast = SimulatorSettings { cook_secs: Between::new(2.0, 4.0).unwrap(), ..SimulatorSettings::default() };
        assert!((2.0..=4.0).contains(&cook_secs(OrderId::named("o1"), promise(3.0), &fast)));
        assert_eq!(cook_secs(OrderId::named("o1"), 5, &people), 300.0);
        // A promise made by hand outside the range is kept to the minute.
        assert!((3540.0..=3600.0).contains(&cook_secs(OrderId::named("o1"), 60, &people)));
    }

    #[test]
    fn late_kitchens_overrun_their_promise_by_the_configured_time() {
        let people = SimulatorSettings {
            late_kitchen_share: Share::try_from(1.0).unwrap(),
            late_kitchen_secs: Between::new(900.0, 1200.0).unwrap(),
            ..SimulatorSettings::default()
        };
        for n in 0..20 {
            let cook = cook_secs(OrderId::named(&format!("o{n}")), 10, &people);
            assert!((540.0 + 900.0..=600.0 + 1200.0).contains(&cook), "{cook}");
        }
    }
}
