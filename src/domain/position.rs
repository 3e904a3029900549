//! Positions on the earth, validated at the edge so the rest of the code can trust them.

use chrono::{DateTime, Utc};
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

/// Exactly `lat` and `lon`: a misspelt or extra field is refused rather than ignored.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
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

    /// The coordinate [`GeoPoint::new`] refuses first for this latitude: `lat` when the
    /// latitude itself is out of range or not a number, else `lon`.
    pub fn refused_field(lat: f64) -> &'static str {
        if lat.is_finite() && (-90.0..=90.0).contains(&lat) {
            "lon"
        } else {
            "lat"
        }
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

/// How far a rider's own word about where it is may be trusted.
///
/// The server keeps the rider's pings; a command that depends on where the rider is (a
/// pickup at the store, a delivery at the door) is judged by that track, never by a
/// position the command merely asserts. A position sent with the command may refine the last
/// ping (a fix taken at the door), but only within what the rider could have travelled
/// since that ping, plus GPS noise.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TrackRules {
    pub max_speed_mps: f64,
    /// The last ping must be at most this old.
    pub max_age_secs: f64,
    /// GPS error allowed on top of travel.
    pub noise_m: f64,
}

#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum TrackError {
    #[error("no position from the rider in the last {max_age_secs:.0} s: send a location ping first")]
    NoRecentPing { max_age_secs: f64 },
    #[error(
        "the position sent is {distance_m:.0} m from the rider's last ping; at most {allowed_m:.0} m is plausible"
    )]
    Implausible { distance_m: f64, allowed_m: f64 },
}

impl TrackRules {
    /// Where the rider is, as of `now`: the last ping (`last`), or `sent` if it agrees with it.
    pub fn judge(
        &self,
        last: Option<(GeoPoint, DateTime<Utc>)>,
        sent: Option<GeoPoint>,
        now: DateTime<Utc>,
    ) -> Result<GeoPoint, TrackError> {
        let stale = TrackError::NoRecentPing { max_age_secs: self.max_age_secs };
        let (pinged, at) = last.ok_or(stale.clone())?;
        let age_secs = ((now - at).num_milliseconds() as f64 / 1000.0).max(0.0);
        if age_secs > self.max_age_secs {
            return Err(stale);
        }
        let Some(sent) = sent else { return Ok(pinged) };
        let distance_m = sent.distance_m(&pinged);
        let allowed_m = self.noise_m + self.max_speed_mps * age_secs;
        if distance_m > allowed_m {
            return Err(TrackError::Implausible { distance_m, allowed_m });
        }
        Ok(sent)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn out_of_range_points_are_refused() {
        assert!(GeoPoint::new(91.0, 0.0).is_err());
        assert!(GeoPoint::new(0.0, f64::NAN).is_err());
        assert_eq!(GeoPoint::refused_field(f64::NAN), "lat");
        assert_eq!(GeoPoint::refused_field(95.0), "lat");
        assert_eq!(GeoPoint::refused_field(45.0), "lon");
        assert!(serde_json::from_str::<GeoPoint>(r#"{"lat": 100, "lon": 1}"#).is_err());
        assert!(serde_json::from_str::<GeoPoint>(r#"{"lat": 1, "lon": 1, "alt": 5}"#).is_err());
    }

    #[test]
    fn distance_matches_offsets() {
        let a = GeoPoint::new(37.5665, 126.978).unwrap();
        let b = a.offset_m(1000.0, 0.0);
        assert!((a.distance_m(&b) - 1000.0).abs() < 5.0);
        let c = a.offset_m(0.0, 2000.0);
        assert!((a.distance_m(&c) - 2000.0).abs() < 10.0);
    }

    #[test]
    fn a_sent_position_must_agree_with_the_track() {
        let rules = TrackRules { max_speed_mps: 20.0, max_age_secs: 120.0, noise_m: 50.0 };
        let now = Utc::now();
        let door = GeoPoint::new(37.5765, 126.978).unwrap();
        let far = door.offset_m(16_000.0, 0.0);
        // Pinged 16 km away ten seconds ago, then claims the door: refused.
        let ten_ago = now - chrono::Duration::seconds(10);
        assert!(matches!(rules.judge(Some((far, ten_ago)), Some(door), now), Err(TrackError::Implausible { .. })));
        // Pinged 100 m away ten seconds ago: the door is within reach.
        assert_eq!(rules.judge(Some((door.offset_m(100.0, 0.0), ten_ago)), Some(door), now), Ok(door));
        // Nothing sent: the ping is the position.
        assert_eq!(rules.judge(Some((far, ten_ago)), None, now), Ok(far));
        // No ping, or one too old, proves nothing.
        assert!(matches!(rules.judge(None, Some(door), now), Err(TrackError::NoRecentPing { .. })));
        let old = now - chrono::Duration::seconds(600);
        assert!(matches!(rules.judge(Some((door, old)), Some(door), now), Err(TrackError::NoRecentPing { .. })));
    }
}
