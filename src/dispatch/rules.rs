//! The rules a dispatch policy runs under beyond the matcher's: when orders go up for
//! dispatch, which may share a trip, how early a rider on its last drop-off is offered the
//! next job, whether shifts are heeded, and what changes when riders are short. Planned on
//! whole units of the caller's clock ([`Time`]). `Rules::default()` turns every one off.

use super::bundle::Time;
use super::pressure::{Pressure, ShortHanded};

/// Stacking orders of one store on one rider.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Bundling {
    pub max_orders: usize,
    /// Orders join a bundle only when their ready times are this close.
    pub ready_window: Time,
}

#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Rules {
    /// An order goes up for dispatch this long before it is ready (at placement if that is
    /// later); `None` puts it up at placement. Committing a rider much earlier only makes it
    /// wait at the counter while other orders could use it.
    pub release_lead: Option<Time>,
    pub bundling: Option<Bundling>,
    /// A rider on its last drop-off may be offered its next job this long before it gets
    /// there (it leaves for the next store once it has).
    pub free_ahead: Time,
    /// Dispatch heeds the shifts: a bundle is not offered to a rider whose shift would end
    /// before it could pick it up (else the rider declines, and is never offered those
    /// orders again even once it is nearer).
    pub shift_aware: bool,
    pub short: Option<ShortHanded>,
    /// Short-handed, a rider's last pickup of its shift also takes the store's other placed
    /// orders it can pick up before the shift ends ([`LAST_TRIP_MAX`] at most).
    pub last_trip: bool,
}

/// Most orders a rider's last trip of its shift carries (every drop-off sequence is tried).
pub const LAST_TRIP_MAX: usize = 8;

impl Rules {
    /// When an order placed at `placed` whose food is ready at `ready` goes up for dispatch
    /// under `pressure`: the short-handed lead while riders are short, else the plain one.
    pub fn release_at(&self, placed: Time, ready: Time, pressure: Pressure) -> Time {
        let lead = match (pressure, self.short) {
            (Pressure::Short, Some(short)) => Some(short.release_lead),
            _ => self.release_lead,
        };
        match lead {
            Some(lead) => (ready - lead).max(placed),
            None => placed,
        }
    }

    /// When a rider sent now, picking up at `pickup_at` and done at its last door at
    /// `done_at`, may be offered its next job: [`Rules::free_ahead`] before it is done, but
    /// not before the pickup and not within this tick.
    pub fn free_again_at(&self, pickup_at: Time, done_at: Time, now: Time) -> Time {
        (done_at - self.free_ahead).max(pickup_at).max(now + 1)
    }

    /// Whether a bundle that joins no waiting one may gather mates: with bundling on, or
    /// short-handed with the short-handed rules on.
    pub fn gathers(&self, pressure: Pressure) -> bool {
        self.bundling.is_some() || pressure == Pressure::Short && self.short.is_some()
    }

    /// Whether the last-trip rule applies now.
    pub fn fills_last_trip(&self, pressure: Pressure) -> bool {
        self.last_trip && self.short.is_some() && pressure == Pressure::Short
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_order_goes_up_its_lead_before_ready_never_before_placement() {
        let short = ShortHanded {
            bundling: Bundling { max_orders: 6, ready_window: 40 },
            limit: None,
            release_lead: 5,
            pace: 20.0,
            endgame: None,
        };
        let rules = Rules { release_lead: Some(15), short: Some(short), ..Rules::default() };
        assert_eq!(rules.release_at(0, 30, Pressure::Calm), 15);
        assert_eq!(rules.release_at(20, 30, Pressure::Scarce), 20);
        assert_eq!(rules.release_at(0, 30, Pressure::Short), 25, "short-handed: closer to ready");
        assert_eq!(Rules::default().release_at(3, 30, Pressure::Short), 3, "no lead: at placement");
    }

    #[test]
    fn a_rider_is_free_again_its_free_ahead_before_its_last_door_not_before_its_pickup() {
        let rules = Rules { free_ahead: 3, ..Rules::default() };
        assert_eq!(rules.free_again_at(10, 30, 0), 27);
        assert_eq!(rules.free_again_at(29, 30, 0), 29, "not before the pickup");
        assert_eq!(rules.free_again_at(0, 2, 5), 6, "not within this tick");
        assert_eq!(Rules::default().free_again_at(10, 30, 0), 30);
    }
}
