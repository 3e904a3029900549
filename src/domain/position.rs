//! Positions on the earth, validated at the edge so the rest of the code can trust them.

use geo::{Distance, Haversine, Point};
use serde::{Deserialize, Serialize};

use super::ids::InvalidValue;

/// A WGS84 position. Only built through [`GeoPoint::new`], so latitude and longitude are
/// always finite and in range.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "RawPoint")]
pub struct GeoPoint {
    lat: f64,
    lon: f64,
}

#[derive(Deserialize)]
struct RawPoint {
    lat: f64,
    lon: f64,
}

impl TryFrom<RawPoint> for GeoPoint {
    type Error = InvalidValue;
    fn try_from(raw: RawPoint) -> Result<Self, Self::Error> {
        GeoPoint::new(raw.lat, raw.lon)
    }
}

impl GeoPoint {
    pub fn new(lat: f64, lon: f64) -> Result<Self, InvalidValue> {
        if !lat.is_finite() || !(-90.0..=90.0).contains(&lat) {
            return Err(InvalidValue::new("lat must be between -90 and 90"));
        }
        if !lon.is_finite() || !(-180.0..=180.0).contains(&lon) {
            return Err(InvalidValue::new("lon must be between -180 and 180"));
        }
        Ok(Self { lat, lon })
    }

    pub fn lat(&self) -> f64 {
        self.lat
    }

    pub fn lon(&self) -> f64 {
        self.lon
    }

    /// Great-circle distance in metres.
    pub fn distance_m(&self, other: &GeoPoint) -> f64 {
        Haversine::distance(Point::new(self.lon, self.lat), Point::new(other.lon, other.lat))
    }

    /// The point `north_m` metres north and `east_m` metres east of this one (a flat-earth
    /// approximation, fine at city scale). Used to lay out the demo city.
    pub fn offset_m(&self, north_m: f64, east_m: f64) -> GeoPoint {
        const M_PER_DEG: f64 = 111_320.0;
        let lat = (self.lat + north_m / M_PER_DEG).clamp(-90.0, 90.0);
        let lon_scale = (self.lat.to_radians().cos() * M_PER_DEG).max(1.0);
        let lon = (self.lon + east_m / lon_scale).clamp(-180.0, 180.0);
        GeoPoint { lat, lon }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn out_of_range_points_are_refused() {
        assert!(GeoPoint::new(91.0, 0.0).is_err());
        assert!(GeoPoint::new(0.0, f64::NAN).is_err());
        assert!(serde_json::from_str::<GeoPoint>(r#"{"lat": 100, "lon": 1}"#).is_err());
    }

    #[test]
    fn distance_matches_offsets() {
        let a = GeoPoint::new(37.5665, 126.978).unwrap();
        let b = a.offset_m(1000.0, 0.0);
        assert!((a.distance_m(&b) - 1000.0).abs() < 5.0);
        let c = a.offset_m(0.0, 2000.0);
        assert!((a.distance_m(&c) - 2000.0).abs() < 10.0);
    }
}
