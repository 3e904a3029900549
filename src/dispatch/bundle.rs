//! Bundles: orders of one store that one rider carries in one trip, planned on whole units
//! of the caller's clock ([`Time`]; the MDRP replay plans in minutes). Which drop-off
//! sequence a bundle rides in, when each door is reached, whether orders may share a trip at
//! all, and when a rider sent now would pick a bundle up. Pure: the caller keeps the bundles,
//! these functions judge them.

use super::pressure::Pressure;
use super::rules::Rules;

/// A point in time, or a span, in whole units of the caller's clock.
pub type Time = i64;

/// How long riders take between two points, and at the counter and the door, in the
/// caller's units. Injected, not assumed: how travel is rounded decides which bundles fit
/// and which shifts are long enough.
pub trait Travel<P> {
    fn travel(&self, from: P, to: P) -> Time;
    fn pickup_service(&self) -> Time;
    fn dropoff_service(&self) -> Time;
}

/// One order as bundling sees it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Parcel<P> {
    pub pickup: P,
    pub dropoff: P,
    pub placed: Time,
    pub ready: Time,
}

/// The click-to-door an order of a shared trip must still meet: `target` while riders are
/// at hand, `max` while orders queue for them ([`Pressure::Scarce`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    pub target: Time,
    pub max: Time,
}

/// Drop-offs of one bundle in the chosen sequence, with when each happens.
#[derive(Clone, Debug, PartialEq)]
pub struct Trip {
    /// Positions in the bundle's parcels, in drop-off sequence.
    pub sequence: Vec<usize>,
    /// Drop-off time of each entry of `sequence`.
    pub dropoffs: Vec<Time>,
}

impl Trip {
    pub fn last_dropoff(&self) -> Time {
        self.dropoffs.last().copied().unwrap_or(0)
    }
}

/// The drop-off times of `sequence` (positions in `parcels`, all of one store) for a rider
/// leaving the store at `pickup`: each leg is the travel time, and the hand-over takes the
/// drop-off service time on arrival.
pub fn schedule<P: Copy>(
    travel: &impl Travel<P>,
    pickup: Time,
    parcels: &[Parcel<P>],
    sequence: &[usize],
) -> Vec<Time> {
    let Some(first) = sequence.first() else { return Vec::new() };
    let mut at = parcels[*first].pickup;
    let mut clock = pickup;
    sequence
        .iter()
        .map(|i| {
            let to = parcels[*i].dropoff;
            clock += travel.travel(at, to) + travel.dropoff_service();
            at = to;
            clock
        })
        .collect()
}

/// Time past the `target` click-to-door summed over the bundle, then the summed
/// click-to-door: what a drop-off sequence is judged by.
fn lateness<P>(target: Time, parcels: &[Parcel<P>], sequence: &[usize], dropoffs: &[Time]) -> (Time, Time) {
    sequence.iter().zip(dropoffs).fold((0, 0), |(over, total), (i, dropoff)| {
        let click_to_door = dropoff - parcels[*i].placed;
        (over + (click_to_door - target).max(0), total + click_to_door)
    })
}

/// The drop-off sequence of `parcels` (one store's, picked up at `pickup`) that minimises
/// lateness past `target`. Bundles are small, so every permutation is tried; the first
/// best one found wins a tie, so the result depends on the parcels' order only through ties.
pub fn best_trip<P: Copy>(travel: &impl Travel<P>, target: Time, pickup: Time, parcels: &[Parcel<P>]) -> Trip {
    let mut sequence: Vec<usize> = (0..parcels.len()).collect();
    let mut best: Option<((Time, Time), Trip)> = None;
    permute(&mut sequence, 0, &mut |candidate| {
        let dropoffs = schedule(travel, pickup, parcels, candidate);
        let score = lateness(target, parcels, candidate, &dropoffs);
        if best.as_ref().is_none_or(|(b, _)| score < *b) {
            best = Some((score, Trip { sequence: candidate.to_vec(), dropoffs }));
        }
    });
    best.map(|(_, trip)| trip).unwrap_or(Trip { sequence: Vec::new(), dropoffs: Vec::new() })
}

/// Call `visit` with every ordering of `items[from..]` (swaps in place).
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

impl Rules {
    /// Whether `parcels` (one store's) may travel together now: each would still reach its
    /// door within the target if picked up as soon as all are ready. While orders queue for
    /// riders ([`Pressure::Scarce`]) the limit is the maximum click-to-door instead: a shared
    /// trip then beats waiting for a rider who is not there. When the riders left fall short
    /// of the orders left ([`Pressure::Short`]) the short-handed rules apply: an order carried
    /// late beats one never carried. Without bundling only a single order fits.
    pub fn fits<P: Copy>(
        &self,
        parcels: &[Parcel<P>],
        now: Time,
        pressure: Pressure,
        limits: Limits,
        travel: &impl Travel<P>,
    ) -> bool {
        let short = self.short.filter(|_| pressure == Pressure::Short);
        let rules = match short {
            Some(short) => Some(short.bundling),
            None => self.bundling,
        };
        let Some(rules) = rules else { return parcels.len() == 1 };
        if parcels.len() > rules.max_orders {
            return false;
        }
        let (first, last) = (parcels.iter().map(|p| p.ready).min(), parcels.iter().map(|p| p.ready).max());
        let (Some(first), Some(last)) = (first, last) else { return false };
        // Short-handed, orders already ready wait for the later ones only from now on.
        let first = if short.is_some() { first.max(now) } else { first };
        if last - first > rules.ready_window {
            return false;
        }
        let limit = match (pressure, short) {
            (_, Some(short)) => match short.limit {
                Some(limit) => limit,
                None => return true,
            },
            (Pressure::Scarce, None) => limits.max,
            _ => limits.target,
        };
        let pickup = last.max(now) + travel.pickup_service();
        let trip = best_trip(travel, limits.target, pickup, parcels);
        trip.sequence.iter().zip(&trip.dropoffs).all(|(i, d)| d - parcels[*i].placed <= limit)
    }
}

/// When a rider sent now from `from` (where it is, or where its current trip ends at
/// `free_at`) would pick up food at `store` that is all ready by `last_ready`: it leaves
/// once free, and the pickup waits for the food.
pub fn pickup_if_sent<P>(
    travel: &impl Travel<P>,
    from: P,
    free_at: Time,
    store: P,
    last_ready: Time,
    now: Time,
) -> Time {
    let arrives_at = now.max(free_at) + travel.travel(from, store);
    (arrives_at + travel.pickup_service()).max(last_ready)
}

/// Whether a trip ending at `last_dropoff` at `from` is its rider's last of the shift: from
/// there no store (of `stores`) can be reached and served before the shift ends at `off`.
pub fn is_last_trip<P: Copy>(
    travel: &impl Travel<P>,
    from: P,
    last_dropoff: Time,
    stores: impl IntoIterator<Item = P>,
    off: Time,
) -> bool {
    let nearest = stores.into_iter().map(|store| travel.travel(from, store)).min().unwrap_or(0);
    last_dropoff + nearest + travel.pickup_service() > off
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dispatch::pressure::ShortHanded;
    use crate::dispatch::rules::Bundling;
    use crate::matching::PlanarPoint;

    /// 100 m a minute, rounded up; 4 minutes at the counter and at the door.
    struct Grid;

    impl Travel<PlanarPoint> for Grid {
        fn travel(&self, from: PlanarPoint, to: PlanarPoint) -> Time {
            ((from.x - to.x).hypot(from.y - to.y) / 100.0).ceil() as Time
        }
        fn pickup_service(&self) -> Time {
            4
        }
        fn dropoff_service(&self) -> Time {
            4
        }
    }

    fn parcel(x: f64, placed: Time, ready: Time) -> Parcel<PlanarPoint> {
        Parcel { pickup: PlanarPoint::new(0.0, 0.0), dropoff: PlanarPoint::new(x, 0.0), placed, ready }
    }

    const LIMITS: Limits = Limits { target: 40, max: 90 };

    #[test]
    fn the_late_order_goes_first_when_that_saves_lateness() {
        // The first order is 1 km out and placed long ago; the second next door but fresh.
        let parcels = [parcel(100.0, 20, 25), parcel(1000.0, 0, 5)];
        let trip = best_trip(&Grid, 40, 30, &parcels);
        assert_eq!(trip.sequence, vec![1, 0]);
        assert_eq!(trip.dropoffs, vec![30 + 10 + 4, 44 + 9 + 4]);
    }

    #[test]
    fn the_near_order_goes_first_when_nobody_is_late() {
        let parcels = [parcel(1000.0, 0, 5), parcel(100.0, 0, 5)];
        let trip = best_trip(&Grid, 40, 10, &parcels);
        assert_eq!(trip.sequence, vec![1, 0]);
        assert_eq!(trip.dropoffs, vec![10 + 1 + 4, 15 + 9 + 4]);
    }

    fn bundling() -> Rules {
        Rules { bundling: Some(Bundling { max_orders: 2, ready_window: 10 }), ..Rules::default() }
    }

    #[test]
    fn orders_share_a_trip_only_within_the_window_the_size_and_the_target() {
        let rules = bundling();
        let near = [parcel(500.0, 0, 10), parcel(600.0, 0, 15)];
        assert!(rules.fits(&near, 0, Pressure::Calm, LIMITS, &Grid));
        assert!(!Rules::default().fits(&near, 0, Pressure::Calm, LIMITS, &Grid), "no bundling: one order a trip");
        let apart = [parcel(500.0, 0, 10), parcel(600.0, 0, 25)];
        assert!(!rules.fits(&apart, 0, Pressure::Calm, LIMITS, &Grid), "ready 15 minutes apart");
        let three = [parcel(500.0, 0, 10), parcel(600.0, 0, 12), parcel(700.0, 0, 14)];
        assert!(!rules.fits(&three, 0, Pressure::Calm, LIMITS, &Grid), "more than two");
        // Picked up at 19, the far door is reached at 19 + 5 + 4 + 25 + 4 = 57: past the
        // 40-minute target, within the 90-minute maximum allowed while riders are scarce.
        let far = [parcel(500.0, 0, 10), parcel(3000.0, 0, 15)];
        assert!(!rules.fits(&far, 0, Pressure::Calm, LIMITS, &Grid));
        assert!(rules.fits(&far, 0, Pressure::Scarce, LIMITS, &Grid));
    }

    #[test]
    fn short_handed_bundles_grow_and_ready_orders_stop_holding_the_window() {
        let short = ShortHanded {
            bundling: Bundling { max_orders: 3, ready_window: 10 },
            limit: None,
            release_lead: 5,
            pace: 20.0,
            endgame: None,
        };
        let rules = Rules { short: Some(short), ..bundling() };
        let three = [parcel(500.0, 0, 0), parcel(600.0, 0, 25), parcel(9000.0, 0, 30)];
        assert!(!rules.fits(&three, 0, Pressure::Short, LIMITS, &Grid), "30 minutes apart counted from now");
        assert!(rules.fits(&three, 20, Pressure::Short, LIMITS, &Grid), "the ready one waits only from now");
        assert!(!rules.fits(&three, 20, Pressure::Scarce, LIMITS, &Grid), "not short: the plain rules");
    }

    #[test]
    fn a_rider_sent_now_picks_up_once_there_and_once_the_food_is_ready() {
        let (home, store) = (PlanarPoint::new(0.0, 0.0), PlanarPoint::new(1000.0, 0.0));
        assert_eq!(pickup_if_sent(&Grid, home, 0, store, 0, 5), 5 + 10 + 4);
        assert_eq!(pickup_if_sent(&Grid, home, 12, store, 0, 5), 12 + 10 + 4, "leaves once its trip ends");
        assert_eq!(pickup_if_sent(&Grid, home, 0, store, 40, 5), 40, "waits for the food");
    }

    #[test]
    fn a_trip_is_the_last_when_no_store_can_be_reached_before_the_shift_ends() {
        let door = PlanarPoint::new(0.0, 0.0);
        let stores = [PlanarPoint::new(1000.0, 0.0), PlanarPoint::new(500.0, 0.0)];
        assert!(!is_last_trip(&Grid, door, 100, stores, 109), "the near store: 100 + 5 + 4");
        assert!(is_last_trip(&Grid, door, 100, stores, 108));
    }
}
