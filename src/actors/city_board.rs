//! The operator's view of the city: a projection of every order change (the hub's
//! operations topic) into the open orders, the latest finished ones and today's figures.
//! Reading it never touches an order actor; it asks the live orders once, at start, so
//! orders recovered from storage are on the board before they next change.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::prelude::*;
use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;

use crate::domain::order::{Order, Phase};
use crate::domain::OrderId;

use super::hub::{Push, Topic};
use super::{GetOrderVersioned, Platform};

/// Finished orders kept for the board's table.
const FINISHED_SHOWN: usize = 40;
/// How long a finished order's id is remembered while its money is still moving, so the
/// pushes that follow its end (the payment capture after a delivery) neither count it again
/// nor bring it back.
const FINISHED_MEMORY: Duration = Duration::from_secs(30 * 60);
/// How long a settled order's id is remembered. A settled order changes no more, so only a
/// late answer to the start-up read of the live orders can still name it.
const SETTLED_MEMORY: Duration = Duration::from_secs(60);
/// How often the remembered ids are swept for the ones past their time.
const SWEEP_EVERY: Duration = Duration::from_secs(10);

/// Today's figures (UTC day), from the orders seen since the server started.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct DayTally {
    pub day: NaiveDate,
    pub placed: u64,
    pub delivered: u64,
    pub cancelled: u64,
    pub rejected: u64,
    /// Sum of placement-to-delivery times of today's deliveries, for the mean.
    click_to_door_secs: f64,
}

impl DayTally {
    fn new(day: NaiveDate) -> DayTally {
        DayTally { day, ..DayTally::default() }
    }

    /// Mean time from placement to the door over today's deliveries.
    pub fn mean_click_to_door_secs(&self) -> Option<f64> {
        (self.delivered > 0).then(|| self.click_to_door_secs / self.delivered as f64)
    }

    fn placed(&mut self, at: DateTime<Utc>) {
        if at.date_naive() == self.day {
            self.placed += 1;
        }
    }

    fn finished(&mut self, order: &Order) {
        match &order.phase {
            Phase::Delivered { at, .. } if at.date_naive() == self.day => {
                self.delivered += 1;
                self.click_to_door_secs += (*at - order.placed_at).num_milliseconds().max(0) as f64 / 1000.0;
            }
            Phase::Cancelled { at, .. } if at.date_naive() == self.day => self.cancelled += 1,
            Phase::Rejected { .. } if order.updated_at.date_naive() == self.day => self.rejected += 1,
            _ => {}
        }
    }
}

/// What the board shows now.
#[derive(Clone, Debug)]
pub struct CitySnapshot {
    /// Open orders, oldest first.
    pub open: Vec<Arc<Order>>,
    /// The latest finished orders, newest first.
    pub finished: Vec<Arc<Order>>,
    pub today: DayTally,
}

impl CitySnapshot {
    /// Open orders whose kitchen is well past the ready time it promised and still cooking:
    /// the operator's count of late kitchens. (The `/v1/ops/city` KPIs do not carry it yet;
    /// the dashboard counts the same orders from the open list meanwhile.)
    pub fn kitchens_late(&self) -> usize {
        self.open.iter().filter(|order| order.kitchen_is_late()).count()
    }
}

#[derive(Message)]
#[rtype(result = "CitySnapshot")]
pub struct GetCity;

/// The projection itself, on a clock it is given.
struct Projection {
    open: HashMap<OrderId, (Arc<Order>, i64)>,
    finished: VecDeque<Arc<Order>>,
    /// Finished orders' last versions, each with when it may be forgotten.
    ended: HashMap<OrderId, (i64, Instant)>,
    swept: Instant,
    today: DayTally,
}

impl Projection {
    fn new(now: Instant) -> Projection {
        Projection {
            open: HashMap::new(),
            finished: VecDeque::new(),
            ended: HashMap::new(),
            swept: now,
            today: DayTally::new(Utc::now().date_naive()),
        }
    }

    /// Take one version of an order; older or repeated versions change nothing.
    fn observe(&mut self, order: Arc<Order>, version: i64, now: Instant) {
        self.roll_day();
        self.sweep(now);
        let id = order.id;
        let forget_at = now + if order.is_settled() { SETTLED_MEMORY } else { FINISHED_MEMORY };
        if let Some(seen) = self.ended.get_mut(&id) {
            if seen.0 < version {
                *seen = (version, forget_at);
                if let Some(shown) = self.finished.iter_mut().find(|o| o.id == id) {
                    *shown = order;
                }
            }
            return;
        }
        match self.open.get(&id) {
            Some((_, seen)) if *seen >= version => return,
            Some(_) => {}
            None => self.today.placed(order.placed_at),
        }
        if order.status().is_terminal() {
            self.open.remove(&id);
            self.today.finished(&order);
            self.ended.insert(id, (version, forget_at));
            self.finished.push_front(order);
            self.finished.truncate(FINISHED_SHOWN);
        } else {
            self.open.insert(id, (order, version));
        }
    }

    fn roll_day(&mut self) {
        let day = Utc::now().date_naive();
        if day != self.today.day {
            self.today = DayTally::new(day);
        }
    }

    /// What the board shows now.
    fn snapshot(&mut self) -> CitySnapshot {
        self.roll_day();
        let mut open: Vec<Arc<Order>> = self.open.values().map(|(order, _)| order.clone()).collect();
        open.sort_by_key(|order| (order.placed_at, order.id));
        CitySnapshot { open, finished: self.finished.iter().cloned().collect(), today: self.today.clone() }
    }

    fn sweep(&mut self, now: Instant) {
        if now.duration_since(self.swept) < SWEEP_EVERY {
            return;
        }
        self.swept = now;
        self.ended.retain(|_, (_, forget_at)| *forget_at > now);
    }
}

pub struct CityBoard {
    platform: Arc<Platform>,
    subscription: Option<u64>,
    projection: Projection,
}

impl CityBoard {
    pub fn new(platform: Arc<Platform>) -> CityBoard {
        CityBoard { platform, subscription: None, projection: Projection::new(Instant::now()) }
    }

    fn observe(&mut self, order: Arc<Order>, version: i64) {
        self.projection.observe(order, version, Instant::now());
    }
}

impl Actor for CityBoard {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        // Subscribe first, then read the live orders: a change in between arrives as a
        // newer version and wins over the read.
        self.subscription = Some(self.platform.hub.subscribe(Topic::Operations, ctx.address().recipient()));
        let orders = self.platform.live_orders();
        let reads = futures_util::future::join_all(orders.into_iter().map(|addr| addr.send(GetOrderVersioned)));
        ctx.spawn(reads.into_actor(self).map(|replies, act, _| {
            for (order, version) in replies.into_iter().filter_map(|r| r.ok()?.ok()?) {
                act.observe(Arc::new(order), version);
            }
        }));
    }

    fn stopped(&mut self, _: &mut Context<Self>) {
        if let Some(id) = self.subscription.take() {
            self.platform.hub.unsubscribe(Topic::Operations, id);
        }
    }
}

impl Handler<Push> for CityBoard {
    type Result = ();

    fn handle(&mut self, push: Push, _: &mut Context<Self>) {
        if let Push::Order { order, version, .. } = push {
            self.observe(order, version);
        }
    }
}

impl Handler<GetCity> for CityBoard {
    type Result = MessageResult<GetCity>;

    fn handle(&mut self, _: GetCity, _: &mut Context<Self>) -> Self::Result {
        MessageResult(self.projection.snapshot())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::order::{CancelReason, OrderEvent, OrderTerms};
    use crate::domain::{Currency, CustomerId, GeoPoint, Money, StoreId, ZoneId};

    fn placed() -> Vec<OrderEvent> {
        let here = GeoPoint::new(37.5665, 126.978).unwrap();
        let terms = OrderTerms {
            customer_id: CustomerId::random(),
            store_id: StoreId::random(),
            zone: ZoneId::default(),
            lines: Vec::new(),
            total: Money::zero(Currency::parse("KRW").unwrap()),
            pickup: here,
            dropoff: here,
            store_accept_secs: 300,
            request_fingerprint: String::new(),
        };
        vec![OrderEvent::Placed { terms, at: Utc::now() }]
    }

    /// Each version of an order as its events go by.
    fn versions(id: OrderId, events: &[OrderEvent]) -> Vec<(Arc<Order>, i64)> {
        (1..=events.len()).map(|n| (Arc::new(Order::replay(id, &events[..n]).unwrap()), n as i64)).collect()
    }

    fn authorized_then_cancelled() -> Vec<OrderEvent> {
        let now = Utc::now();
        let mut events = placed();
        events.push(OrderEvent::PaymentAuthorized { authorization: "a".into(), store_deadline: now, at: now });
        events.push(OrderEvent::Cancelled { reason: CancelReason::CustomerCancelled, at: now });
        events
    }

    #[test]
    fn settled_orders_are_forgotten_soon_and_the_table_stays_bounded() {
        let start = Instant::now();
        let mut board = Projection::new(start);
        for _ in 0..100 {
            let id = OrderId::random();
            let mut events = authorized_then_cancelled();
            events.push(OrderEvent::PaymentVoided { at: Utc::now() });
            for (order, version) in versions(id, &events) {
                board.observe(order, version, start);
            }
        }
        assert_eq!((board.open.len(), board.ended.len(), board.finished.len()), (0, 100, FINISHED_SHOWN));
        assert_eq!(board.today.placed, 100);
        assert_eq!(board.today.cancelled, 100);
        let later = start + SETTLED_MEMORY + SWEEP_EVERY;
        let id = OrderId::random();
        board.observe(versions(id, &placed())[0].0.clone(), 1, later);
        assert_eq!((board.open.len(), board.ended.len(), board.finished.len()), (1, 0, FINISHED_SHOWN));
    }

    #[test]
    fn late_kitchens_are_counted_while_they_still_cook() {
        let start = Instant::now();
        let mut board = Projection::new(start);
        let accepted = Utc::now() - chrono::Duration::minutes(30);
        let mut events = crate::domain::order::accepted_history(accepted, 10);
        let on_time = OrderId::random();
        for (order, version) in versions(on_time, &events) {
            board.observe(order, version, start);
        }
        let late = OrderId::random();
        events.push(OrderEvent::KitchenLate { at: accepted + chrono::Duration::minutes(20) });
        for (order, version) in versions(late, &events) {
            board.observe(order, version, start);
        }
        assert_eq!((board.snapshot().open.len(), board.snapshot().kitchens_late()), (2, 1));
        // Ready at last: no longer a late kitchen, though the order keeps its record.
        events.push(OrderEvent::MarkedReady { at: Utc::now() });
        let (ready, version) = versions(late, &events).pop().unwrap();
        board.observe(ready, version, start);
        let snapshot = board.snapshot();
        assert_eq!(snapshot.kitchens_late(), 0);
        assert!(snapshot.open.iter().any(|o| o.id == late && o.kitchen_late_at.is_some()));
    }

    #[test]
    fn a_finished_order_not_yet_settled_is_remembered_until_it_settles() {
        let start = Instant::now();
        let mut board = Projection::new(start);
        let id = OrderId::random();
        let mut events = authorized_then_cancelled();
        let seen = versions(id, &events);
        for (order, version) in &seen {
            board.observe(order.clone(), *version, start);
        }
        // Long after its end, a repeated version neither counts it again nor reopens it.
        let later = start + SETTLED_MEMORY + SWEEP_EVERY;
        board.observe(seen[1].0.clone(), 2, later);
        assert_eq!((board.open.len(), board.ended.len(), board.today.placed), (0, 1, 1));
        events.push(OrderEvent::PaymentVoided { at: Utc::now() });
        let (settled, version) = versions(id, &events).pop().unwrap();
        board.observe(settled, version, later);
        assert!(matches!(board.finished[0].payment, crate::domain::order::Payment::Voided { .. }));
        let other = OrderId::random();
        board.observe(versions(other, &placed())[0].0.clone(), 1, later + SETTLED_MEMORY + SWEEP_EVERY);
        assert_eq!((board.open.len(), board.ended.len()), (1, 0));
    }
}
