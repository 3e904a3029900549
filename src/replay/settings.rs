//! How a replay dispatches: the levers of the tuned policy and the greedy baseline's.

use crate::config::DispatchSettings;
use crate::dispatch::lookahead::Variant;
use crate::dispatch::{Bundling, Policy, Rules, ShortHanded, TripSettings};
use crate::matching::SpeedModel;

use super::instance::{Minute, Parameters};

/// Minutes before the last shift ends from which the short-handed rules hold anyway
/// (once every shift has started).
const ENDGAME: Minute = 1440;

/// What the tuned policy weighs at a tick while couriers are scarce: the matcher favouring
/// the nearest courier or the oldest bundle more strongly, and offering nothing this tick
/// (the day then going on with the plain weight or the nearest-first one).
const VARIANTS: &[Variant] = &[
    Variant { age_weight: 0.0, hold: false },
    Variant { age_weight: 4.0, hold: false },
    Variant { age_weight: 1.0, hold: true },
    Variant { age_weight: 0.0, hold: true },
];

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ReplaySettings {
    pub policy: Policy,
    /// Simulated minutes between dispatch ticks.
    pub tick_minutes: Minute,
    /// The dispatch rules beyond the matcher's, on the day's minutes.
    pub rules: Rules,
    /// Candidate couriers per waiting bundle.
    pub candidates: usize,
    /// While couriers are scarce, each tick weighs these variants against the plain rules,
    /// each also with one of its sendings withheld, on the orders known so far and runs
    /// under the best (none: always the plain rules).
    pub lookahead: &'static [Variant],
}

impl ReplaySettings {
    /// The tuned policy: the server's optimal batch assignment, orders put up shortly before
    /// they are ready, bundles of close-ready orders, couriers offered work as they finish.
    /// Values from sweeps over the 144 instances (see docs/replay.md); the lead time
    /// mattered most (5 min: +4 min click-to-door, 15-20 min best). Dispatch knows the
    /// shifts, and once the couriers left fall short of the orders left, bundles grow (up to
    /// 6 orders within 40 minutes of ready time, no click-to-door limit: late beats never)
    /// and orders go up 10 minutes before they are ready, so couriers wait less at counters.
    pub fn tuned() -> Self {
        ReplaySettings {
            policy: Policy::Optimal,
            tick_minutes: 1,
            rules: Rules {
                release_lead: Some(15),
                bundling: Some(Bundling { max_orders: 4, ready_window: 20 }),
                free_ahead: 3,
                shift_aware: true,
                short: Some(ShortHanded {
                    bundling: Bundling { max_orders: 6, ready_window: 40 },
                    limit: None,
                    release_lead: 10,
                    pace: 20.0,
                    endgame: Some(ENDGAME),
                }),
                last_trip: true,
            },
            candidates: 8,
            lookahead: VARIANTS,
        }
    }

    /// The baseline: every order up for dispatch at placement, first come first served to
    /// the nearest idle courier, one order per trip.
    pub fn greedy() -> Self {
        ReplaySettings {
            policy: Policy::Greedy,
            tick_minutes: 1,
            rules: Rules::default(),
            candidates: 64,
            lookahead: &[],
        }
    }

    /// The board's settings for a day with these rules: one zone with no search radius (any
    /// courier of the day may serve any restaurant), no staleness (simulated couriers never
    /// go quiet), and the day's speed on straight lines.
    pub fn dispatch(&self, parameters: &Parameters) -> DispatchSettings {
        DispatchSettings {
            tick_ms: (self.tick_minutes.max(1) * 60_000) as u64,
            offer_timeout_secs: 60,
            candidates_k: self.candidates,
            base_radius_m: 1e9,
            radius_growth_m_per_min: 0.0,
            max_radius_m: 1e9,
            give_up_after_secs: u64::MAX / 4,
            stale_after_secs: u64::MAX / 4,
            age_weight: 1.0,
            speed: SpeedModel {
                speed_kmh: parameters.meters_per_minute * 60.0 / 1000.0,
                detour_factor: 1.0,
                pickup_service_secs: parameters.pickup_service as f64 * 60.0,
                dropoff_service_secs: parameters.dropoff_service as f64 * 60.0,
            },
            // The replay still bundles orders itself (`engine::fits`), into one board job.
            trips: TripSettings::single(),
            ..DispatchSettings::default()
        }
    }
}
