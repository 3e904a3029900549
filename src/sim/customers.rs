//! How simulated customers order, shared by the live simulator and the headless one: when
//! the next order comes, what goes in the basket, and where it is delivered.

use rand::Rng;

use crate::config::Between;
use crate::domain::store::Store;
use crate::domain::{GeoPoint, ItemId};

/// Seconds to the next order of a Poisson process at `per_minute` orders a minute (capped
/// at an hour), or `None` when nobody orders.
pub fn next_arrival_secs(per_minute: f64, rng: &mut impl Rng) -> Option<f64> {
    if !(per_minute.is_finite() && per_minute > 0.0) {
        return None;
    }
    let uniform: f64 = rng.gen_range(f64::EPSILON..1.0);
    Some((-uniform.ln() * 60.0 / per_minute).min(3600.0))
}

/// One or two of the store's available dishes, one or two of each; `None` when nothing is
/// available.
pub fn basket(store: &Store, rng: &mut impl Rng) -> Option<Vec<(ItemId, u32)>> {
    let available: Vec<ItemId> = store.menu.values().filter(|item| item.available).map(|item| item.id).collect();
    if available.is_empty() {
        return None;
    }
    let mut items: Vec<(ItemId, u32)> = Vec::new();
    for _ in 0..rng.gen_range(1..=2) {
        let item = available[rng.gen_range(0..available.len())];
        if !items.iter().any(|(chosen, _)| *chosen == item) {
            items.push((item, rng.gen_range(1..=2)));
        }
    }
    Some(items)
}

/// A drop-off `distance_m` from the store in a random direction, inside its delivery radius.
pub fn dropoff_near(store: &Store, distance_m: Between, rng: &mut impl Rng) -> GeoPoint {
    let reach = f64::from(store.delivery_radius_m) * 0.95;
    let distance = distance_m.sample(rng).min(reach);
    let angle = rng.gen_range(0.0..std::f64::consts::TAU);
    store.location.offset_m(angle.sin() * distance, angle.cos() * distance)
}
