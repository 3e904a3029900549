//! Which version of each order a websocket session has sent, so an older or repeated push
//! is dropped. A session lives for hours and sees thousands of orders go by: only the
//! orders still in its view are kept by id; one that has left it (finished, or, for a rider,
//! no longer theirs) moves to a short, fixed-size list of recent departures. That list is
//! what filters the pushes queued behind a snapshot that already showed the order's end,
//! and a later push (the payment capture after a delivery) still gets through, being newer.

use std::collections::{HashMap, VecDeque};

use crate::domain::OrderId;

/// Orders that left the view, remembered with their last version sent. Pushes of one order
/// arrive in order, so only the few racing a snapshot can be stale: a handful is plenty.
const DEPARTED_KEPT: usize = 8;

pub struct SentVersions {
    /// Orders in the session's view, by id.
    live: HashMap<OrderId, i64>,
    /// The latest orders to leave it, oldest first; never more than [`DEPARTED_KEPT`].
    departed: VecDeque<(OrderId, i64)>,
}

impl Default for SentVersions {
    fn default() -> Self {
        SentVersions { live: HashMap::new(), departed: VecDeque::with_capacity(DEPARTED_KEPT) }
    }
}

impl SentVersions {
    /// Whether `version` of `order` is new to this session; if so it is recorded, under the
    /// order's id while `in_view`, else among the departed.
    pub fn admit(&mut self, order: OrderId, version: i64, in_view: bool) -> bool {
        if version <= self.last(order).unwrap_or(0) {
            return false;
        }
        if in_view {
            self.live.insert(order, version);
        } else {
            self.live.remove(&order);
            self.departed.retain(|(id, _)| *id != order);
            if self.departed.len() == DEPARTED_KEPT {
                self.departed.pop_front();
            }
            self.departed.push_back((order, version));
        }
        true
    }

    /// The last version of `order` sent, if it is still remembered.
    pub fn last(&self, order: OrderId) -> Option<i64> {
        self.live.get(&order).copied().or_else(|| self.departed.iter().find(|(id, _)| *id == order).map(|(_, v)| *v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finished_orders_are_forgotten_and_the_departed_stay_few() {
        let mut sent = SentVersions::default();
        let orders: Vec<OrderId> = (0..100).map(|_| OrderId::random()).collect();
        for order in &orders {
            assert!(sent.admit(*order, 1, true));
            assert!(sent.admit(*order, 2, true));
        }
        assert_eq!(sent.live.len(), 100);
        for order in &orders {
            assert!(sent.admit(*order, 3, false));
        }
        assert_eq!(sent.live.len(), 0);
        assert_eq!(sent.departed.len(), DEPARTED_KEPT);
        assert_eq!(sent.last(orders[0]), None);
    }

    #[test]
    fn a_departed_order_still_filters_stale_pushes_and_takes_newer_ones() {
        let mut sent = SentVersions::default();
        let order = OrderId::random();
        assert!(sent.admit(order, 5, false));
        assert!(!sent.admit(order, 4, true));
        assert!(!sent.admit(order, 5, false));
        assert!(sent.admit(order, 6, false));
        assert_eq!((sent.live.len(), sent.last(order)), (0, Some(6)));
        assert_eq!(sent.departed.len(), 1);
    }

    #[test]
    fn an_order_that_comes_back_into_view_is_followed_again() {
        let mut sent = SentVersions::default();
        let order = OrderId::random();
        assert!(sent.admit(order, 3, false));
        assert!(sent.admit(order, 7, true));
        assert_eq!((sent.live.len(), sent.last(order)), (1, Some(7)));
    }
}
