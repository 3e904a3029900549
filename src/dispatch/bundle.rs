//! Bundles: orders of one store that one rider carries in one trip, planned on whole units
//! of the caller's clock ([`Time`]; the MDRP replay plans in minutes). Which drop-off
//! sequence a bundle rides in, when each door is reached, whether orders may share a trip at
//! all, when a rider sent now would pick a bundle up, and [`Bundles`]: the orders not yet up
//! for dispatch and the bundles waiting for a rider, released, gathered, merged and filled
//! into a last trip by those rules. No clock and no I/O: the caller says what time it is and
//! tells its dispatch board what [`Change`]s come out.

use std::collections::{BTreeMap, BTreeSet};

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

/// The riders who, sent now, could not pick up food at `store` (all ready by `last_ready`)
/// before their shift ends: each rider is given with where it is or will be free, when, and
/// when its shift ends. A shift-aware policy leaves them out of the bundle's candidates
/// instead of offering a job they would have to decline.
pub fn shift_too_short<P: Copy, R>(
    travel: &impl Travel<P>,
    riders: impl IntoIterator<Item = (R, P, Time, Time)>,
    store: P,
    last_ready: Time,
    now: Time,
) -> Vec<R> {
    riders
        .into_iter()
        .filter(|(_, from, free_at, off)| pickup_if_sent(travel, *from, *free_at, store, last_ready, now) > *off)
        .map(|(rider, ..)| rider)
        .collect()
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

/// What bundling needs to know of the caller's orders: each order's parcel and store, and
/// the key its bundle waits under when it leads one (bundles are tried in that key's order).
pub trait Catalogue<P> {
    type Order: Ord + Copy;
    type Lead: Ord + Copy;
    fn parcel(&self, order: Self::Order) -> Parcel<P>;
    fn store(&self, order: Self::Order) -> usize;
    fn lead(&self, order: Self::Order) -> Self::Lead;
}

/// Orders of one store waiting together for a rider, under their first order's key.
#[derive(Clone, Debug, PartialEq)]
pub struct Bundle<K> {
    pub store: usize,
    pub orders: Vec<K>,
    /// When it went up for dispatch (the matcher's age counts from here).
    pub since: Time,
}

/// What the board must be told after the bundles changed, in this order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Change<L> {
    /// The bundle under this key waits for a rider (new, or grown).
    Announce(L),
    /// The bundle under this key is gone (merged into another, or taken by a last trip).
    Forget(L),
}

/// The bookkeeping of the bundling rules: placed orders not yet up for dispatch, and the
/// bundles waiting for a rider. Which orders go together is judged by [`Rules::fits`].
#[derive(Clone, Debug)]
pub struct Bundles<K, L> {
    pending: BTreeSet<K>,
    waiting: BTreeMap<L, Bundle<K>>,
}

impl<K: Ord + Copy, L: Ord + Copy> Default for Bundles<K, L> {
    fn default() -> Self {
        Bundles { pending: Default::default(), waiting: Default::default() }
    }
}

/// What a bundling step judges by, besides the bundles themselves.
pub struct Judge<'a, C, T> {
    pub day: &'a C,
    pub rules: &'a Rules,
    pub limits: Limits,
    pub travel: &'a T,
    pub pressure: Pressure,
    pub now: Time,
}

impl<C, T> Judge<'_, C, T> {
    fn fits<P: Copy>(&self, orders: &[<C as Catalogue<P>>::Order]) -> bool
    where
        C: Catalogue<P>,
        T: Travel<P>,
    {
        let parcels: Vec<Parcel<P>> = orders.iter().map(|o| self.day.parcel(*o)).collect();
        self.rules.fits(&parcels, self.now, self.pressure, self.limits, self.travel)
    }

    fn ready<P>(&self, order: <C as Catalogue<P>>::Order) -> Time
    where
        C: Catalogue<P>,
    {
        self.day.parcel(order).ready
    }
}

impl<K: Ord + Copy, L: Ord + Copy> Bundles<K, L> {
    /// A placed order, not yet up for dispatch.
    pub fn place(&mut self, order: K) {
        self.pending.insert(order);
    }

    /// Orders not yet with a rider: pending and waiting in bundles.
    pub fn backlog(&self) -> usize {
        self.pending.len() + self.waiting.values().map(|b| b.orders.len()).sum::<usize>()
    }

    pub fn get(&self, lead: &L) -> Option<&Bundle<K>> {
        self.waiting.get(lead)
    }

    /// The keys of the waiting bundles, in order.
    pub fn leads(&self) -> Vec<L> {
        self.waiting.keys().copied().collect()
    }

    /// Take a waiting bundle off the board (a rider was sent for it).
    pub fn take(&mut self, lead: &L) -> Option<Bundle<K>> {
        self.waiting.remove(lead)
    }

    /// A bundle waits again (its rider declined).
    pub fn put_back(&mut self, lead: L, bundle: Bundle<K>) {
        self.waiting.insert(lead, bundle);
    }

    /// Put due orders up for dispatch (by ready time): each joins a waiting bundle of its
    /// store when it fits (only with plain bundling on), or leads a new one that gathers the
    /// store's other pending orders that fit ([`Rules::gathers`]). Short-handed, waiting
    /// bundles of one store that now fit together are then merged.
    pub fn release<P: Copy, C, T>(&mut self, judge: &Judge<C, T>) -> Vec<Change<L>>
    where
        C: Catalogue<P, Order = K, Lead = L>,
        T: Travel<P>,
    {
        let (rules, now, day) = (judge.rules, judge.now, judge.day);
        let mut changes = Vec::new();
        let due_now = |o: &K| {
            let parcel = day.parcel(*o);
            rules.release_at(parcel.placed, parcel.ready, judge.pressure) <= now
        };
        let mut due: Vec<K> = self.pending.iter().copied().filter(due_now).collect();
        due.sort_by_key(|o| (judge.ready(*o), *o));
        let gathers = rules.gathers(judge.pressure);
        for order in due {
            if !self.pending.contains(&order) {
                continue;
            }
            let store = day.store(order);
            if rules.bundling.is_some() {
                let joined = self.waiting.iter().find_map(|(lead, bundle)| {
                    let mut with = bundle.orders.clone();
                    with.push(order);
                    (bundle.store == store && judge.fits(&with)).then_some(*lead)
                });
                if let Some(lead) = joined {
                    self.pending.remove(&order);
                    if let Some(bundle) = self.waiting.get_mut(&lead) {
                        bundle.orders.push(order);
                    }
                    continue;
                }
            }
            self.pending.remove(&order);
            let mut orders = vec![order];
            if gathers {
                let mut mates: Vec<K> = self.pending.iter().copied().filter(|o| day.store(*o) == store).collect();
                mates.sort_by_key(|o| (judge.ready(*o), *o));
                for mate in mates {
                    orders.push(mate);
                    if judge.fits(&orders) {
                        self.pending.remove(&mate);
                    } else {
                        orders.pop();
                    }
                }
            }
            let lead = day.lead(order);
            self.waiting.insert(lead, Bundle { store, orders, since: now });
            changes.push(Change::Announce(lead));
        }
        if judge.pressure == Pressure::Short {
            self.merge(judge, &mut changes);
        }
        changes
    }

    /// Short-handed, bundles of one store that now fit together wait as one: the later
    /// one's orders join the earlier one, which keeps the earlier `since`.
    fn merge<P: Copy, C, T>(&mut self, judge: &Judge<C, T>, changes: &mut Vec<Change<L>>)
    where
        C: Catalogue<P, Order = K, Lead = L>,
        T: Travel<P>,
    {
        let leads = self.leads();
        for (i, lead) in leads.iter().enumerate() {
            for other in &leads[i + 1..] {
                let (Some(a), Some(b)) = (self.waiting.get(lead), self.waiting.get(other)) else { continue };
                if a.store != b.store {
                    continue;
                }
                let mut with = a.orders.clone();
                with.extend(&b.orders);
                if !judge.fits(&with) {
                    continue;
                }
                let Some(gone) = self.waiting.remove(other) else { continue };
                changes.push(Change::Forget(*other));
                if let Some(bundle) = self.waiting.get_mut(lead) {
                    bundle.orders = with;
                    bundle.since = bundle.since.min(gone.since);
                }
                changes.push(Change::Announce(*lead));
            }
        }
    }

    /// A rider's last trip of its shift (see [`is_last_trip`]) takes along every other order
    /// of `bundle`'s store it can pick up before its shift ends at `off`: drop-offs after a
    /// shift cost no shift time, and those orders would otherwise wait for a rider the day
    /// may not have. Whole waiting bundles join first (they are forgotten), then pending
    /// orders by ready time, up to [`LAST_TRIP_MAX`](super::rules::LAST_TRIP_MAX) orders in
    /// all. Returns the orders added, the bundles forgotten and the pickup time.
    pub fn fill_last_trip<P: Copy, C>(
        &mut self,
        day: &C,
        bundle: &Bundle<K>,
        pickup_at: Time,
        off: Time,
    ) -> (Vec<K>, Vec<L>, Time)
    where
        C: Catalogue<P, Order = K, Lead = L>,
    {
        let most = super::rules::LAST_TRIP_MAX;
        let ready = |order: &K| day.parcel(*order).ready;
        let (mut added, mut forgotten, mut pickup_at) = (Vec::new(), Vec::new(), pickup_at);
        let others: Vec<L> =
            self.waiting.iter().filter(|(_, b)| b.store == bundle.store).map(|(lead, _)| *lead).collect();
        for other in others {
            let Some(b) = self.waiting.get(&other) else { continue };
            let last_ready = b.orders.iter().map(ready).max().unwrap_or(0);
            if bundle.orders.len() + added.len() + b.orders.len() > most || last_ready > off {
                continue;
            }
            let Some(gone) = self.waiting.remove(&other) else { continue };
            forgotten.push(other);
            pickup_at = pickup_at.max(last_ready);
            added.extend(gone.orders);
        }
        let mut pending: Vec<K> = self.pending.iter().copied().filter(|o| day.store(*o) == bundle.store).collect();
        pending.sort_by_key(|o| (ready(o), *o));
        for order in pending {
            if bundle.orders.len() + added.len() >= most || ready(&order) > off {
                break;
            }
            self.pending.remove(&order);
            pickup_at = pickup_at.max(ready(&order));
            added.push(order);
        }
        (added, forgotten, pickup_at)
    }
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
    fn riders_who_cannot_pick_up_before_their_shift_ends_are_left_out() {
        let store = PlanarPoint::new(1000.0, 0.0);
        // Each reaches the store 10 minutes after it is free and takes 4 there.
        let riders = [("early", PlanarPoint::new(0.0, 0.0), 0, 13), ("enough", PlanarPoint::new(0.0, 0.0), 0, 14)];
        assert_eq!(shift_too_short(&Grid, riders, store, 0, 0), vec!["early"]);
        assert_eq!(shift_too_short(&Grid, riders, store, 20, 0), vec!["early", "enough"], "the food is ready at 20");
    }

    #[test]
    fn a_trip_is_the_last_when_no_store_can_be_reached_before_the_shift_ends() {
        let door = PlanarPoint::new(0.0, 0.0);
        let stores = [PlanarPoint::new(1000.0, 0.0), PlanarPoint::new(500.0, 0.0)];
        assert!(!is_last_trip(&Grid, door, 100, stores, 109), "the near store: 100 + 5 + 4");
        assert!(is_last_trip(&Grid, door, 100, stores, 108));
    }

    /// Orders by index at one of two stores, 1 km apart; bundles under their index.
    struct Menu(Vec<(usize, Parcel<PlanarPoint>)>);

    impl Catalogue<PlanarPoint> for Menu {
        type Order = usize;
        type Lead = usize;
        fn parcel(&self, order: usize) -> Parcel<PlanarPoint> {
            self.0[order].1
        }
        fn store(&self, order: usize) -> usize {
            self.0[order].0
        }
        fn lead(&self, order: usize) -> usize {
            order
        }
    }

    fn menu(orders: &[(usize, f64, Time, Time)]) -> Menu {
        Menu(
            orders
                .iter()
                .map(|(store, x, placed, ready)| {
                    let mut p = parcel(*x, *placed, *ready);
                    p.pickup = PlanarPoint::new(*store as f64 * 1000.0, 0.0);
                    (*store, p)
                })
                .collect(),
        )
    }

    fn judge<'a>(day: &'a Menu, rules: &'a Rules, pressure: Pressure, now: Time) -> Judge<'a, Menu, Grid> {
        Judge { day, rules, limits: LIMITS, travel: &Grid, pressure, now }
    }

    #[test]
    fn due_orders_go_up_in_bundles_of_one_store_that_fit() {
        // Store 0: three orders ready at 20, 22 and 50; store 1: one ready at 21.
        let day = menu(&[(0, 300.0, 0, 20), (0, 400.0, 0, 22), (0, 500.0, 0, 50), (1, 1300.0, 0, 21)]);
        let rules = Rules { release_lead: Some(15), ..bundling() };
        let mut bundles: Bundles<usize, usize> = Bundles::default();
        for order in 0..4 {
            bundles.place(order);
        }
        assert!(bundles.release(&judge(&day, &rules, Pressure::Calm, 4)).is_empty(), "none due before 5");
        let changes = bundles.release(&judge(&day, &rules, Pressure::Calm, 7));
        assert_eq!(changes, vec![Change::Announce(0), Change::Announce(3)]);
        assert_eq!(bundles.get(&0).map(|b| b.orders.clone()), Some(vec![0, 1]), "the next ready one gathered");
        assert_eq!(bundles.backlog(), 4, "the one ready at 50 is still pending");
        assert!(bundles.release(&judge(&day, &rules, Pressure::Calm, 34)).is_empty(), "the last is due at 35");
        // It joins no bundle (the first is full, the other of another store): it leads one.
        assert_eq!(bundles.release(&judge(&day, &rules, Pressure::Calm, 35)), vec![Change::Announce(2)]);
        assert_eq!(bundles.leads(), vec![0, 2, 3]);
        let taken = bundles.take(&0).unwrap();
        assert_eq!(bundles.backlog(), 2);
        bundles.put_back(0, taken);
        assert_eq!(bundles.backlog(), 4);
    }

    #[test]
    fn short_handed_bundles_of_one_store_merge_and_a_last_trip_takes_the_rest() {
        let short = ShortHanded {
            bundling: Bundling { max_orders: 4, ready_window: 60 },
            limit: None,
            release_lead: 0,
            pace: 20.0,
            endgame: None,
        };
        let day = menu(&[(0, 300.0, 0, 10), (0, 400.0, 0, 40), (0, 500.0, 0, 90), (0, 600.0, 0, 200)]);
        let plain = Rules { release_lead: Some(0), ..bundling() };
        let mut bundles: Bundles<usize, usize> = Bundles::default();
        for order in 0..4 {
            bundles.place(order);
        }
        // Calm, the first two go up apart (30 minutes between their ready times).
        bundles.release(&judge(&day, &plain, Pressure::Calm, 10));
        bundles.release(&judge(&day, &plain, Pressure::Calm, 40));
        assert_eq!(bundles.leads(), vec![0, 1]);
        // Short-handed, they fit together: the later one goes into the earlier one.
        let rules = Rules { short: Some(short), ..plain };
        let changes = bundles.release(&judge(&day, &rules, Pressure::Short, 41));
        assert_eq!(changes, vec![Change::Forget(1), Change::Announce(0)]);
        assert_eq!(bundles.get(&0).map(|b| (b.orders.clone(), b.since)), Some((vec![0, 1], 10)));
        // A courier whose shift ends at 100 takes the first bundle on its last trip: the
        // pending order ready at 90 comes along, the one ready at 200 does not.
        let first = bundles.take(&0).unwrap();
        let (added, forgotten, pickup_at) = bundles.fill_last_trip(&day, &first, 45, 100);
        assert_eq!((added, forgotten, pickup_at), (vec![2], vec![], 90));
        assert_eq!(bundles.backlog(), 1);
    }
}
