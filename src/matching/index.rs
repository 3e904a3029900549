//! An R-tree of available riders, kept current from location pings and availability
//! changes, answering "nearest eligible rider to this point".

use std::collections::HashMap;

use rstar::primitives::GeomWithData;
use rstar::RTree;

use crate::domain::{GeoPoint, RiderId};

use super::space::Position;

type Entry = GeomWithData<[f64; 2], RiderId>;

/// Riders who may be offered a job, by position. Points are projected to local metres
/// around the first point seen (see [`Position::to_plane`]), which keeps nearest-neighbour
/// order right at city scale.
#[derive(Clone)]
pub struct RiderIndex<P: Position = GeoPoint> {
    tree: RTree<Entry>,
    projected: HashMap<RiderId, [f64; 2]>,
    frame: Option<P::Frame>,
}

impl<P: Position> Default for RiderIndex<P> {
    fn default() -> Self {
        RiderIndex { tree: RTree::new(), projected: HashMap::new(), frame: None }
    }
}

impl<P: Position> RiderIndex<P> {
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

    /// Insert a rider or move it.
    pub fn upsert(&mut self, rider: RiderId, point: &P) {
        let xy = point.to_plane(self.frame.get_or_insert_with(|| point.frame()));
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
        point: &P,
        k: usize,
        radius_m: f64,
        mut eligible: impl FnMut(RiderId) -> bool,
    ) -> Vec<(RiderId, f64)> {
        let Some(frame) = &self.frame else { return Vec::new() };
        let q = point.to_plane(frame);
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
    pub fn nearest(&self, point: &P, radius_m: f64, eligible: impl FnMut(RiderId) -> bool) -> Option<RiderId> {
        self.k_nearest(point, 1, radius_m, eligible).first().map(|(rider, _)| *rider)
    }

    /// Build from many riders at once (bulk loading packs the tree better than inserts).
    pub fn bulk(riders: impl IntoIterator<Item = (RiderId, P)>) -> Self {
        let mut index = RiderIndex::new();
        for (rider, point) in riders {
            let xy = point.to_plane(index.frame.get_or_insert_with(|| point.frame()));
            index.projected.insert(rider, xy);
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
        let mut index: RiderIndex = RiderIndex::new();
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

    #[test]
    fn planar_points_index_the_same_way() {
        use crate::matching::space::PlanarPoint;
        let (a, b) = (RiderId::random(), RiderId::random());
        let index = RiderIndex::bulk([(a, PlanarPoint::new(1000.0, 0.0)), (b, PlanarPoint::new(0.0, 400.0))]);
        let near = index.k_nearest(&PlanarPoint::new(0.0, 0.0), 2, 5000.0, |_| true);
        assert_eq!(near, vec![(b, 400.0), (a, 1000.0)]);
    }
}
