//! How hard riders are to come by: the rules of dispatch change when orders queue for
//! riders, and again when the riders left on the day's shifts cannot carry the orders left.
//! Pure, on whole units of the caller's clock ([`Time`]).

use super::bundle::Time;
use super::rules::Bundling;

/// How hard riders are to come by now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pressure {
    Calm,
    /// As many orders wait as riders are free, or more.
    Scarce,
    /// The shift time left falls short of the orders left.
    Short,
}

/// How dispatch changes once the riders left on the day's shifts fall short of the orders
/// left (their shift time, at the day's pace so far, would not carry them all).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ShortHanded {
    /// Bundling then (it applies even when plain bundling is off).
    pub bundling: Bundling,
    /// Click-to-door every order of a bundle must still meet; `None`: no limit.
    pub limit: Option<Time>,
    /// Orders go up for dispatch this long before they are ready.
    pub release_lead: Time,
    /// Rider time per order assumed before the first trip.
    pub pace: f64,
    /// The rules also apply once no rider is still to come and the last shift ends within
    /// this long: whatever is not carried by then never is.
    pub endgame: Option<Time>,
}

/// One rider's shift on the roster, known ahead (future shifts count toward the time left),
/// and when the rider is next free.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shift {
    pub on: Time,
    pub off: Time,
    pub free_at: Time,
}

/// The day's pace so far: rider time spent on trips (leaving for the store to the last
/// drop-off) and the orders those trips carried.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Pace {
    busy: Time,
    carried: usize,
}

impl Pace {
    /// A trip committed: `busy` rider time carrying `orders` orders.
    pub fn record(&mut self, busy: Time, orders: usize) {
        self.busy += busy;
        self.carried += orders;
    }

    /// Rider time per order carried, `assumed` before the first trip.
    fn per_order(&self, assumed: f64) -> f64 {
        if self.carried == 0 {
            assumed
        } else {
            self.busy as f64 / self.carried as f64
        }
    }
}

impl ShortHanded {
    /// Whether the day's riders are short now: the shift time they have left (from when each
    /// is next free) would not carry the `backlog` (orders not yet assigned) at the day's
    /// `pace`, or the end game has begun ([`ShortHanded::endgame`]).
    pub fn is_short(&self, roster: &[Shift], backlog: usize, pace: &Pace, now: Time) -> bool {
        let time_left: Time = roster.iter().map(|s| (s.off - now.max(s.on).max(s.free_at)).max(0)).sum();
        self.in_endgame(roster, now) || backlog as f64 * pace.per_order(self.pace) > time_left as f64
    }

    /// No rider is still to come, and the last shift ends within [`ShortHanded::endgame`].
    fn in_endgame(&self, roster: &[Shift], now: Time) -> bool {
        let Some(window) = self.endgame else { return false };
        let last_off = roster.iter().map(|s| s.off).max().unwrap_or(0);
        roster.iter().all(|s| s.on <= now) && now >= last_off - window
    }
}

/// The pressure now: [`Pressure::Short`] when the short-handed rules are on and the riders
/// are short, else [`Pressure::Scarce`] when `scarce` (orders waiting outnumber free riders,
/// or match them), else calm.
pub fn pressure(
    short: Option<&ShortHanded>,
    roster: &[Shift],
    backlog: usize,
    pace: &Pace,
    scarce: bool,
    now: Time,
) -> Pressure {
    if short.is_some_and(|s| s.is_short(roster, backlog, pace, now)) {
        Pressure::Short
    } else if scarce {
        Pressure::Scarce
    } else {
        Pressure::Calm
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHORT: ShortHanded = ShortHanded {
        bundling: Bundling { max_orders: 6, ready_window: 40 },
        limit: None,
        release_lead: 10,
        pace: 20.0,
        endgame: None,
    };

    fn shift(on: Time, off: Time, free_at: Time) -> Shift {
        Shift { on, off, free_at }
    }

    #[test]
    fn riders_are_short_when_their_time_left_cannot_carry_the_backlog_at_the_pace() {
        let roster = [shift(0, 100, 0), shift(50, 120, 50)];
        // At 60: 40 minutes left on the first shift, 60 on the second: 100 in all.
        let pace = Pace::default();
        assert!(!SHORT.is_short(&roster, 5, &pace, 60), "5 orders at the assumed 20 a piece");
        assert!(SHORT.is_short(&roster, 6, &pace, 60));
        let mut quick = Pace::default();
        quick.record(30, 3);
        assert!(!SHORT.is_short(&roster, 10, &quick, 60), "10 a piece once trips show it");
        // A rider busy until 90 has only 10 minutes of its shift left to give.
        let busy = [shift(0, 100, 90), shift(50, 120, 50)];
        assert!(SHORT.is_short(&busy, 4, &pace, 60));
    }

    #[test]
    fn the_end_game_is_short_once_every_shift_has_started_and_the_last_ends_soon() {
        let endgame = ShortHanded { endgame: Some(30), ..SHORT };
        let roster = [shift(0, 300, 0), shift(100, 200, 0)];
        assert!(!endgame.is_short(&roster, 0, &Pace::default(), 269));
        assert!(endgame.is_short(&roster, 0, &Pace::default(), 270));
        let late = [shift(0, 300, 0), shift(280, 400, 0)];
        assert!(!endgame.is_short(&late, 0, &Pace::default(), 275), "a rider is still to come");
    }

    #[test]
    fn pressure_is_short_before_scarce_and_only_with_the_short_handed_rules() {
        let roster = [shift(0, 10, 0)];
        let pace = Pace::default();
        assert_eq!(pressure(Some(&SHORT), &roster, 9, &pace, false, 0), Pressure::Short);
        assert_eq!(pressure(None, &roster, 9, &pace, true, 0), Pressure::Scarce);
        assert_eq!(pressure(None, &roster, 9, &pace, false, 0), Pressure::Calm);
        assert_eq!(pressure(Some(&SHORT), &roster, 0, &pace, true, 0), Pressure::Scarce);
    }
}
