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
/// How long a finished order's id is remembered, so the pushes that follow its end (the
/// payment capture after a delivery) neither count it again nor bring it back.
const SETTLED_MEMORY: Duration = Duration::from_secs(30 * 60);

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

#[derive(Message)]
#[rtype(result = "CitySnapshot")]
pub struct GetCity;

pub struct CityBoard {
    platform: Arc<Platform>,
    subscription: Option<u64>,
    open: HashMap<OrderId, (Arc<Order>, i64)>,
    finished: VecDeque<Arc<Order>>,
    settled: HashMap<OrderId, i64>,
    settled_at: VecDeque<(Instant, OrderId)>,
    today: DayTally,
}

impl CityBoard {
    pub fn new(platform: Arc<Platform>) -> CityBoard {
        CityBoard {
            platform,
            subscription: None,
            open: HashMap::new(),
            finished: VecDeque::new(),
            settled: HashMap::new(),
            settled_at: VecDeque::new(),
            today: DayTally::new(Utc::now().date_naive()),
        }
    }

    /// Take one version of an order; older or repeated versions change nothing.
    fn observe(&mut self, order: Arc<Order>, version: i64) {
        self.roll_day();
        let id = order.id;
        if let Some(seen) = self.settled.get_mut(&id) {
            if *seen < version {
                *seen = version;
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
            self.settled.insert(id, version);
            self.settled_at.push_back((Instant::now(), id));
            self.finished.push_front(order);
            self.finished.truncate(FINISHED_SHOWN);
        } else {
            self.open.insert(id, (order, version));
        }
        self.forget_old();
    }

    fn roll_day(&mut self) {
        let day = Utc::now().date_naive();
        if day != self.today.day {
            self.today = DayTally::new(day);
        }
    }

    fn forget_old(&mut self) {
        while let Some((at, id)) = self.settled_at.front().copied() {
            if at.elapsed() < SETTLED_MEMORY {
                break;
            }
            self.settled_at.pop_front();
            self.settled.remove(&id);
        }
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
        self.roll_day();
        let mut open: Vec<Arc<Order>> = self.open.values().map(|(order, _)| order.clone()).collect();
        open.sort_by_key(|order| (order.placed_at, order.id));
        MessageResult(CitySnapshot {
            open,
            finished: self.finished.iter().cloned().collect(),
            today: self.today.clone(),
        })
    }
}
