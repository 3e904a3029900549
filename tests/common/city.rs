//! Settings for a demo city that lives fast: the simulator's timings shortened so that a
//! whole order cycle (placed, accepted, cooked, picked up, delivered) takes seconds.

pub const FAST_CITY: &[(&str, &str)] = &[
    ("BAEDAL__DEMO__ENABLED", "true"),
    ("BAEDAL__SIMULATOR__ENABLED", "true"),
    // The city as `cargo run` shows it: riders sent to arrive as the food is ready.
    ("BAEDAL__DISPATCH__RELEASE", "before_ready"),
    ("BAEDAL__SIMULATOR__ORDERS_PER_MINUTE", "60"),
    ("BAEDAL__SIMULATOR__STORE_ANSWER_SECS__MIN", "0.3"),
    ("BAEDAL__SIMULATOR__STORE_ANSWER_SECS__MAX", "1"),
    ("BAEDAL__SIMULATOR__COOK_SECS__MIN", "2"),
    ("BAEDAL__SIMULATOR__COOK_SECS__MAX", "4"),
    ("BAEDAL__SIMULATOR__RIDER_ANSWER_SECS__MIN", "0.3"),
    ("BAEDAL__SIMULATOR__RIDER_ANSWER_SECS__MAX", "1"),
    ("BAEDAL__SIMULATOR__RIDER_SPEED_KMH__MIN", "250"),
    ("BAEDAL__SIMULATOR__RIDER_SPEED_KMH__MAX", "300"),
    ("BAEDAL__SIMULATOR__DELIVERY_DISTANCE_M__MIN", "300"),
    ("BAEDAL__SIMULATOR__DELIVERY_DISTANCE_M__MAX", "700"),
    ("BAEDAL__SIMULATOR__PING_MS", "500"),
];
