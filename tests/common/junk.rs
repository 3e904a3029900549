//! Generators of junk input, for the property tests of the parsers and the sockets.
#![allow(dead_code)]

use proptest::prelude::*;
use serde_json::Value;

/// Any JSON value, a few levels deep, with keys and strings likely to collide with the
/// names the parsers look for.
pub fn any_json() -> impl Strategy<Value = Value> {
    let word = prop_oneof![
        "[a-z_]{0,12}",
        Just("type".to_owned()),
        Just("order_id".to_owned()),
        Just("lat".to_owned()),
        Just("position".to_owned()),
        Just("0c1d2e3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f".to_owned()),
        any::<String>(),
    ];
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_filter("JSON has no NaN or infinity", |f| f.is_finite()).prop_map(Value::from),
        word.clone().prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 32, 6, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(word.clone(), inner, 0..6).prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// A text frame a confused or hostile websocket client might send: any text, any JSON, or
/// an object with a real command `type` and arbitrary fields.
pub fn junk_frame() -> impl Strategy<Value = String> {
    let kinds = prop::sample::select(vec![
        "accept",
        "reject",
        "ready",
        "cancel",
        "location",
        "online",
        "offline",
        "accept_offer",
        "decline_offer",
        "pick_up",
        "deliver",
    ]);
    let command = (kinds, prop::collection::btree_map("[a-z_]{1,12}", any_json(), 0..4)).prop_map(|(kind, fields)| {
        let mut object: serde_json::Map<String, Value> = fields.into_iter().collect();
        object.insert("type".into(), kind.into());
        Value::Object(object).to_string()
    });
    prop_oneof![any::<String>(), any_json().prop_map(|v| v.to_string()), command]
}
