//! Rate limits on the two doors worth hammering: login (password guessing) and order
//! placement (abuse). Each is limited per account and per client address; past a limit the
//! answer is 429 with `Retry-After`.

use std::hash::Hash;
use std::net::IpAddr;
use std::num::NonZeroU32;

use actix_web::http::StatusCode;
use governor::clock::{Clock, DefaultClock};
use governor::state::keyed::DashMapStateStore;
use governor::{Quota, RateLimiter};
use serde::Deserialize;
use uuid::Uuid;

use super::error::ApiError;

#[derive(Clone, Debug, Deserialize)]
#[serde(default)]
pub struct LimitSettings {
    pub login_per_minute_per_account: u32,
    pub login_per_minute_per_ip: u32,
    pub orders_per_minute_per_account: u32,
    pub orders_per_minute_per_ip: u32,
}

impl Default for LimitSettings {
    fn default() -> Self {
        LimitSettings {
            login_per_minute_per_account: 10,
            login_per_minute_per_ip: 60,
            orders_per_minute_per_account: 30,
            // One address may front many customers (a NAT, a load test): keep this wide.
            orders_per_minute_per_ip: 12_000,
        }
    }
}

type Keyed<K> = RateLimiter<K, DashMapStateStore<K>, DefaultClock>;

fn keyed<K: Hash + Eq + Clone>(per_minute: u32) -> Keyed<K> {
    let per_minute = NonZeroU32::new(per_minute.max(1)).unwrap_or(NonZeroU32::MIN);
    RateLimiter::dashmap(Quota::per_minute(per_minute))
}

pub struct Limits {
    login_account: Keyed<String>,
    login_ip: Keyed<IpAddr>,
    orders_account: Keyed<Uuid>,
    orders_ip: Keyed<IpAddr>,
}

fn check<K: Hash + Eq + Clone>(limiter: &Keyed<K>, key: K, what: &str) -> Result<(), ApiError> {
    limiter.check_key(&key).map_err(|not_until| {
        let wait = not_until.wait_time_from(DefaultClock::default().now());
        let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
        ApiError::new(StatusCode::TOO_MANY_REQUESTS, "rate_limited", format!("too many {what}; retry in {secs} s"))
            .retry_after(secs.max(1))
    })
}

impl Limits {
    pub fn new(settings: &LimitSettings) -> Self {
        Limits {
            login_account: keyed(settings.login_per_minute_per_account),
            login_ip: keyed(settings.login_per_minute_per_ip),
            orders_account: keyed(settings.orders_per_minute_per_account),
            orders_ip: keyed(settings.orders_per_minute_per_ip),
        }
    }

    pub fn login(&self, email: &str, ip: Option<IpAddr>) -> Result<(), ApiError> {
        if let Some(ip) = ip {
            check(&self.login_ip, ip, "login attempts from this address")?;
        }
        check(&self.login_account, email.trim().to_lowercase(), "login attempts for this account")
    }

    pub fn order(&self, customer: Uuid, ip: Option<IpAddr>) -> Result<(), ApiError> {
        if let Some(ip) = ip {
            check(&self.orders_ip, ip, "orders from this address")?;
        }
        check(&self.orders_account, customer, "orders from this account")
    }

    /// Forget idle keys so the maps do not grow without bound.
    pub fn prune(&self) {
        self.login_account.retain_recent();
        self.login_ip.retain_recent();
        self.orders_account.retain_recent();
        self.orders_ip.retain_recent();
    }
}
