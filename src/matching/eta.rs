//! Travel-time estimates: straight-line distance stretched by a detour factor, at a
//! configured speed, plus fixed service times at the store and at the door.

use chrono::{DateTime, Duration, Utc};
use serde::Deserialize;

use crate::domain::order::{Courier, Eta, Kitchen, Order, Phase};
use crate::domain::GeoPoint;

#[derive(Clone, Copy, Debug, PartialEq, Deserialize, serde::Serialize)]
#[serde(default)]
pub struct SpeedModel {
    /// Average riding speed in the city.
    pub speed_kmh: f64,
    /// Road distance over straight-line distance.
    pub detour_factor: f64,
    /// Parking, walking in, handing over: at the store.
    pub pickup_service_secs: f64,
    /// The same at the customer's door.
    pub dropoff_service_secs: f64,
}

impl Default for SpeedModel {
    fn default() -> Self {
        SpeedModel { speed_kmh: 18.0, detour_factor: 1.3, pickup_service_secs: 120.0, dropoff_service_secs: 120.0 }
    }
}

impl SpeedModel {
    /// Seconds to ride `straight_m` metres as the crow flies.
    pub fn travel_secs(&self, straight_m: f64) -> f64 {
        let speed_mps = (self.speed_kmh / 3.6).max(0.1);
        straight_m.max(0.0) * self.detour_factor.max(1.0) / speed_mps
    }
}

fn secs(s: f64) -> Duration {
    Duration::milliseconds((s * 1000.0).round() as i64)
}

/// Where an order's rider is and, when the order shares the rider's trip with others, what
/// the trip's route means for it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RiderAt {
    pub position: GeoPoint,
    /// Seconds until the rider reaches this order's store along its route (other stores
    /// first, perhaps); `None`: straight there.
    pub to_store_secs: Option<f64>,
    /// Seconds the route adds to this order's ride from store to door (other doors first).
    pub detour_secs: f64,
}

impl RiderAt {
    /// A rider riding straight to this order.
    pub fn direct(position: GeoPoint) -> Self {
        RiderAt { position, to_store_secs: None, detour_secs: 0.0 }
    }
}

/// When the order should leave the store and reach the door, from where its rider is (if
/// it has one and we know) and when the kitchen will be done. `None` before the store has
/// accepted and after the order ends.
pub fn estimate(order: &Order, rider: Option<RiderAt>, now: DateTime<Utc>, speed: &SpeedModel) -> Option<Eta> {
    let detour = rider.map_or(0.0, |r| r.detour_secs.max(0.0));
    let to_door = |from: &GeoPoint| {
        secs(speed.travel_secs(from.distance_m(&order.terms.dropoff)) + speed.dropoff_service_secs + detour)
    };
    match &order.phase {
        Phase::Active { kitchen, courier, .. } => {
            let ready = match kitchen {
                Kitchen::Preparing { ready_by } => (*ready_by).max(now),
                Kitchen::Ready { .. } => now,
            };
            let rider_arrives = match (courier, rider) {
                (Courier::Offered { .. } | Courier::Assigned { .. }, Some(rider)) => {
                    let direct = || speed.travel_secs(rider.position.distance_m(&order.terms.pickup));
                    now + secs(rider.to_store_secs.unwrap_or_else(direct))
                }
                _ => ready,
            };
            let pickup_at = ready.max(rider_arrives) + secs(speed.pickup_service_secs);
            Some(Eta { pickup_at: Some(pickup_at), dropoff_at: pickup_at + to_door(&order.terms.pickup) })
        }
        Phase::PickedUp { .. } => {
            let from = rider.map_or(order.terms.pickup, |r| r.position);
            Some(Eta { pickup_at: None, dropoff_at: now + to_door(&from) })
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_kilometre_at_18_kmh_with_detour() {
        let model = SpeedModel::default();
        assert!((model.travel_secs(1000.0) - 260.0).abs() < 1e-9);
        assert_eq!(model.travel_secs(-5.0), 0.0);
    }
}
