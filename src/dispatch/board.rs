//! One zone's dispatch board: which riders are online and where, which are held by an order
//! (offered, assigned, carrying), and which orders wait for a rider. Each tick solves the
//! assignment of all waiting orders to free riders (k nearest candidates each, inside a
//! radius that widens as the order waits) and hands back the offers to make. A rider is free
//! when online, not held, and heard from recently; one who declined or let an offer lapse
//! is never offered that order again (the order lists it in its need).
//!
//! The board is a view, not a record: riders announce their presence and orders announce
//! what they need, so after a restart both simply announce again. It owns no clock and
//! sends no message; every call that depends on time is given `now`.

use std::collections::{BTreeSet, HashMap};

use chrono::{DateTime, Duration, Utc};

use crate::config::DispatchSettings;
use crate::domain::{GeoPoint, OrderId, RiderId};
use crate::matching::batch::{self, BatchSettings, Job};
use crate::matching::{Position, RiderIndex};

use super::decision::{Considered, Decision, Verdict};

/// What an order needs from dispatch now.
#[derive(Clone, Debug, PartialEq)]
pub enum Need {
    /// A rider, other than these, from `since` on; for food due at `ready_at`, a rider
    /// who would arrive well before it is not sent yet (see [`ARRIVE_EARLY_SECS`]).
    Rider { excluded: BTreeSet<RiderId>, since: DateTime<Utc>, ready_at: Option<DateTime<Utc>> },
    /// Nothing new: it holds this rider.
    Holds(RiderId),
    /// Nothing: it is done with dispatch.
    Nothing,
}

/// How a tick pairs waiting orders with free riders.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Policy {
    /// The assignment with the most matches and then the least total pickup time.
    #[default]
    Optimal,
    /// Oldest order first, each to its nearest free rider: the textbook baseline.
    Greedy,
}

/// An offer the tick decided: the rider is held for the order until the order answers.
#[derive(Clone, Debug, PartialEq)]
pub struct Offer {
    pub order: OrderId,
    pub rider: RiderId,
    pub deadline: DateTime<Utc>,
    pub pickup_eta_secs: f64,
}

/// How long before the food is due a rider may arrive at the store: an offer goes out
/// once the rider's pickup ETA plus this covers the cooking left, so riders do not stand
/// at the counter while the food cooks (and stay free for orders that are ready), yet
/// the food does not wait for them either. It covers the rider's answer and the model's
/// error.
pub const ARRIVE_EARLY_SECS: f64 = 60.0;

#[derive(Clone)]
struct Waiting<P: Position> {
    pickup: P,
    ready_at: Option<DateTime<Utc>>,
    excluded: BTreeSet<RiderId>,
    /// When dispatch started for the order: the radius widens from here.
    since: DateTime<Utc>,
}

/// Where an online rider was last heard from.
#[derive(Clone)]
struct Seen<P> {
    position: P,
    at: DateTime<Utc>,
}

#[derive(Clone)]
pub struct Board<P: Position = GeoPoint> {
    online: HashMap<RiderId, Seen<P>>,
    /// Free riders only: online, fresh and not held.
    free: RiderIndex<P>,
    held_by: HashMap<RiderId, OrderId>,
    holding: HashMap<OrderId, RiderId>,
    waiting: HashMap<OrderId, Waiting<P>>,
    /// Offers made and not yet answered: a need the order sent before it saw the offer
    /// must not free the rider meanwhile.
    offering: HashMap<OrderId, RiderId>,
    /// Orders whose "need a rider" came while an offer was out and was set aside: it may be
    /// stale (sent before the order saw the offer) or new (the order took the offer and was
    /// let go again at once). Only the order knows: it is asked again once the offer is
    /// answered, whatever the answer.
    set_aside: std::collections::HashSet<OrderId>,
}

impl<P: Position> Default for Board<P> {
    fn default() -> Self {
        Board {
            online: HashMap::new(),
            free: RiderIndex::new(),
            held_by: HashMap::new(),
            holding: HashMap::new(),
            waiting: HashMap::new(),
            offering: HashMap::new(),
            set_aside: std::collections::HashSet::new(),
        }
    }
}

impl<P: Position> Board<P> {
    pub fn new() -> Self {
        Self::default()
    }

    /// Riders free to be offered a job now (online, fresh, not held).
    pub fn free_riders(&self) -> usize {
        self.free.len()
    }

    /// Orders waiting for a rider.
    pub fn waiting_orders(&self) -> usize {
        self.waiting.len()
    }

    /// Hold `rider` for `order`. When another order already claims the rider (they loaded
    /// out of step), both claims are returned: each of those orders must let the rider go,
    /// and one whose food is on board re-claims it.
    fn hold(&mut self, rider: RiderId, order: OrderId) -> Vec<(OrderId, RiderId)> {
        let mut conflicts = Vec::new();
        if let Some(previous) = self.held_by.insert(rider, order) {
            if previous != order {
                tracing::warn!(%rider, %previous, %order, "rider claimed by two orders; releasing both");
                self.holding.remove(&previous);
                conflicts = vec![(previous, rider), (order, rider)];
            }
        }
        self.holding.insert(order, rider);
        self.free.remove(rider);
        conflicts
    }

    fn release(&mut self, order: OrderId) {
        if let Some(rider) = self.holding.remove(&order) {
            if self.held_by.get(&rider) == Some(&order) {
                self.held_by.remove(&rider);
                if let Some(seen) = self.online.get(&rider) {
                    self.free.upsert(rider, &seen.position);
                }
            }
        }
    }

    /// A rider's position while on duty, or `None` when off duty.
    pub fn presence(&mut self, rider: RiderId, position: Option<P>, now: DateTime<Utc>) {
        match position {
            Some(position) => {
                self.online.insert(rider, Seen { position, at: now });
                if !self.held_by.contains_key(&rider) {
                    self.free.upsert(rider, &position);
                }
            }
            None => {
                self.online.remove(&rider);
                self.free.remove(rider);
            }
        }
    }

    /// What `order` (picked up at `pickup`) needs now. Returns the (order, rider) claims
    /// that must be released because two orders claimed one rider.
    pub fn needs(&mut self, order: OrderId, pickup: P, need: Need) -> Vec<(OrderId, RiderId)> {
        if self.offering.contains_key(&order) && matches!(need, Need::Rider { .. }) {
            // Perhaps sent before the order saw our offer: the offer stands until answered,
            // and then the order is asked what it needs (see `answered`).
            self.set_aside.insert(order);
            return Vec::new();
        }
        if let Need::Holds(rider) = need {
            if self.holding.get(&order) != Some(&rider) {
                self.release(order);
            }
            self.waiting.remove(&order);
            return self.hold(rider, order);
        }
        self.release(order);
        match need {
            Need::Rider { excluded, since, ready_at } => {
                self.waiting.insert(order, Waiting { pickup, ready_at, excluded, since });
            }
            Need::Nothing | Need::Holds(_) => {
                self.waiting.remove(&order);
            }
        }
        Vec::new()
    }

    /// Riders not heard from for `stale_after_secs` leave the free index until they ping.
    fn drop_stale(&mut self, now: DateTime<Utc>, stale_after: Duration) {
        for (rider, seen) in &self.online {
            if now - seen.at > stale_after {
                self.free.remove(*rider);
            }
        }
    }

    /// Decide this tick's offers. Each offered rider is held for its order, and the order's
    /// answer is awaited ([`Board::answered`]); an offer that cannot be delivered is taken
    /// back with [`Board::withdraw`].
    pub fn tick(&mut self, now: DateTime<Utc>, settings: &DispatchSettings, policy: Policy) -> Vec<Offer> {
        self.decide(now, settings, policy, false).0
    }

    /// [`Board::tick`], with the [`Decision`] behind each offer (what the live server keeps
    /// for its operators; the benchmark runners skip the bookkeeping).
    pub fn tick_explained(
        &mut self,
        now: DateTime<Utc>,
        settings: &DispatchSettings,
        policy: Policy,
    ) -> (Vec<Offer>, Vec<Decision>) {
        self.decide(now, settings, policy, true)
    }

    fn decide(
        &mut self,
        now: DateTime<Utc>,
        settings: &DispatchSettings,
        policy: Policy,
        explain: bool,
    ) -> (Vec<Offer>, Vec<Decision>) {
        // Capped so a "never stale" setting stays a valid duration.
        self.drop_stale(now, Duration::seconds(settings.stale_after_secs.min(1 << 40) as i64));
        if self.waiting.is_empty() || self.free.is_empty() {
            return (Vec::new(), Vec::new());
        }
        let mut jobs: Vec<Job<P>> = self
            .waiting
            .iter()
            // Dispatch starts at `since` (the order's release time): nothing is offered before.
            .filter(|(_, job)| job.since <= now)
            .map(|(order, job)| {
                let waited_secs = (now - job.since).num_milliseconds().max(0) as f64 / 1000.0;
                Job {
                    order: *order,
                    pickup: job.pickup,
                    excluded: job.excluded.clone(),
                    radius_m: settings.radius_after(waited_secs),
                    waited_secs,
                }
            })
            .collect();
        // Oldest first: the exact solver does not care, greedy serves in this order, and
        // ties go to the longest wait.
        if jobs.is_empty() {
            return (Vec::new(), Vec::new());
        }
        jobs.sort_by(|a, b| b.waited_secs.total_cmp(&a.waited_secs).then(a.order.cmp(&b.order)));
        let batch =
            BatchSettings { k: settings.candidates_k.max(1), speed: settings.speed, age_weight: settings.age_weight };
        let graph = batch::candidates(&jobs, &self.free, &batch);
        let assignment = match policy {
            Policy::Optimal => graph.solve(),
            Policy::Greedy => graph.greedy(),
        };
        let deadline = now + Duration::seconds(i64::from(settings.offer_timeout_secs));
        let offers: Vec<Offer> = graph
            .pairings(&jobs, &assignment)
            .into_iter()
            .filter(|p| self.due(p.order, p.pickup_eta_secs, now))
            .map(|p| Offer { order: p.order, rider: p.rider, deadline, pickup_eta_secs: p.pickup_eta_secs })
            .collect();
        let decisions = if explain {
            let (free_riders, waiting_orders) = (self.free.len(), self.waiting.len());
            jobs.iter()
                .enumerate()
                .filter_map(|(row, job)| {
                    let offer = offers.iter().find(|o| o.order == job.order)?;
                    let mut candidates: Vec<Considered> = graph
                        .considered(row, &assignment)
                        .map(|(rider, pickup_eta_secs, cost_secs, taker)| Considered {
                            rider,
                            pickup_eta_secs,
                            cost_secs,
                            verdict: match taker.map(|taker| (taker, jobs[taker].order)) {
                                Some((taker, _)) if taker == row => Verdict::Chosen,
                                Some((_, other)) if offers.iter().any(|o| o.order == other) => {
                                    Verdict::OfferedAnotherOrder { order: other }
                                }
                                Some((_, other)) => Verdict::KeptForAnotherOrder { order: other },
                                None => Verdict::Farther,
                            },
                        })
                        .collect();
                    candidates.sort_by(|a, b| a.cost_secs.total_cmp(&b.cost_secs).then(a.rider.cmp(&b.rider)));
                    Some(Decision {
                        order: job.order,
                        at: now,
                        policy,
                        rider: offer.rider,
                        pickup_eta_secs: offer.pickup_eta_secs,
                        radius_m: job.radius_m,
                        waited_secs: job.waited_secs,
                        free_riders,
                        waiting_orders,
                        candidates,
                        excluded: job.excluded.iter().copied().collect(),
                    })
                })
                .collect()
        } else {
            Vec::new()
        };
        for offer in &offers {
            self.waiting.remove(&offer.order);
            // The rider came from the free index, so nobody else holds it.
            self.hold(offer.rider, offer.order);
            self.offering.insert(offer.order, offer.rider);
        }
        (offers, decisions)
    }

    /// Whether a rider `pickup_eta_secs` away should be sent to `order` now: always, unless
    /// it would reach the store more than [`ARRIVE_EARLY_SECS`] before the food is due.
    fn due(&self, order: OrderId, pickup_eta_secs: f64, now: DateTime<Utc>) -> bool {
        let Some(ready_at) = self.waiting.get(&order).and_then(|w| w.ready_at) else { return true };
        let cooking_left = (ready_at - now).num_milliseconds() as f64 / 1000.0;
        pickup_eta_secs + ARRIVE_EARLY_SECS >= cooking_left
    }

    /// Take back an offer that could not reach its order.
    pub fn withdraw(&mut self, order: OrderId) {
        self.offering.remove(&order);
        self.set_aside.remove(&order);
        self.release(order);
    }

    /// The order answered an offer: taken, or refused (its state had moved on). Returns
    /// whether the order should be asked to announce its need again: after a refusal (its
    /// re-sent need may have been set aside while the offer was out), and after any answer
    /// when a need was set aside meanwhile (the order may be searching again already).
    pub fn answered(&mut self, order: OrderId, rider: RiderId, taken: bool) -> bool {
        self.offering.remove(&order);
        let set_aside = self.set_aside.remove(&order);
        if !taken && self.holding.get(&order) == Some(&rider) {
            self.release(order);
            return true;
        }
        set_aside
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::matching::PlanarPoint;

    fn t(minutes: i64) -> DateTime<Utc> {
        DateTime::<Utc>::UNIX_EPOCH + Duration::minutes(minutes)
    }

    fn settings() -> DispatchSettings {
        DispatchSettings { base_radius_m: 10_000.0, stale_after_secs: 600, ..DispatchSettings::default() }
    }

    fn searching(since: i64) -> Need {
        Need::Rider { excluded: BTreeSet::new(), since: t(since), ready_at: None }
    }

    #[test]
    fn offers_hold_riders_until_released() {
        let mut board: Board<PlanarPoint> = Board::new();
        let (near, far) = (RiderId::random(), RiderId::random());
        board.presence(near, Some(PlanarPoint::new(100.0, 0.0)), t(0));
        board.presence(far, Some(PlanarPoint::new(3000.0, 0.0)), t(0));
        let order = OrderId::random();
        board.needs(order, PlanarPoint::new(0.0, 0.0), searching(0));
        let offers = board.tick(t(1), &settings(), Policy::Optimal);
        assert_eq!(offers.len(), 1);
        assert_eq!(offers[0].rider, near);
        assert_eq!(board.free_riders(), 1);
        // A "need a rider" while the offer is out changes nothing yet; once the offer is
        // answered the order is asked again, since it may be searching already.
        board.needs(order, PlanarPoint::new(0.0, 0.0), searching(0));
        assert_eq!(board.waiting_orders(), 0);
        assert!(board.answered(order, near, true), "asked again after a set-aside need");
        board.needs(order, PlanarPoint::new(0.0, 0.0), Need::Holds(near));
        assert_eq!(board.free_riders(), 1);
        board.needs(order, PlanarPoint::new(0.0, 0.0), Need::Nothing);
        assert_eq!(board.free_riders(), 2);
    }

    #[test]
    fn excluded_and_stale_riders_are_not_offered() {
        let mut board: Board<PlanarPoint> = Board::new();
        let (declined, silent) = (RiderId::random(), RiderId::random());
        board.presence(declined, Some(PlanarPoint::new(10.0, 0.0)), t(20));
        board.presence(silent, Some(PlanarPoint::new(20.0, 0.0)), t(0));
        let order = OrderId::random();
        let need = Need::Rider { excluded: [declined].into_iter().collect(), since: t(20), ready_at: None };
        board.needs(order, PlanarPoint::new(0.0, 0.0), need);
        assert!(board.tick(t(20), &settings(), Policy::Optimal).is_empty());
        board.presence(silent, Some(PlanarPoint::new(20.0, 0.0)), t(20));
        let offers = board.tick(t(20), &settings(), Policy::Optimal);
        assert_eq!(offers.iter().map(|o| o.rider).collect::<Vec<_>>(), vec![silent]);
    }

    #[test]
    fn a_refused_offer_frees_the_rider_and_asks_for_a_resync() {
        let mut board: Board<PlanarPoint> = Board::new();
        let rider = RiderId::random();
        board.presence(rider, Some(PlanarPoint::new(0.0, 0.0)), t(0));
        let order = OrderId::random();
        board.needs(order, PlanarPoint::new(0.0, 0.0), searching(0));
        assert_eq!(board.tick(t(0), &settings(), Policy::Greedy).len(), 1);
        assert!(board.answered(order, rider, false));
        assert_eq!(board.free_riders(), 1);
    }

    #[test]
    fn an_order_let_go_while_its_offer_was_out_is_not_lost() {
        let mut board: Board<PlanarPoint> = Board::new();
        let (first, second) = (RiderId::random(), RiderId::random());
        board.presence(first, Some(PlanarPoint::new(0.0, 0.0)), t(0));
        let order = OrderId::random();
        board.needs(order, PlanarPoint::new(0.0, 0.0), searching(0));
        assert_eq!(board.tick(t(0), &settings(), Policy::Greedy).len(), 1);
        // The order takes the offer, the rider declines at once, and the order searches
        // again before the dispatcher hears that the offer was taken.
        let excluded = [first].into_iter().collect();
        board.needs(order, PlanarPoint::new(0.0, 0.0), Need::Rider { excluded, since: t(0), ready_at: None });
        assert!(board.answered(order, first, true), "the order must be asked what it needs");
        // Asked, it says again that it needs a rider, and gets the next one.
        let excluded = [first].into_iter().collect();
        board.needs(order, PlanarPoint::new(0.0, 0.0), Need::Rider { excluded, since: t(0), ready_at: None });
        board.presence(second, Some(PlanarPoint::new(5.0, 0.0)), t(1));
        let offers = board.tick(t(1), &settings(), Policy::Greedy);
        assert_eq!(offers.iter().map(|o| o.rider).collect::<Vec<_>>(), vec![second]);
        // Not asked twice.
        assert!(!board.answered(order, second, true));
    }

    #[test]
    fn each_offer_says_whom_it_weighed_and_why_they_lost() {
        let mut board: Board<PlanarPoint> = Board::new();
        // Rider `between` is nearest to both orders; `south` only reaches `a`; `far` is the
        // runner-up for `a` and stays free; `declined` already said no to `a`.
        let (between, south, far, declined) =
            (RiderId::random(), RiderId::random(), RiderId::random(), RiderId::random());
        board.presence(between, Some(PlanarPoint::new(0.0, 200.0)), t(0));
        board.presence(south, Some(PlanarPoint::new(0.0, -300.0)), t(0));
        board.presence(far, Some(PlanarPoint::new(0.0, -2000.0)), t(0));
        board.presence(declined, Some(PlanarPoint::new(0.0, 10.0)), t(0));
        let (a, b) = (OrderId::random(), OrderId::random());
        let need_a = Need::Rider { excluded: [declined].into_iter().collect(), since: t(0), ready_at: None };
        board.needs(a, PlanarPoint::new(0.0, 0.0), need_a);
        board.needs(
            b,
            PlanarPoint::new(0.0, 1200.0),
            Need::Rider { excluded: [declined].into_iter().collect(), since: t(0), ready_at: None },
        );
        let settings = DispatchSettings { candidates_k: 3, ..settings() };
        let (offers, decisions) = board.tick_explained(t(0), &settings, Policy::Optimal);
        assert_eq!(offers.len(), 2);
        let of_a = decisions.iter().find(|d| d.order == a).expect("a decision for each offer");
        assert_eq!(of_a.rider, south);
        assert_eq!(of_a.excluded, vec![declined]);
        let verdict = |rider| of_a.candidates.iter().find(|c| c.rider == rider).map(|c| c.verdict.clone());
        assert_eq!(verdict(south), Some(Verdict::Chosen));
        assert_eq!(verdict(between), Some(Verdict::OfferedAnotherOrder { order: b }));
        assert_eq!(verdict(far), Some(Verdict::Farther));
        assert_eq!(verdict(declined), None, "an excluded rider is not weighed");
        assert!(of_a.candidates.windows(2).all(|w| w[0].cost_secs <= w[1].cost_secs), "cheapest first");
        assert_eq!((of_a.free_riders, of_a.waiting_orders), (4, 2));
        // The plain tick decides the same and keeps no records.
        let mut again: Board<PlanarPoint> = Board::new();
        for (rider, y) in [(between, 200.0), (south, -300.0), (far, -2000.0), (declined, 10.0)] {
            again.presence(rider, Some(PlanarPoint::new(0.0, y)), t(0));
        }
        again.needs(
            a,
            PlanarPoint::new(0.0, 0.0),
            Need::Rider { excluded: [declined].into_iter().collect(), since: t(0), ready_at: None },
        );
        again.needs(
            b,
            PlanarPoint::new(0.0, 1200.0),
            Need::Rider { excluded: [declined].into_iter().collect(), since: t(0), ready_at: None },
        );
        assert_eq!(again.tick(t(0), &settings, Policy::Optimal), offers);
    }

    #[test]
    fn an_order_is_offered_nothing_before_its_dispatch_starts() {
        let mut board: Board<PlanarPoint> = Board::new();
        let rider = RiderId::random();
        board.presence(rider, Some(PlanarPoint::new(0.0, 0.0)), t(0));
        let order = OrderId::random();
        board.needs(order, PlanarPoint::new(0.0, 0.0), searching(10));
        assert!(board.tick(t(9), &settings(), Policy::Optimal).is_empty(), "not yet released");
        assert_eq!(board.waiting_orders(), 1);
        let offers = board.tick(t(10), &settings(), Policy::Optimal);
        assert_eq!(offers.iter().map(|o| o.rider).collect::<Vec<_>>(), vec![rider]);
    }

    #[test]
    fn a_rider_is_sent_so_as_to_arrive_as_the_food_is_ready() {
        let mut board: Board<PlanarPoint> = Board::new();
        let rider = RiderId::random();
        // 1 km away: 260 s at 18 km/h with the 1.3 detour.
        board.presence(rider, Some(PlanarPoint::new(1000.0, 0.0)), t(0));
        let order = OrderId::random();
        let need = Need::Rider { excluded: BTreeSet::new(), since: t(0), ready_at: Some(t(10)) };
        board.needs(order, PlanarPoint::new(0.0, 0.0), need);
        for minute in 0..5 {
            assert!(board.tick(t(minute), &settings(), Policy::Optimal).is_empty(), "minute {minute}: too early");
        }
        assert_eq!(board.free_riders(), 1, "the rider stays free meanwhile");
        // 320 s of cooking left = 260 s to get there + 60 s early: go.
        let offers = board.tick(t(4) + Duration::seconds(40), &settings(), Policy::Optimal);
        assert_eq!(offers.iter().map(|o| o.rider).collect::<Vec<_>>(), vec![rider]);
    }

    #[test]
    fn a_rider_kept_for_food_not_yet_due_is_recorded_as_such() {
        let mut board: Board<PlanarPoint> = Board::new();
        // `at_b` stands at store B, whose food is ten minutes off; `near_a` is 50 m from A,
        // whose food is ready. The assignment pairs at_b with B (not due: no offer) and
        // near_a with A.
        let (at_b, near_a) = (RiderId::random(), RiderId::random());
        board.presence(at_b, Some(PlanarPoint::new(0.0, 100.0)), t(0));
        board.presence(near_a, Some(PlanarPoint::new(0.0, -50.0)), t(0));
        let (a, b) = (OrderId::random(), OrderId::random());
        board.needs(a, PlanarPoint::new(0.0, 0.0), searching(0));
        let later = Need::Rider { excluded: BTreeSet::new(), since: t(0), ready_at: Some(t(10)) };
        board.needs(b, PlanarPoint::new(0.0, 100.0), later);
        let (offers, decisions) = board.tick_explained(t(0), &settings(), Policy::Optimal);
        assert_eq!(offers.iter().map(|o| (o.order, o.rider)).collect::<Vec<_>>(), vec![(a, near_a)]);
        let verdict = |rider| decisions[0].candidates.iter().find(|c| c.rider == rider).map(|c| c.verdict.clone());
        assert_eq!(verdict(at_b), Some(Verdict::KeptForAnotherOrder { order: b }), "not offered B: kept for it");
        assert_eq!(board.free_riders(), 1, "and left free");
    }

    #[test]
    fn two_claims_on_one_rider_release_both() {
        let mut board: Board<PlanarPoint> = Board::new();
        let rider = RiderId::random();
        let (a, b) = (OrderId::random(), OrderId::random());
        let here = PlanarPoint::new(0.0, 0.0);
        assert!(board.needs(a, here, Need::Holds(rider)).is_empty());
        let released = board.needs(b, here, Need::Holds(rider));
        assert_eq!(released, vec![(a, rider), (b, rider)]);
    }
}
