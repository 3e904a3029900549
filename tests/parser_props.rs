//! Property tests of the two parsers that read what clients send: JSON request bodies
//! (`http::extract::parse`) and websocket command frames (`http::ws::commands::parse`).
//!
//! Whatever arrives (arbitrary bytes, arbitrary JSON, valid commands with one thing broken),
//! the parser never panics and answers either with the value or with a 4xx error in the one
//! error shape: 400 `malformed_json` for text that is not JSON, 422 naming the field at fault
//! for JSON that does not fit. Valid commands come back as they were sent.
//!
//! `PROPTEST_CASES` raises the number of cases per property (256 by default).

#[path = "common/junk.rs"]
mod junk;

use actix_web::ResponseError;
use proptest::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use baedal::auth::Role;
use baedal::domain::GeoPoint;
use baedal::http::extract;
use baedal::http::ws::commands::{self, Command};
use baedal::http::ws::protocol::{CustomerCommand, RiderCommand, StoreCommand};
use baedal::http::ApiError;
use junk::any_json;

// ---------------------------------------------------------------------------------------
// Generators

/// What a command field holds, and so what a valid value for it looks like.
#[derive(Clone, Copy, Debug)]
enum Kind {
    RequestId,
    OrderId,
    PrepMinutes,
    Reason,
    Degrees(f64),
    Position,
    OptionalPosition,
    OptionalTime,
}

impl Kind {
    fn required(self) -> bool {
        !matches!(self, Kind::RequestId | Kind::OptionalPosition | Kind::OptionalTime)
    }

    fn valid(self) -> BoxedStrategy<Value> {
        let point = (-90.0..=90.0f64, -180.0..=180.0f64).prop_map(|(lat, lon)| json!({"lat": lat, "lon": lon}));
        match self {
            Kind::RequestId => prop_oneof![Just(Value::Null), any::<String>().prop_map(Value::String)].boxed(),
            Kind::OrderId => any::<u128>().prop_map(|n| Value::String(uuid::Uuid::from_u128(n).to_string())).boxed(),
            Kind::PrepMinutes => any::<u32>().prop_map(Value::from).boxed(),
            Kind::Reason => any::<String>().prop_map(Value::String).boxed(),
            Kind::Degrees(limit) => (-limit..=limit).prop_map(Value::from).boxed(),
            Kind::Position => point.boxed(),
            Kind::OptionalPosition => prop_oneof![Just(Value::Null), point].boxed(),
            Kind::OptionalTime => prop_oneof![
                Just(Value::Null),
                (0i64..4_000_000_000).prop_map(|secs| {
                    let at = chrono::DateTime::<chrono::Utc>::from_timestamp(secs, 0).unwrap_or_default();
                    Value::String(at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
                })
            ]
            .boxed(),
        }
    }
}

/// Every command a role may send: its `type` and its fields.
fn commands_of(role: Role) -> &'static [(&'static str, &'static [(&'static str, Kind)])] {
    use Kind::*;
    const ORDER: &[(&str, Kind)] = &[("request_id", RequestId), ("order_id", OrderId)];
    match role {
        Role::Customer => &[("cancel", ORDER)],
        Role::Store => &[
            ("accept", &[("request_id", RequestId), ("order_id", OrderId), ("prep_minutes", PrepMinutes)]),
            ("reject", &[("request_id", RequestId), ("order_id", OrderId), ("reason", Reason)]),
            ("ready", ORDER),
            ("cancel", &[("request_id", RequestId), ("order_id", OrderId), ("reason", Reason)]),
        ],
        Role::Rider => &[
            ("location", &[("lat", Degrees(90.0)), ("lon", Degrees(180.0))]),
            ("online", &[("request_id", RequestId), ("position", Position), ("shift_ends_at", OptionalTime)]),
            ("offline", &[("request_id", RequestId)]),
            ("accept_trip", &[("request_id", RequestId)]),
            ("decline_trip", &[("request_id", RequestId)]),
            ("accept_offer", ORDER),
            ("decline_offer", ORDER),
            ("pick_up", ORDER),
            ("deliver", &[("request_id", RequestId), ("order_id", OrderId), ("position", OptionalPosition)]),
        ],
        Role::Operator => &[],
    }
}

fn commanding_role() -> impl Strategy<Value = Role> {
    prop_oneof![Just(Role::Customer), Just(Role::Store), Just(Role::Rider)]
}

/// A valid command of `role` as the JSON object a client sends, with its field table.
fn valid_command(role: Role) -> impl Strategy<Value = (Map<String, Value>, &'static [(&'static str, Kind)])> {
    let table = commands_of(role);
    (0..table.len()).prop_flat_map(move |i| {
        let (kind, fields) = table[i];
        let values: Vec<BoxedStrategy<Value>> = fields.iter().map(|(_, k)| k.valid()).collect();
        (values, prop::collection::vec(any::<bool>(), fields.len())).prop_map(move |(values, keep)| {
            let mut object = Map::new();
            object.insert("type".into(), Value::String(kind.into()));
            for (((name, k), value), keep) in fields.iter().zip(values).zip(keep) {
                // Optional fields are sometimes left out altogether rather than sent as null.
                if k.required() || keep {
                    object.insert((*name).into(), value);
                }
            }
            (object, fields)
        })
    })
}

// ---------------------------------------------------------------------------------------
// What every answer must look like

/// The contract for a refusal: a 4xx in the one error shape; 400 only for text that is not
/// JSON (or a role that sends nothing), and a 422 names the field at fault.
fn check_refusal(error: &ApiError) -> Result<(), TestCaseError> {
    let status = error.status.as_u16();
    prop_assert_eq!(error.error_response().status().as_u16(), status);
    match status {
        400 => prop_assert!(
            matches!(error.body.code, "malformed_json" | "unsupported_command"),
            "400 with code {}",
            error.body.code
        ),
        422 => {
            let field = error.body.field.as_deref().unwrap_or_default();
            prop_assert!(!field.is_empty(), "422 without a field: {}", error.body.message);
        }
        other => prop_assert!(false, "unexpected status {other}: {error:?}"),
    }
    prop_assert!(!error.body.message.is_empty());
    Ok(())
}

fn field(error: &ApiError) -> &str {
    error.body.field.as_deref().unwrap_or_default()
}

/// Whether `named` points at `field` or inside it (`position` or `position.lat`).
fn names(named: &str, field: &str) -> bool {
    named == field || named.strip_prefix(field).is_some_and(|rest| rest.starts_with(['.', '[']))
}

/// A parsed command written back as the JSON a client would send for it.
fn echo(command: &Command) -> Value {
    let point = |p: &GeoPoint| json!({"lat": p.lat(), "lon": p.lon()});
    let (kind, fields) = match command {
        Command::Customer(CustomerCommand::Cancel { request_id, order_id }) => {
            ("cancel", json!({"request_id": request_id, "order_id": order_id}))
        }
        Command::Store(StoreCommand::Accept { request_id, order_id, prep_minutes }) => {
            ("accept", json!({"request_id": request_id, "order_id": order_id, "prep_minutes": prep_minutes}))
        }
        Command::Store(StoreCommand::Reject { request_id, order_id, reason }) => {
            ("reject", json!({"request_id": request_id, "order_id": order_id, "reason": reason}))
        }
        Command::Store(StoreCommand::Ready { request_id, order_id }) => {
            ("ready", json!({"request_id": request_id, "order_id": order_id}))
        }
        Command::Store(StoreCommand::Cancel { request_id, order_id, reason }) => {
            ("cancel", json!({"request_id": request_id, "order_id": order_id, "reason": reason}))
        }
        Command::Rider(RiderCommand::Location { lat, lon }) => ("location", json!({"lat": lat, "lon": lon})),
        Command::Rider(RiderCommand::Online { request_id, position, shift_ends_at }) => (
            "online",
            json!({
                "request_id": request_id,
                "position": point(position),
                "shift_ends_at": shift_ends_at.map(|at| at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
            }),
        ),
        Command::Rider(RiderCommand::Offline { request_id }) => ("offline", json!({"request_id": request_id})),
        Command::Rider(RiderCommand::AcceptTrip { request_id }) => ("accept_trip", json!({"request_id": request_id})),
        Command::Rider(RiderCommand::DeclineTrip { request_id }) => ("decline_trip", json!({"request_id": request_id})),
        Command::Rider(RiderCommand::AcceptOffer { request_id, order_id }) => {
            ("accept_offer", json!({"request_id": request_id, "order_id": order_id}))
        }
        Command::Rider(RiderCommand::DeclineOffer { request_id, order_id }) => {
            ("decline_offer", json!({"request_id": request_id, "order_id": order_id}))
        }
        Command::Rider(RiderCommand::PickUp { request_id, order_id }) => {
            ("pick_up", json!({"request_id": request_id, "order_id": order_id}))
        }
        Command::Rider(RiderCommand::Deliver { request_id, order_id, position }) => (
            "deliver",
            json!({"request_id": request_id, "order_id": order_id, "position": position.as_ref().map(point)}),
        ),
    };
    let mut object = fields.as_object().cloned().unwrap_or_default();
    object.insert("type".into(), kind.into());
    Value::Object(object)
}

/// JSON equality where an absent field equals `null` and numbers compare as numbers, to the
/// last bit or so (serde_json's default float parsing may round the last bit differently).
fn same(sent: &Value, back: &Value) -> bool {
    match (sent, back) {
        (Value::Object(a), Value::Object(b)) => {
            a.keys().chain(b.keys()).all(|k| same(a.get(k).unwrap_or(&Value::Null), b.get(k).unwrap_or(&Value::Null)))
        }
        (Value::Number(a), Value::Number(b)) => match (a.as_f64(), b.as_f64()) {
            (Some(a), Some(b)) => a == b || (a - b).abs() <= a.abs().max(b.abs()) * 4.0 * f64::EPSILON,
            _ => false,
        },
        (a, b) => a == b,
    }
}

// ---------------------------------------------------------------------------------------
// Websocket commands

/// One thing broken in a valid command.
#[derive(Clone, Debug)]
enum Mutation {
    /// Leave out the field at this index of the command's table.
    Drop(usize),
    /// Put this value in the field at this index.
    Replace(usize, Value),
    /// Add a field the command does not have.
    Unknown(String, Value),
    /// Change the `type` to this.
    Retag(Value),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        any::<prop::sample::Index>().prop_map(|i| Mutation::Drop(i.index(8))),
        (any::<prop::sample::Index>(), any_json()).prop_map(|(i, v)| Mutation::Replace(i.index(8), v)),
        ("[a-z_]{1,10}", any_json()).prop_map(|(k, v)| Mutation::Unknown(k, v)),
        any_json().prop_map(Mutation::Retag),
    ]
}

proptest! {
    #[test]
    fn any_text_is_a_command_or_a_refusal(role in prop_oneof![commanding_role(), Just(Role::Operator)], text in any::<String>()) {
        if let Err(error) = commands::parse(role, &text) {
            check_refusal(&error)?;
        }
        let _ = commands::request_id(&text);
    }

    #[test]
    fn any_json_is_a_command_or_a_refusal_naming_a_field(role in commanding_role(), value in any_json()) {
        match commands::parse(role, &value.to_string()) {
            Ok(command) => prop_assert!(same(&value, &echo(&command)), "{value} parsed as {command:?}"),
            Err(error) => {
                check_refusal(&error)?;
                prop_assert_eq!(error.status.as_u16(), 422, "valid JSON is never malformed: {}", value);
            }
        }
    }

    #[test]
    fn valid_commands_round_trip((role, (command, _)) in commanding_role().prop_flat_map(|r| (Just(r), valid_command(r)))) {
        let sent = Value::Object(command);
        let parsed = commands::parse(role, &sent.to_string());
        prop_assert!(parsed.is_ok(), "{sent} refused: {:?}", parsed.err());
        let back = echo(&parsed.unwrap());
        prop_assert!(same(&sent, &back), "sent {sent}, parsed back as {back}");
    }

    #[test]
    fn a_broken_command_is_refused_naming_what_broke(
        (role, (mut command, table)) in commanding_role().prop_flat_map(|r| (Just(r), valid_command(r))),
        mutation in mutation(),
    ) {
        // What the parser must name when it refuses; `None`: it must accept.
        let blame: Option<String> = match &mutation {
            Mutation::Drop(i) if !table.is_empty() => {
                let (name, k) = table[i % table.len()];
                command.remove(name);
                k.required().then(|| name.to_owned())
            }
            Mutation::Replace(i, value) if !table.is_empty() => {
                let (name, _) = table[i % table.len()];
                command.insert(name.into(), value.clone());
                Some(name.to_owned())
            }
            Mutation::Unknown(key, value) if !table.iter().any(|(name, _)| name == key) && key != "type" => {
                command.insert(key.clone(), value.clone());
                Some(key.clone())
            }
            // A `type` naming another command of the role is not a broken tag.
            Mutation::Retag(value) if !value.as_str().is_some_and(|t| commands_of(role).iter().any(|(k, _)| *k == t)) => {
                command.insert("type".into(), value.clone());
                Some("type".to_owned())
            }
            _ => None,
        };
        let sent = Value::Object(command);
        match (commands::parse(role, &sent.to_string()), blame) {
            (Ok(command), _) => {
                let back = echo(&command);
                prop_assert!(same(&sent, &back), "sent {sent}, parsed back as {back}");
            }
            (Err(error), None) => prop_assert!(false, "{sent} refused: {error:?}"),
            (Err(error), Some(blame)) => {
                check_refusal(&error)?;
                prop_assert!(names(field(&error), &blame), "{sent}: blamed `{}`, not `{blame}`", field(&error));
            }
        }
    }

    #[test]
    fn mangled_command_bytes_are_refused_cleanly(
        (role, (command, _)) in commanding_role().prop_flat_map(|r| (Just(r), valid_command(r))),
        cuts in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
    ) {
        let mut bytes = Value::Object(command).to_string().into_bytes();
        for (at, byte) in cuts {
            let i = at.index(bytes.len());
            if byte % 2 == 0 { bytes[i] = byte; } else { bytes.insert(i, byte); }
        }
        let text = String::from_utf8_lossy(&bytes);
        if let Err(error) = commands::parse(role, &text) {
            check_refusal(&error)?;
        }
    }
}

#[test]
fn operators_send_no_commands() {
    let error = commands::parse(Role::Operator, r#"{"type": "cancel", "order_id": "x"}"#).unwrap_err();
    assert_eq!((error.status.as_u16(), error.body.code), (400, "unsupported_command"));
}

// ---------------------------------------------------------------------------------------
// REST bodies

/// A body with the kinds of field the API's request bodies have: strings, numbers with a
/// range, a validated point, a list of nested objects, an optional field.
#[derive(Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Body {
    name: String,
    count: u32,
    position: GeoPoint,
    lines: Vec<Line>,
    #[serde(default)]
    note: Option<String>,
}

#[derive(Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Line {
    item: uuid::Uuid,
    quantity: u8,
}

const BODY_FIELDS: &[&str] = &["name", "count", "position", "lines", "note"];

fn valid_body() -> impl Strategy<Value = Body> {
    let line =
        (any::<u128>(), any::<u8>()).prop_map(|(id, quantity)| Line { item: uuid::Uuid::from_u128(id), quantity });
    (
        any::<String>(),
        any::<u32>(),
        (-90.0..=90.0f64, -180.0..=180.0f64),
        prop::collection::vec(line, 0..4),
        prop::option::of(any::<String>()),
    )
        .prop_map(|(name, count, (lat, lon), lines, note)| Body {
            name,
            count,
            position: GeoPoint::new(lat, lon).unwrap(),
            lines,
            note,
        })
}

proptest! {
    #[test]
    fn any_bytes_are_a_body_or_a_refusal(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        if let Err(error) = extract::parse::<Body>(&bytes) {
            check_refusal(&error)?;
        }
    }

    #[test]
    fn any_json_body_is_accepted_or_refused_naming_a_field(value in any_json()) {
        match extract::parse::<Body>(value.to_string().as_bytes()) {
            Ok(body) => prop_assert!(same(&value, &serde_json::to_value(&body).unwrap())),
            Err(error) => {
                check_refusal(&error)?;
                prop_assert_eq!(error.status.as_u16(), 422, "valid JSON is never malformed: {}", value);
                let named = field(&error);
                let known = BODY_FIELDS.iter().any(|f| names(named, f));
                let stray = value.as_object().is_some_and(|o| o.contains_key(named));
                prop_assert!(known || stray || named == "body", "{value}: named `{named}`");
            }
        }
    }

    #[test]
    fn valid_bodies_round_trip(body in valid_body()) {
        let text = serde_json::to_vec(&body).unwrap();
        let parsed = extract::parse::<Body>(&text);
        prop_assert!(parsed.is_ok(), "{:?}", parsed.err());
        let parsed = parsed.unwrap();
        prop_assert_eq!(&parsed.name, &body.name);
        prop_assert_eq!(parsed.count, body.count);
        prop_assert_eq!(&parsed.lines, &body.lines);
        prop_assert_eq!(&parsed.note, &body.note);
        prop_assert!((parsed.position.lat() - body.position.lat()).abs() < 1e-9);
        prop_assert!((parsed.position.lon() - body.position.lon()).abs() < 1e-9);
    }

    #[test]
    fn a_broken_body_is_refused_naming_the_field(body in valid_body(), which in 0..4usize, junk in any_json()) {
        let mut value = serde_json::to_value(&body).unwrap();
        let name = BODY_FIELDS[which];
        value[name] = junk;
        match extract::parse::<Body>(value.to_string().as_bytes()) {
            Ok(_) => {}
            Err(error) => {
                check_refusal(&error)?;
                prop_assert!(names(field(&error), name), "{value}: named `{}`, not `{name}`", field(&error));
            }
        }
    }

    #[test]
    fn an_unknown_field_is_named(body in valid_body(), key in "[a-z]{1,8}", junk in any_json()) {
        prop_assume!(!BODY_FIELDS.contains(&key.as_str()));
        let mut value = serde_json::to_value(&body).unwrap();
        value[key.as_str()] = junk;
        let error = extract::parse::<Body>(value.to_string().as_bytes()).unwrap_err();
        check_refusal(&error)?;
        prop_assert_eq!(field(&error), key.as_str());
    }
}
