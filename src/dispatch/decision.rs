//! Why an order was offered to the rider it was: the record every offer leaves. A tick
//! knows, for each order it serves, the riders it considered (the nearest free ones inside
//! the order's search radius) with what each would cost, which one it chose, and why the
//! others lost: another order needed that rider more (offered it, or kept for it until its
//! food is nearly due), or it was simply farther. Riders who
//! already declined or let an offer of the order lapse were not considered at all, and the
//! record says so. Operators read these to answer "why that rider?"; nothing about dispatch
//! should be a mystery.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::{OrderId, RiderId};

use super::board::Policy;

/// One offer's reasons.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Decision {
    pub order: OrderId,
    pub at: DateTime<Utc>,
    pub policy: Policy,
    /// The rider offered the order.
    pub rider: RiderId,
    pub pickup_eta_secs: f64,
    /// How far the search reached for this order when it was decided.
    pub radius_m: f64,
    /// How long the order had waited for a rider.
    pub waited_secs: f64,
    /// Free riders (online, fresh, not held) and orders waiting, zone-wide, at the tick.
    pub free_riders: usize,
    pub waiting_orders: usize,
    /// Every rider considered, cheapest first.
    pub candidates: Vec<Considered>,
    /// Riders never considered because they declined or let an offer of this order lapse
    /// (or one of its trip's).
    pub excluded: Vec<RiderId>,
    /// Riders left out because their shift ends before they could finish the trip.
    #[serde(default)]
    pub shift_ending: Vec<RiderId>,
    /// The other orders of the rider's trip: offered with this one, or (when `joins_trip`)
    /// already held by the rider, on its way to their store.
    #[serde(default)]
    pub trip: Vec<OrderId>,
    /// The order was added to a trip under way rather than offered to a free rider.
    #[serde(default)]
    pub joins_trip: bool,
}

/// A rider the tick considered for the order.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Considered {
    pub rider: RiderId,
    pub pickup_eta_secs: f64,
    /// What the assignment weighed: the pickup ETA, less a bonus when other orders have
    /// waited longer (so the oldest are served first when riders are scarce).
    pub cost_secs: f64,
    #[serde(flatten)]
    pub verdict: Verdict,
}

/// Why a considered rider was, or was not, offered the order.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "verdict", rename_all = "snake_case")]
pub enum Verdict {
    Chosen,
    /// Offered another order in the same tick: together the two pairings cost less.
    OfferedAnotherOrder {
        order: OrderId,
    },
    /// Paired with another order whose food is not due yet, and so left free this tick
    /// rather than given to this one.
    KeptForAnotherOrder {
        order: OrderId,
    },
    /// Left free: the chosen rider cost less.
    Farther,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_reads_back_as_written() {
        let rider = RiderId::random();
        let decision = Decision {
            order: OrderId::random(),
            at: Utc::now(),
            policy: Policy::Optimal,
            rider,
            pickup_eta_secs: 120.0,
            radius_m: 2000.0,
            waited_secs: 3.0,
            free_riders: 2,
            waiting_orders: 1,
            candidates: vec![
                Considered { rider, pickup_eta_secs: 120.0, cost_secs: 120.0, verdict: Verdict::Chosen },
                Considered {
                    rider: RiderId::random(),
                    pickup_eta_secs: 90.0,
                    cost_secs: 90.0,
                    verdict: Verdict::OfferedAnotherOrder { order: OrderId::random() },
                },
            ],
            excluded: vec![RiderId::random()],
            shift_ending: vec![],
            trip: vec![OrderId::random()],
            joins_trip: false,
        };
        let json = serde_json::to_value(&decision).unwrap();
        assert_eq!(json["candidates"][0]["verdict"], "chosen");
        assert_eq!(json["candidates"][1]["verdict"], "offered_another_order");
        assert!(json["candidates"][1]["order"].is_string(), "{json}");
        assert_eq!(serde_json::from_value::<Decision>(json).unwrap(), decision);
    }
}
