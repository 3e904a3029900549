//! Configuration: built-in defaults, then an optional TOML file (`baedal.toml`, or the path
//! in `BAEDAL_CONFIG`), then environment variables (`BAEDAL__SECTION__KEY`, and
//! `DATABASE_URL` for the database). Every default works on a bare machine.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::dispatch::TripSettings;
use crate::http::limits::LimitSettings;
use crate::matching::SpeedModel;
use crate::payment::SandboxSettings;
use crate::persistence::GroupCommitSettings;

#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct Settings {
    pub server: ServerSettings,
    pub database: DatabaseSettings,
    pub orders: OrderSettings,
    pub dispatch: DispatchSettings,
    pub payment: SandboxSettings,
    pub demo: DemoSettings,
    pub simulator: SimulatorSettings,
    pub log: LogSettings,
    pub auth: AuthSettings,
    pub ws: WsSettings,
    pub limits: LimitSettings,
}

#[derive(Clone, Deserialize, Serialize)]
#[serde(default)]
pub struct AuthSettings {
    /// Signs tokens (HS256). At least 32 bytes, and never the public development key: the
    /// server refuses to start otherwise, except with the demo city.
    pub secret: String,
    /// The key id written into tokens, so the key can rotate.
    pub kid: String,
    /// A previous key that still verifies while its tokens expire.
    pub previous_secret: Option<String>,
    pub previous_kid: Option<String>,
    /// Lifetime of an access token. A token claiming to live longer is refused.
    pub token_ttl_secs: i64,
    /// Password hashes (argon2, 19 MiB each) computed at once, server-wide.
    pub hash_concurrency: usize,
    /// Callers that may wait for a hashing slot; beyond them the answer is 503.
    pub hash_queue: usize,
    /// How long a caller waits for a hashing slot before the answer is 503.
    pub hash_wait_ms: u64,
}

impl std::fmt::Debug for AuthSettings {
    // Secrets never reach a log.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthSettings")
            .field("secret", &"[redacted]")
            .field("kid", &self.kid)
            .field("previous_kid", &self.previous_kid)
            .field("token_ttl_secs", &self.token_ttl_secs)
            .field("hash_concurrency", &self.hash_concurrency)
            .field("hash_queue", &self.hash_queue)
            .field("hash_wait_ms", &self.hash_wait_ms)
            .finish()
    }
}

impl Default for AuthSettings {
    fn default() -> Self {
        AuthSettings {
            secret: DEV_SECRET.into(),
            kid: "k1".into(),
            previous_secret: None,
            previous_kid: None,
            token_ttl_secs: 3600,
            hash_concurrency: 2,
            hash_queue: 32,
            hash_wait_ms: 5000,
        }
    }
}

/// The development signing key. It is public: the server runs with it only for the demo
/// city, and warns.
pub const DEV_SECRET: &str = "baedal-development-secret-change-me";

/// The shortest signing key taken: HS256 keys shorter than its 32-byte output are guessable
/// well below its strength.
pub const MIN_SECRET_BYTES: usize = 32;

/// A configuration the server refuses to start with.
#[derive(Debug, thiserror::Error)]
pub enum UnsafeSettings {
    #[error("auth.{which} is the public development key; set BAEDAL__AUTH__SECRET to a secret of at least {MIN_SECRET_BYTES} bytes (only the demo city may run with it)")]
    DevelopmentKey { which: &'static str },
    #[error("auth.{which} is {len} bytes; it must be at least {MIN_SECRET_BYTES} (only the demo city may run with a shorter one)")]
    ShortKey { which: &'static str, len: usize },
    #[error("auth.token_ttl_secs must be at least 1, not {0}")]
    TokenLifetime(i64),
}

impl AuthSettings {
    /// The signing keys' strength: outside the demo city (`demo`), a key under
    /// [`MIN_SECRET_BYTES`] or equal to the development key is refused; in the demo it is
    /// allowed and reported as a warning.
    pub fn check(&self, demo: bool) -> Result<Vec<UnsafeSettings>, UnsafeSettings> {
        if self.token_ttl_secs < 1 {
            return Err(UnsafeSettings::TokenLifetime(self.token_ttl_secs));
        }
        let mut problems = Vec::new();
        let keys =
            std::iter::once(("secret", Some(&self.secret))).chain([("previous_secret", self.previous_secret.as_ref())]);
        for (which, secret) in keys {
            let Some(secret) = secret else { continue };
            if secret == DEV_SECRET {
                problems.push(UnsafeSettings::DevelopmentKey { which });
            } else if secret.len() < MIN_SECRET_BYTES {
                problems.push(UnsafeSettings::ShortKey { which, len: secret.len() });
            }
        }
        match (demo, problems.is_empty()) {
            (false, false) => Err(problems.remove(0)),
            _ => Ok(problems),
        }
    }
    /// (kid, secret) pairs, the signing key first.
    pub fn keys(&self) -> Vec<(String, String)> {
        let mut keys = vec![(self.kid.clone(), self.secret.clone())];
        if let (Some(kid), Some(secret)) = (&self.previous_kid, &self.previous_secret) {
            keys.push((kid.clone(), secret.clone()));
        }
        keys
    }
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default)]
pub struct WsSettings {
    /// Messages queued for one socket before its client counts as too slow and is closed.
    pub outbound_queue: usize,
    /// Largest frame accepted from a client.
    pub max_frame_bytes: usize,
    pub heartbeat_secs: u64,
    /// No frame or pong for this long: the socket is closed.
    pub client_timeout_secs: u64,
    /// Sockets open at once for one subject (a customer's phones, a store's tablets).
    pub sockets_per_subject: usize,
    /// Sockets open at once from one client address (one address may front a whole office
    /// or a carrier's NAT: keep it wide).
    pub sockets_per_ip: usize,
    /// Commands one socket may have waiting; they run one at a time, in order, and one sent
    /// beyond this is refused (`too_many_commands`).
    pub commands_queued: usize,
}

impl Default for WsSettings {
    fn default() -> Self {
        WsSettings {
            outbound_queue: 256,
            max_frame_bytes: 16 * 1024,
            heartbeat_secs: 5,
            client_timeout_secs: 15,
            sockets_per_subject: 8,
            sockets_per_ip: 1000,
            commands_queued: 16,
        }
    }
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default)]
pub struct ServerSettings {
    pub host: String,
    /// 0 picks a free port (tests use it); the chosen address is printed at start.
    pub port: u16,
    pub workers: usize,
    /// Seconds in-flight requests get to finish on SIGTERM.
    pub shutdown_timeout_secs: u64,
    /// Seconds a client has to send a request's headers, and then again its whole body: a
    /// client that goes silent part-way is answered 408 and let go.
    pub request_timeout_secs: u64,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default)]
pub struct DatabaseSettings {
    /// `sqlite://data/baedal.db` (embedded default) or `postgres://...`.
    pub url: String,
    pub max_connections: u32,
    /// Batch appends from all actors into one transaction.
    pub group_commit: GroupCommitSettings,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default)]
pub struct OrderSettings {
    /// Write a snapshot every this many events of a stream.
    pub snapshot_every: i64,
    /// How close to the drop-off a rider must be to mark an order delivered.
    pub delivery_geofence_m: f64,
    /// How close to the store a rider must be to mark an order picked up.
    pub pickup_geofence_m: f64,
    /// A position a rider reports with a command must agree with the rider's last ping:
    /// no farther from it than this speed allows in the time since (plus GPS noise).
    pub max_rider_speed_kmh: f64,
    /// The rider's last ping must be this recent for a pickup or a delivery.
    pub ping_max_age_secs: u64,
    /// Backoff between retries of a failed void or capture.
    pub payment_retry_ms: u64,
    /// An authorization the provider has not answered this long after placement rejects
    /// the order.
    pub payment_timeout_secs: u64,
    /// A kitchen still cooking this long after the ready time it promised is "well past
    /// its promise" and the operator is alerted (dashboard and a warning in the log)...
    pub kitchen_late_grace_secs: u64,
    /// ...or, for long preparations, this share of the promised preparation time if that
    /// is longer: a 40-minute dish is not late at 10 minutes over the way a 10-minute one
    /// is. See [`OrderSettings::kitchen_late_grace`].
    pub kitchen_late_grace_share: Share,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default)]
pub struct DispatchSettings {
    pub tick_ms: u64,
    /// Seconds a rider has to accept an offer.
    pub offer_timeout_secs: u32,
    /// Candidate riders per job in the batch assignment.
    pub candidates_k: usize,
    /// Search radius around the store when dispatch starts...
    pub base_radius_m: f64,
    /// ...how fast it widens while the job waits...
    pub radius_growth_m_per_min: f64,
    /// ...and its cap. Reaching the cap alerts the operator.
    pub max_radius_m: f64,
    /// No rider this long after the store accepted: cancel with a refund.
    pub give_up_after_secs: u64,
    /// A rider with no ping for this long is not offered jobs.
    pub stale_after_secs: u64,
    /// Seconds of pickup ETA one second of waiting is worth when riders are scarce.
    pub age_weight: f64,
    pub speed: SpeedModel,
    /// Flush rider positions to the database this often.
    pub position_flush_ms: u64,
    /// Offers a rider lets lapse in a row before the platform sets it offline (0: never).
    pub lapsed_offers_offline: u32,
    /// When dispatch starts for an order.
    pub release: Release,
    /// With `before_ready`: dispatch starts at most this long before the food is due.
    pub release_lead_secs: u64,
    /// How orders are grouped into one rider's trip.
    pub trips: TripSettings,
    /// Days a dispatch decision is kept for operators to read, at least one; older ones
    /// are deleted every hour (the order's events, the record of what happened, stay).
    pub decision_retention_days: u32,
}

/// When an order is put up for dispatch.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Release {
    /// Timed to the kitchen: from `release_lead_secs` before the food is due, a rider is sent
    /// once it would arrive about as the food is ready (its pickup ETA covers the cooking
    /// left), so riders do not stand at the counter and stay free for food that is ready.
    #[default]
    BeforeReady,
    /// The moment the store accepts, to the nearest rider: the simpler policy, kept to
    /// compare against.
    AtAccept,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default)]
pub struct DemoSettings {
    /// Seed the demo city (stores, menus, riders online) when the database has no stores.
    pub enabled: bool,
    pub stores: usize,
    pub riders: usize,
}

/// The demo city's inhabitants: customers ordering, store staff answering and cooking,
/// riders answering offers and riding. The live simulator runs only together with the demo
/// city; `baedal simulate` plays the same people on a simulated clock. The defaults are a
/// real kitchen's and rider's pace: a store answers within a minute and cooks for 5 to 15,
/// riders answer an offer within seconds and ride at 15 to 25 km/h to customers up to 2 km
/// away; two orders a minute keep the demo city's 36 riders about three quarters busy.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default)]
pub struct SimulatorSettings {
    /// `false` for real use: the demo city is then only driven by real clients.
    pub enabled: bool,
    /// Mean rate of new orders (arrivals are random, as real ones are).
    pub orders_per_minute: f64,
    /// Share of orders the store rejects.
    pub reject_share: Share,
    /// Share of offers a rider declines.
    pub decline_share: Share,
    /// Share of orders placed by the demo customer, so its tracking page has something to show.
    pub demo_customer_share: Share,
    /// How long store staff take to answer a new order.
    pub store_answer_secs: Between,
    /// How long the kitchen cooks; the store promises it, rounded up to the minute.
    pub cook_secs: Between,
    /// Share of kitchens that run late, past what they promised (none by default, so the
    /// figures of a simulated day stay comparable; set it to see late-kitchen alerts)...
    pub late_kitchen_share: Share,
    /// ...and how far past their promise those finish.
    pub late_kitchen_secs: Between,
    /// How long a rider takes to answer an offer.
    pub rider_answer_secs: Between,
    /// Each rider's riding speed is drawn from this range.
    pub rider_speed_kmh: Between,
    /// How far from the store customers order to.
    pub delivery_distance_m: Between,
    /// Riders on the move report their position this often.
    pub ping_ms: u64,
}

impl Default for SimulatorSettings {
    fn default() -> Self {
        SimulatorSettings {
            enabled: true,
            orders_per_minute: 2.0,
            reject_share: Share(0.05),
            decline_share: Share(0.15),
            demo_customer_share: Share(0.2),
            store_answer_secs: Between { min: 10.0, max: 60.0 },
            cook_secs: Between { min: 300.0, max: 900.0 },
            late_kitchen_share: Share(0.0),
            late_kitchen_secs: Between { min: 300.0, max: 1800.0 },
            rider_answer_secs: Between { min: 3.0, max: 15.0 },
            rider_speed_kmh: Between { min: 15.0, max: 25.0 },
            delivery_distance_m: Between { min: 400.0, max: 2000.0 },
            ping_ms: 1000,
        }
    }
}

/// A share between 0 and 1.
#[derive(Clone, Copy, Debug, PartialEq, Deserialize, Serialize)]
#[serde(try_from = "f64", into = "f64")]
pub struct Share(f64);

impl From<Share> for f64 {
    fn from(share: Share) -> f64 {
        share.0
    }
}

impl Share {
    pub fn get(self) -> f64 {
        self.0
    }
}

impl TryFrom<f64> for Share {
    type Error = String;

    fn try_from(value: f64) -> Result<Self, String> {
        if (0.0..=1.0).contains(&value) {
            Ok(Share(value))
        } else {
            Err(format!("a share must be between 0 and 1, not {value}"))
        }
    }
}

/// A range of non-negative values, `min <= max` (`{ min = 30, max = 90 }` in the file,
/// `..._MIN` / `..._MAX` in the environment).
#[derive(Clone, Copy, Debug, PartialEq, Deserialize, Serialize)]
#[serde(try_from = "RawBetween")]
pub struct Between {
    min: f64,
    max: f64,
}

#[derive(Deserialize)]
struct RawBetween {
    min: f64,
    max: f64,
}

impl TryFrom<RawBetween> for Between {
    type Error = String;

    fn try_from(raw: RawBetween) -> Result<Self, String> {
        Between::new(raw.min, raw.max)
    }
}

impl Between {
    pub fn new(min: f64, max: f64) -> Result<Between, String> {
        if !(min.is_finite() && max.is_finite() && 0.0 <= min && min <= max) {
            return Err(format!("a range needs 0 <= min <= max, not {min}..{max}"));
        }
        Ok(Between { min, max })
    }

    pub fn min(self) -> f64 {
        self.min
    }

    pub fn max(self) -> f64 {
        self.max
    }

    /// A uniform draw from the range.
    pub fn sample(self, rng: &mut impl rand::Rng) -> f64 {
        if self.max > self.min {
            rng.gen_range(self.min..=self.max)
        } else {
            self.min
        }
    }
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default)]
pub struct LogSettings {
    /// An `EnvFilter` directive; `RUST_LOG` wins when set.
    pub filter: String,
    /// `text` (readable, for development) or `json` (for production log pipelines).
    pub format: String,
}

impl Default for ServerSettings {
    fn default() -> Self {
        ServerSettings {
            host: "127.0.0.1".into(),
            port: 8080,
            workers: 2,
            shutdown_timeout_secs: 10,
            request_timeout_secs: 10,
        }
    }
}

impl Default for DatabaseSettings {
    fn default() -> Self {
        DatabaseSettings {
            url: "sqlite://data/baedal.db".into(),
            max_connections: 8,
            group_commit: GroupCommitSettings::default(),
        }
    }
}

impl Default for OrderSettings {
    fn default() -> Self {
        OrderSettings {
            snapshot_every: 10,
            delivery_geofence_m: 150.0,
            pickup_geofence_m: 300.0,
            max_rider_speed_kmh: 80.0,
            ping_max_age_secs: 120,
            payment_retry_ms: 2000,
            payment_timeout_secs: 60,
            kitchen_late_grace_secs: 600,
            kitchen_late_grace_share: Share(0.5),
        }
    }
}

impl OrderSettings {
    /// How long past its promised ready time a kitchen that promised `prep_minutes` may
    /// run before it counts as well past its promise: the larger of the fixed grace and
    /// the share of the preparation time (defaults: 10 minutes, or half the preparation).
    /// A few minutes over is ordinary kitchen life and would only drown the operator in
    /// alerts; the alert is for the order that is stuck.
    pub fn kitchen_late_grace(&self, prep_minutes: u32) -> Duration {
        let fixed = Duration::from_secs(self.kitchen_late_grace_secs);
        let share = Duration::from_secs_f64(f64::from(prep_minutes) * 60.0 * self.kitchen_late_grace_share.get());
        fixed.max(share)
    }
}

impl Default for DispatchSettings {
    fn default() -> Self {
        DispatchSettings {
            tick_ms: 1000,
            offer_timeout_secs: 30,
            candidates_k: 8,
            base_radius_m: 2000.0,
            radius_growth_m_per_min: 1000.0,
            max_radius_m: 6000.0,
            give_up_after_secs: 900,
            stale_after_secs: 60,
            age_weight: 1.0,
            speed: SpeedModel::default(),
            position_flush_ms: 2000,
            decision_retention_days: 30,
            lapsed_offers_offline: 3,
            release: Release::BeforeReady,
            release_lead_secs: 420,
            trips: TripSettings::default(),
        }
    }
}

impl Default for DemoSettings {
    fn default() -> Self {
        DemoSettings { enabled: true, stores: 12, riders: 36 }
    }
}

impl Default for LogSettings {
    fn default() -> Self {
        LogSettings { filter: "info,sqlx=warn".into(), format: "text".into() }
    }
}

impl DispatchSettings {
    pub fn tick(&self) -> Duration {
        Duration::from_millis(self.tick_ms.max(10))
    }

    /// The search radius after waiting `waited_secs`.
    pub fn radius_after(&self, waited_secs: f64) -> f64 {
        (self.base_radius_m + self.radius_growth_m_per_min * waited_secs.max(0.0) / 60.0).min(self.max_radius_m)
    }

    /// How long after dispatch starts the radius reaches its cap (and the operator is told).
    pub fn alert_after(&self) -> Duration {
        let growth = self.radius_growth_m_per_min.max(1e-6);
        let minutes = ((self.max_radius_m - self.base_radius_m) / growth).max(0.0);
        Duration::from_secs_f64((minutes * 60.0).min(1e9))
    }

    pub fn give_up_after(&self) -> Duration {
        Duration::from_secs(self.give_up_after_secs)
    }
}

impl Settings {
    /// Defaults, then the file, then the environment.
    pub fn load() -> Result<Settings, config::ConfigError> {
        let path = std::env::var("BAEDAL_CONFIG").unwrap_or_else(|_| "baedal.toml".into());
        let explicit = std::env::var("BAEDAL_CONFIG").is_ok();
        let mut builder = config::Config::builder()
            .add_source(config::File::with_name(&path).format(config::FileFormat::Toml).required(explicit))
            .add_source(
                config::Environment::with_prefix("BAEDAL").prefix_separator("__").separator("__").try_parsing(true),
            );
        if let Ok(url) = std::env::var("DATABASE_URL") {
            builder = builder.set_override("database.url", url)?;
        }
        builder.build()?.try_deserialize()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(toml: &str) -> Result<Settings, config::ConfigError> {
        config::Config::builder()
            .add_source(config::File::from_str(toml, config::FileFormat::Toml))
            .build()?
            .try_deserialize()
    }

    #[test]
    fn the_example_file_parses_with_its_simulator_section() {
        let settings = parse(include_str!("../baedal.example.toml")).expect("baedal.example.toml");
        assert!(settings.simulator.enabled);
        assert_eq!(settings.simulator.cook_secs, Between::new(300.0, 900.0).unwrap());
        assert_eq!(settings.simulator.rider_speed_kmh, Between::new(15.0, 25.0).unwrap());
    }

    #[test]
    fn a_kitchen_is_late_after_ten_minutes_or_half_its_promise_whichever_is_longer() {
        let settings = parse(include_str!("../baedal.example.toml")).expect("baedal.example.toml");
        let orders = &settings.orders;
        assert_eq!((orders.kitchen_late_grace_secs, orders.kitchen_late_grace_share.get()), (600, 0.5));
        assert_eq!(orders.kitchen_late_grace(10), Duration::from_secs(600));
        assert_eq!(orders.kitchen_late_grace(20), Duration::from_secs(600));
        assert_eq!(orders.kitchen_late_grace(40), Duration::from_secs(1200));
        let tight = parse("[orders]\nkitchen_late_grace_secs = 60\nkitchen_late_grace_share = 0").unwrap();
        assert_eq!(tight.orders.kitchen_late_grace(40), Duration::from_secs(60));
        assert!(parse("[orders]\nkitchen_late_grace_share = 1.5").is_err());
    }

    #[test]
    fn ranges_and_shares_refuse_nonsense() {
        assert!(parse("[simulator]\ncook_secs = { min = 90, max = 30 }").is_err());
        assert!(parse("[simulator]\ncook_secs = { min = -1, max = 30 }").is_err());
        assert!(parse("[simulator]\ncook_secs = { min = 30 }").is_err());
        assert!(parse("[simulator]\nreject_share = 1.5").is_err());
        let settings = parse("[simulator]\nenabled = false\nreject_share = 0.5").unwrap();
        assert!(!settings.simulator.enabled);
        assert_eq!(settings.simulator.reject_share.get(), 0.5);
    }

    /// Every key of `value` as a dotted path (`orders.delivery_geofence_m`), with whether its
    /// default is unset (`None`).
    fn keys(prefix: &str, value: &serde_json::Value, out: &mut Vec<(String, bool)>) {
        let serde_json::Value::Object(fields) = value else { return };
        for (name, field) in fields {
            let path = if prefix.is_empty() { name.clone() } else { format!("{prefix}.{name}") };
            // A range (`{ min, max }`) is one setting, written inline.
            let is_range = field.as_object().is_some_and(|o| o.len() == 2 && o.contains_key("min"));
            if field.is_object() && !is_range {
                keys(&path, field, out);
            } else {
                out.push((path, field.is_null()));
            }
        }
    }

    #[test]
    fn the_example_file_lists_every_setting_at_its_default() {
        let example = include_str!("../baedal.example.toml");
        let defaults = serde_json::to_value(Settings::default()).unwrap();
        let parsed = serde_json::to_value(parse(example).expect("baedal.example.toml")).unwrap();
        assert_eq!(parsed, defaults, "the example's values are the defaults");
        let mut wanted = Vec::new();
        keys("", &defaults, &mut wanted);
        let listed: serde_json::Value = config::Config::builder()
            .add_source(config::File::from_str(example, config::FileFormat::Toml))
            .build()
            .and_then(config::Config::try_deserialize)
            .unwrap();
        let mut present = Vec::new();
        keys("", &listed, &mut present);
        let present: Vec<&str> = present.iter().map(|(k, _)| k.as_str()).collect();
        for (key, unset) in &wanted {
            let name = key.rsplit('.').next().unwrap();
            // A setting unset by default is shown commented out in its section.
            let shown =
                if *unset { example.contains(&format!("# {name} = ")) } else { present.contains(&key.as_str()) };
            assert!(shown, "baedal.example.toml lacks `{key}`");
        }
        let known: Vec<&str> = wanted.iter().map(|(k, _)| k.as_str()).collect();
        for key in present {
            assert!(known.contains(&key), "baedal.example.toml has `{key}`, which is no setting");
        }
    }

    #[test]
    fn weak_signing_keys_are_refused_outside_the_demo() {
        let mut auth = AuthSettings::default();
        assert!(matches!(auth.check(false), Err(UnsafeSettings::DevelopmentKey { .. })));
        assert_eq!(auth.check(true).unwrap().len(), 1, "the demo runs with a warning");
        for short in ["", "x", "thirty-one bytes is too short!!"] {
            auth.secret = short.into();
            assert!(matches!(auth.check(false), Err(UnsafeSettings::ShortKey { .. })), "{short:?}");
        }
        auth.secret = "a".repeat(MIN_SECRET_BYTES);
        assert!(auth.check(false).unwrap().is_empty());
        auth.previous_secret = Some(DEV_SECRET.into());
        assert!(auth.check(false).is_err(), "a retired key counts too");
    }
}
