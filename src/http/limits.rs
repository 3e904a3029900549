//! Rate limits on the doors worth hammering: sign-up and login (password hashing, password
//! guessing) and order placement (abuse). Past a limit the answer is 429 with `Retry-After`.
//!
//! Login counts *failures* per account and client address, so that somebody guessing an
//! account's password from elsewhere locks out only themselves: the owner, from their own
//! address, still signs in. A higher ceiling of failures per account, from any address,
//! stops guessing spread over many addresses. Every attempt, right or wrong, also counts
//! against its address, since each costs a hash.

use std::hash::Hash;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::time::{Duration, Instant};

use actix_web::http::StatusCode;
use dashmap::DashMap;
use governor::clock::{Clock, DefaultClock};
use governor::state::keyed::DashMapStateStore;
use governor::{Quota, RateLimiter};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::error::ApiError;

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default)]
pub struct LimitSettings {
    /// Wrong passwords for one account from one address, per minute.
    pub login_failures_per_minute_per_account_and_ip: u32,
    /// Wrong passwords for one account from anywhere, per minute.
    pub login_failures_per_minute_per_account: u32,
    /// Login attempts, right or wrong, from one address, per minute.
    pub login_per_minute_per_ip: u32,
    /// Sign-ups from one address, per minute.
    pub signup_per_minute_per_ip: u32,
    /// Sign-ups naming one e-mail address, per minute.
    pub signup_per_minute_per_email: u32,
    pub orders_per_minute_per_account: u32,
    pub orders_per_minute_per_ip: u32,
}

impl Default for LimitSettings {
    fn default() -> Self {
        LimitSettings {
            login_failures_per_minute_per_account_and_ip: 10,
            login_failures_per_minute_per_account: 100,
            login_per_minute_per_ip: 60,
            signup_per_minute_per_ip: 20,
            signup_per_minute_per_email: 5,
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

fn too_many(what: &str, wait: Duration) -> ApiError {
    let secs = (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1);
    ApiError::new(StatusCode::TOO_MANY_REQUESTS, "rate_limited", format!("too many {what}; retry in {secs} s"))
        .retry_after(secs)
}

fn check<K: Hash + Eq + Clone>(limiter: &Keyed<K>, key: K, what: &str) -> Result<(), ApiError> {
    limiter.check_key(&key).map_err(|not_until| too_many(what, not_until.wait_time_from(DefaultClock::default().now())))
}

/// Failures counted in fixed one-minute windows. Unlike a token bucket it can be asked
/// whether a key is over its limit without spending anything, so only failures count.
struct Failures<K: Hash + Eq> {
    limit: u32,
    window: Duration,
    counts: DashMap<K, (u32, Instant)>,
}

impl<K: Hash + Eq + Clone> Failures<K> {
    fn per_minute(limit: u32) -> Self {
        Failures { limit: limit.max(1), window: Duration::from_secs(60), counts: DashMap::new() }
    }

    /// How long `key` must wait, if it has used up its failures.
    fn blocked(&self, key: &K) -> Option<Duration> {
        let entry = self.counts.get(key)?;
        let (count, since) = *entry;
        let left = self.window.checked_sub(since.elapsed())?;
        (count >= self.limit).then_some(left)
    }

    fn fail(&self, key: K) {
        let mut entry = self.counts.entry(key).or_insert((0, Instant::now()));
        if entry.1.elapsed() >= self.window {
            *entry = (0, Instant::now());
        }
        entry.0 += 1;
    }

    fn forget(&self, key: &K) {
        self.counts.remove(key);
    }

    fn prune(&self) {
        self.counts.retain(|_, (_, since)| since.elapsed() < self.window);
    }
}

pub struct Limits {
    login_failures_pair: Failures<(String, Option<IpAddr>)>,
    login_failures_account: Failures<String>,
    login_ip: Keyed<IpAddr>,
    signup_ip: Keyed<IpAddr>,
    signup_email: Keyed<String>,
    orders_account: Keyed<Uuid>,
    orders_ip: Keyed<IpAddr>,
}

/// The account a login or sign-up names, as the limits count it.
fn account_key(email: &str) -> String {
    email.trim().to_lowercase()
}

impl Limits {
    pub fn new(settings: &LimitSettings) -> Self {
        Limits {
            login_failures_pair: Failures::per_minute(settings.login_failures_per_minute_per_account_and_ip),
            login_failures_account: Failures::per_minute(settings.login_failures_per_minute_per_account),
            login_ip: keyed(settings.login_per_minute_per_ip),
            signup_ip: keyed(settings.signup_per_minute_per_ip),
            signup_email: keyed(settings.signup_per_minute_per_email),
            orders_account: keyed(settings.orders_per_minute_per_account),
            orders_ip: keyed(settings.orders_per_minute_per_ip),
        }
    }

    /// Before a login: refused while this address has tried too often, or this account has
    /// failed too often (from this address, or from anywhere).
    pub fn login(&self, email: &str, ip: Option<IpAddr>) -> Result<(), ApiError> {
        if let Some(ip) = ip {
            check(&self.login_ip, ip, "login attempts from this address")?;
        }
        let account = account_key(email);
        if let Some(wait) = self.login_failures_pair.blocked(&(account.clone(), ip)) {
            return Err(too_many("failed logins for this account from this address", wait));
        }
        if let Some(wait) = self.login_failures_account.blocked(&account) {
            return Err(too_many("failed logins for this account", wait));
        }
        Ok(())
    }

    /// After a login: a wrong password counts; the right one clears its address's count.
    pub fn login_result(&self, email: &str, ip: Option<IpAddr>, succeeded: bool) {
        let account = account_key(email);
        if succeeded {
            self.login_failures_pair.forget(&(account, ip));
        } else {
            self.login_failures_pair.fail((account.clone(), ip));
            self.login_failures_account.fail(account);
        }
    }

    pub fn signup(&self, email: &str, ip: Option<IpAddr>) -> Result<(), ApiError> {
        if let Some(ip) = ip {
            check(&self.signup_ip, ip, "sign-ups from this address")?;
        }
        check(&self.signup_email, account_key(email), "sign-ups for this e-mail address")
    }

    pub fn order(&self, customer: Uuid, ip: Option<IpAddr>) -> Result<(), ApiError> {
        if let Some(ip) = ip {
            check(&self.orders_ip, ip, "orders from this address")?;
        }
        check(&self.orders_account, customer, "orders from this account")
    }

    /// Forget idle keys so the maps do not grow without bound.
    pub fn prune(&self) {
        self.login_failures_pair.prune();
        self.login_failures_account.prune();
        self.login_ip.retain_recent();
        self.signup_ip.retain_recent();
        self.signup_email.retain_recent();
        self.orders_account.retain_recent();
        self.orders_ip.retain_recent();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(last: u8) -> Option<IpAddr> {
        Some(IpAddr::from([10, 0, 0, last]))
    }

    #[test]
    fn a_guesser_locks_out_only_its_own_address() {
        let limits = Limits::new(&LimitSettings::default());
        for _ in 0..10 {
            assert!(limits.login("min@example.com", ip(66)).is_ok());
            limits.login_result("min@example.com", ip(66), false);
        }
        let refused = limits.login("MIN@example.com", ip(66)).unwrap_err();
        assert_eq!(refused.status.as_u16(), 429);
        // The owner, elsewhere, still gets in, and a success forgets its own failures.
        assert!(limits.login("min@example.com", ip(7)).is_ok());
        limits.login_result("min@example.com", ip(7), false);
        limits.login_result("min@example.com", ip(7), true);
        assert_eq!(limits.login_failures_pair.blocked(&("min@example.com".into(), ip(7))), None);
    }

    #[test]
    fn guessing_spread_over_addresses_meets_the_account_ceiling() {
        let settings = LimitSettings { login_failures_per_minute_per_account: 30, ..LimitSettings::default() };
        let limits = Limits::new(&settings);
        for n in 0..30 {
            assert!(limits.login("min@example.com", ip(n)).is_ok(), "attempt {n}");
            limits.login_result("min@example.com", ip(n), false);
        }
        assert!(limits.login("min@example.com", ip(200)).is_err());
        assert!(limits.login("someone@example.com", ip(200)).is_ok());
    }

    #[test]
    fn sign_ups_are_limited_per_address_and_per_email() {
        let settings = LimitSettings { signup_per_minute_per_ip: 3, ..LimitSettings::default() };
        let limits = Limits::new(&settings);
        for n in 0..3 {
            assert!(limits.signup(&format!("u{n}@x.dev"), ip(1)).is_ok());
        }
        assert!(limits.signup("u9@x.dev", ip(1)).is_err());
        assert!(limits.signup("u9@x.dev", ip(2)).is_ok());
    }
}
