//! What a headless run simulates: the city, its people, the dispatch settings, for how long.

use crate::config::{Between, DemoSettings, DispatchSettings, OrderSettings, Release, Settings, SimulatorSettings};
use crate::dispatch::{Policy, TripSettings};

#[derive(Clone, Debug)]
pub struct Plan {
    /// Customers order for this long...
    pub duration_secs: i64,
    /// ...then the city runs on until every order has finished, for at most this long.
    pub drain_secs: i64,
    /// The same seed gives the same day.
    pub seed: u64,
    /// How many stores and riders.
    pub city: DemoSettings,
    /// How customers, store staff and riders behave.
    pub people: SimulatorSettings,
    pub dispatch: DispatchSettings,
    /// The order rules the server keeps: the delivery geofence, when a kitchen is late.
    pub orders: OrderSettings,
    pub policy: Policy,
    pub payment_decline_rate: f64,
    pub payment_latency_secs: f64,
}

impl Plan {
    /// The city, its people and dispatch as the server's configuration has them: the city
    /// `cargo run` shows.
    pub fn from_settings(settings: &Settings, duration_secs: i64) -> Plan {
        Plan {
            duration_secs,
            // Longer than any order can live: the give-up time plus the longest cooking and ride.
            drain_secs: settings.dispatch.give_up_after_secs as i64 + 3600,
            seed: 1,
            city: settings.demo.clone(),
            people: settings.simulator.clone(),
            dispatch: settings.dispatch.clone(),
            orders: settings.orders.clone(),
            policy: Policy::Optimal,
            payment_decline_rate: settings.payment.decline_rate,
            payment_latency_secs: settings.payment.latency_ms as f64 / 1000.0,
        }
    }
}

impl Plan {
    /// The settings worth showing beside the figures, as (name, value).
    pub fn describe(&self) -> Vec<(String, String)> {
        let people = &self.people;
        let range = |b: Between, scale: f64| format!("{:.0}-{:.0}", b.min() / scale, b.max() / scale);
        let policy = policy_name(self.policy);
        let share = people.late_kitchen_share.get();
        let late = if share > 0.0 {
            format!(", {:.0}% late by {} min", share * 100.0, range(people.late_kitchen_secs, 60.0))
        } else {
            String::new()
        };
        [
            ("duration of ordering", format!("{} min", self.duration_secs / 60)),
            ("orders per minute", people.orders_per_minute.to_string()),
            ("stores, riders", format!("{}, {}", self.city.stores, self.city.riders)),
            (
                "store rejects, rider declines",
                format!("{:.0}%, {:.0}%", people.reject_share.get() * 100.0, people.decline_share.get() * 100.0),
            ),
            (
                "store answers, kitchen cooks",
                format!("{} s, {} min{late}", range(people.store_answer_secs, 1.0), range(people.cook_secs, 60.0)),
            ),
            (
                "rider answers, rides",
                format!("{} s, {} km/h", range(people.rider_answer_secs, 1.0), range(people.rider_speed_kmh, 1.0)),
            ),
            ("delivery distance", format!("{} m", range(people.delivery_distance_m, 1.0))),
            ("dispatch", format!("{policy} every {} ms, k = {}", self.dispatch.tick_ms, self.dispatch.candidates_k)),
            ("seed", self.seed.to_string()),
        ]
        .into_iter()
        .map(|(name, value)| (name.to_owned(), value))
        .collect()
    }
}

/// What `simulate --compare` runs beside the plan on the same day.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Baseline {
    /// Greedy nearest-first pairing, dispatch as configured.
    Greedy,
    /// The same pairing, with dispatch starting the moment the store accepts.
    AtAccept,
    /// The same pairing and release, one order per rider: no trips.
    Single,
    /// One order per rider, offered the moment the store accepts: the policy the server ran
    /// before release timing and trips.
    OneOrder,
}

impl Baseline {
    pub fn apply(self, plan: &Plan) -> Plan {
        let mut baseline = plan.clone();
        match self {
            Baseline::Greedy => baseline.policy = Policy::Greedy,
            Baseline::AtAccept => baseline.dispatch.release = Release::AtAccept,
            Baseline::Single => baseline.dispatch.trips = TripSettings::single(),
            Baseline::OneOrder => {
                baseline.dispatch.release = Release::AtAccept;
                baseline.dispatch.trips = TripSettings::single();
            }
        }
        baseline
    }
}

/// How a run is named in the figures: its pairing, and when dispatch starts and how many
/// orders a rider carries unless as configured by default.
pub fn plan_name(plan: &Plan) -> String {
    let mut name = policy_name(plan.policy).to_owned();
    if plan.dispatch.release == Release::AtAccept {
        name.push_str(", at accept");
    }
    if plan.dispatch.trips.max_orders <= 1 {
        name.push_str(", one order per rider");
    }
    name
}

/// How a policy is named in the figures.
pub fn policy_name(policy: Policy) -> &'static str {
    match policy {
        Policy::Optimal => "batch assignment",
        Policy::Greedy => "greedy nearest-first",
    }
}

/// A range such as `6-20` (or a single value), for a [`Between`].
pub fn parse_range(text: &str) -> Result<Between, String> {
    let number = |t: &str| t.trim().parse::<f64>().map_err(|_| format!("`{text}`: expected MIN-MAX, as in 6-20"));
    let (min, max) = match text.split_once('-') {
        Some((min, max)) => (number(min)?, number(max)?),
        None => (number(text)?, number(text)?),
    };
    Between::new(min, max)
}

/// A duration such as `90m`, `2h`, `1h30m`, `45s` or `3600` (seconds), in seconds.
pub fn parse_duration(text: &str) -> Result<i64, String> {
    let text = text.trim();
    if let Ok(secs) = text.parse::<i64>() {
        return if secs > 0 { Ok(secs) } else { Err("a duration must be positive".into()) };
    }
    let mut total: i64 = 0;
    let mut number = String::new();
    let mut units = 0;
    for c in text.chars() {
        if c.is_ascii_digit() {
            number.push(c);
            continue;
        }
        let unit = match c {
            'h' => 3600,
            'm' => 60,
            's' => 1,
            _ => return Err(format!("`{text}`: use h, m and s, as in 90m or 1h30m")),
        };
        let n: i64 = number.parse().map_err(|_| format!("`{text}`: a number must come before `{c}`"))?;
        total =
            n.checked_mul(unit).and_then(|v| total.checked_add(v)).ok_or_else(|| format!("`{text}` is too long"))?;
        number.clear();
        units += 1;
    }
    if !number.is_empty() || units == 0 {
        return Err(format!("`{text}`: every number needs a unit (h, m or s)"));
    }
    if total <= 0 {
        return Err("a duration must be positive".into());
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::{parse_duration, parse_range};

    #[test]
    fn ranges_read_as_min_dash_max() {
        let r = parse_range("6-20").unwrap();
        assert_eq!((r.min(), r.max()), (6.0, 20.0));
        let one = parse_range("7.5").unwrap();
        assert_eq!((one.min(), one.max()), (7.5, 7.5));
        for bad in ["20-6", "a-b", "", "-3", "5-"] {
            assert!(parse_range(bad).is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn durations_read_as_people_write_them() {
        assert_eq!(parse_duration("90m"), Ok(5400));
        assert_eq!(parse_duration("2h"), Ok(7200));
        assert_eq!(parse_duration("1h30m"), Ok(5400));
        assert_eq!(parse_duration("1h0m15s"), Ok(3615));
        assert_eq!(parse_duration("600"), Ok(600));
    }

    #[test]
    fn bad_durations_are_refused_with_a_reason() {
        for bad in ["", "0", "-5", "h", "10x", "1h30", "0m"] {
            assert!(parse_duration(bad).is_err(), "{bad:?} was accepted");
        }
    }
}
