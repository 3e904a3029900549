//! Riding along a straight line, one step at a time: what the simulated riders do between
//! two location pings.

use crate::domain::GeoPoint;

/// Where a rider at `from` heading for `to` is after riding `metres`, and whether it has
/// arrived. Straight lines are fine at city scale (a few kilometres).
pub fn step_towards(from: GeoPoint, to: GeoPoint, metres: f64) -> (GeoPoint, bool) {
    let left = from.distance_m(&to);
    if left <= metres.max(0.0) || left < 1.0 {
        return (to, true);
    }
    let share = metres.max(0.0) / left;
    let lat = from.lat() + (to.lat() - from.lat()) * share;
    let lon = from.lon() + (to.lon() - from.lon()) * share;
    // Between two valid points, so in range; fall back to the start should rounding disagree.
    (GeoPoint::new(lat, lon).unwrap_or(from), false)
}

/// Metres per second from km/h.
pub fn metres_per_sec(kmh: f64) -> f64 {
    kmh * 1000.0 / 3600.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seoul() -> GeoPoint {
        GeoPoint::new(37.5665, 126.978).unwrap()
    }

    #[test]
    fn a_step_covers_its_distance_along_the_line() {
        let (from, to) = (seoul(), seoul().offset_m(600.0, 800.0));
        let (at, arrived) = step_towards(from, to, 250.0);
        assert!(!arrived);
        assert!((from.distance_m(&at) - 250.0).abs() < 2.0, "{}", from.distance_m(&at));
        assert!((at.distance_m(&to) - 750.0).abs() < 2.0, "{}", at.distance_m(&to));
    }

    #[test]
    fn the_last_step_stops_at_the_target() {
        let (from, to) = (seoul(), seoul().offset_m(100.0, 0.0));
        assert_eq!(step_towards(from, to, 150.0), (to, true));
        assert_eq!(step_towards(to, to, 0.0), (to, true));
    }

    #[test]
    fn twenty_km_an_hour_is_about_five_and_a_half_metres_a_second() {
        assert!((metres_per_sec(20.0) - 5.555).abs() < 0.01);
    }
}
