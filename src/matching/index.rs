//! An R-tree of available riders, kept current from location pings and availability
//! changes, answering "nearest eligible rider to this point".

use std::collections::HashMap;

use rstar::primitives::GeomWithData;
use rstar::RTree;

use crate::domain::{GeoPoint, RiderId};

type Entry = GeomWithData<[f64; 2], RiderId>;

const M_PER_DEG: f64 = 111_320.0;

/// Riders who may be offered a job, by position. Points are projected to local metres
/// (equirectangular around the first point seen), which keeps nearest-neighbour order
/// right at city scale; exact distances use the haversine formula.
#[derive(Default)]
pub struct RiderIndex {
    tree: RTree<Entry>,
    projected: HashMap<RiderId, [f64; 2]>,
    cos_ref_lat: Option<f64>,
}

impl RiderIndex {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn len(&self) -> usize {
        self.projected.len()
    }

    pub fn is_empty(&self) -> bool {
        self.projected.is_empty()
    }

    pub fn contains(&self, rider: RiderId) -> bool {
        self.projected.contains_key(&rider)
    }

    fn project_with(cos_ref_lat: f64, point: &GeoPoint) -> [f64; 2] {
        [point.lon() * cos_ref_lat * M_PER_DEG, point.lat() * M_PER_DEG]
    }

    /// Insert a rider or move it.
    pub fn upsert(&mut self, rider: RiderId, point: &GeoPoint) {
        let cos = *self.cos_ref_lat.get_or_insert_with(|| point.lat().to_radians().cos().max(0.01));
        let xy = Self::project_with(cos, point);
        if let Some(old) = self.projected.insert(rider, xy) {
            if old == xy {
                return;
            }
            self.tree.remove(&GeomWithData::new(old, rider));
        }
        self.tree.insert(GeomWithData::new(xy, rider));
    }

    pub fn remove(&mut self, rider: RiderId) {
        if let Some(xy) = self.projected.remove(&rider) {
            self.tree.remove(&GeomWithData::new(xy, rider));
        }
    }

    /// Up to `k` riders that `eligible` accepts, nearest first, within `radius_m` of
    /// `point`, with their distances in metres.
    pub fn k_nearest(
        &self,
        point: &GeoPoint,
        k: usize,
        radius_m: f64,
        mut eligible: impl FnMut(RiderId) -> bool,
    ) -> Vec<(RiderId, f64)> {
        let Some(cos) = self.cos_ref_lat else { return Vec::new() };
        let q = Self::project_with(cos, point);
        let radius_sq = radius_m * radius_m;
        self.tree
            .nearest_neighbor_iter_with_distance_2(&q)
            .take_while(|(_, d2)| *d2 <= radius_sq)
            .filter(|(entry, _)| eligible(entry.data))
            .take(k)
            .map(|(entry, d2)| (entry.data, d2.sqrt()))
            .collect()
    }

    /// The nearest rider within `radius_m` of `point` that `eligible` accepts.
    pub fn nearest(&self, point: &GeoPoint, radius_m: f64, eligible: impl FnMut(RiderId) -> bool) -> Option<RiderId> {
        self.k_nearest(point, 1, radius_m, eligible).first().map(|(rider, _)| *rider)
    }

    /// Build from many riders at once (bulk loading packs the tree better than inserts).
    pub fn bulk(riders: impl IntoIterator<Item = (RiderId, GeoPoint)>) -> Self {
        let mut index = RiderIndex::new();
        for (rider, point) in riders {
            let cos = *index.cos_ref_lat.get_or_insert_with(|| point.lat().to_radians().cos().max(0.01));
            index.projected.insert(rider, Self::project_with(cos, &point));
        }
        let entries = index.projected.iter().map(|(rider, xy)| GeomWithData::new(*xy, *rider)).collect();
        index.tree = RTree::bulk_load(entries);
        index
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_skips_ineligible_and_far_riders() {
        let centre = GeoPoint::new(37.5665, 126.978).unwrap();
        let (a, b, c) = (RiderId::random(), RiderId::random(), RiderId::random());
        let mut index = RiderIndex::new();
        index.upsert(a, &centre.offset_m(100.0, 0.0));
        index.upsert(b, &centre.offset_m(0.0, 300.0));
        index.upsert(c, &centre.offset_m(9000.0, 0.0));
        assert_eq!(index.nearest(&centre, 5000.0, |_| true), Some(a));
        assert_eq!(index.nearest(&centre, 5000.0, |r| r != a), Some(b));
        assert_eq!(index.nearest(&centre, 5000.0, |r| r == c), None);
        index.upsert(a, &centre.offset_m(2000.0, 0.0));
        assert_eq!(index.nearest(&centre, 5000.0, |_| true), Some(b));
        index.remove(b);
        assert_eq!(index.nearest(&centre, 5000.0, |_| true), Some(a));
        assert_eq!(index.len(), 2);
    }
}
