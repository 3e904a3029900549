//! The space the matcher works in. Live dispatch runs on WGS84 positions; the replay of
//! published benchmark days runs on planar coordinates in metres. The index, the candidate
//! search and the batch solver only need two things from a point: a distance in metres and
//! local planar coordinates for the R-tree, so they are written once against this trait.

use crate::domain::GeoPoint;

/// A position the matcher can index and measure.
pub trait Position: Copy + std::fmt::Debug + PartialEq {
    /// Distance to `other` in metres.
    fn distance_m(&self, other: &Self) -> f64;

    /// What a projection needs to know about the first point seen, worked out once.
    type Frame: Copy + std::fmt::Debug;

    /// The local frame around this point.
    fn frame(&self) -> Self::Frame;

    /// Coordinates in metres on a plane in `frame`. Nearest-neighbour order on this plane
    /// must agree with `distance_m` at city scale.
    fn to_plane(&self, frame: &Self::Frame) -> [f64; 2];

    /// A key equal for equal points, to group jobs that share a pickup.
    fn key(&self) -> (u64, u64);
}

const M_PER_DEG: f64 = 111_320.0;

impl Position for GeoPoint {
    fn distance_m(&self, other: &Self) -> f64 {
        GeoPoint::distance_m(self, other)
    }

    /// The cosine of the frame's latitude.
    type Frame = f64;

    fn frame(&self) -> f64 {
        self.lat().to_radians().cos().max(0.01)
    }

    /// Equirectangular around the frame's latitude: right to a fraction of a percent
    /// across a city.
    fn to_plane(&self, cos_lat: &f64) -> [f64; 2] {
        [self.lon() * cos_lat * M_PER_DEG, self.lat() * M_PER_DEG]
    }

    fn key(&self) -> (u64, u64) {
        (self.lat().to_bits(), self.lon().to_bits())
    }
}

/// A point on a flat map, in metres (the benchmark instances are laid out this way).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PlanarPoint {
    pub x: f64,
    pub y: f64,
}

impl PlanarPoint {
    pub fn new(x: f64, y: f64) -> Self {
        PlanarPoint { x, y }
    }
}

impl Position for PlanarPoint {
    fn distance_m(&self, other: &Self) -> f64 {
        (self.x - other.x).hypot(self.y - other.y)
    }

    /// The plane is the map itself.
    type Frame = ();

    fn frame(&self) {}

    fn to_plane(&self, _: &()) -> [f64; 2] {
        [self.x, self.y]
    }

    fn key(&self) -> (u64, u64) {
        (self.x.to_bits(), self.y.to_bits())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn planar_distance_is_euclidean() {
        let (a, b) = (PlanarPoint::new(0.0, 0.0), PlanarPoint::new(300.0, 400.0));
        assert_eq!(Position::distance_m(&a, &b), 500.0);
        assert_eq!(b.to_plane(&a.frame()), [300.0, 400.0]);
    }

    #[test]
    fn geo_plane_agrees_with_haversine_at_city_scale() {
        let origin = GeoPoint::new(37.5665, 126.978).unwrap();
        let p = origin.offset_m(1200.0, -900.0);
        let frame = origin.frame();
        let (o, q) = (origin.to_plane(&frame), p.to_plane(&frame));
        let planar = (o[0] - q[0]).hypot(o[1] - q[1]);
        assert!((planar - Position::distance_m(&origin, &p)).abs() < 5.0);
    }
}
