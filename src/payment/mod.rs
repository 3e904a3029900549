//! The payment port and its sandbox adapter.
//!
//! The order saga authorizes on placement, voids on any cancellation and captures on
//! delivery. Every call carries the order id as the provider's idempotency key, so a call
//! repeated after a crash never charges twice.

mod breaker;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use dashmap::DashMap;
use rand::Rng;

use crate::domain::{Money, OrderId};

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PaymentError {
    /// The provider said no; retrying will not help.
    #[error("payment declined: {0}")]
    Declined(String),
    /// The provider could not be reached or failed; the call may be retried.
    #[error("payment provider unavailable: {0}")]
    Unavailable(String),
}

#[async_trait]
pub trait PaymentGateway: Send + Sync + 'static {
    /// Hold `amount` for `order`; returns the authorization reference.
    async fn authorize(&self, order: OrderId, amount: Money) -> Result<String, PaymentError>;
    /// Release a hold. Voiding twice is not an error.
    async fn void(&self, order: OrderId, authorization: &str) -> Result<(), PaymentError>;
    /// Take the held money. Capturing twice is not an error.
    async fn capture(&self, order: OrderId, authorization: &str) -> Result<(), PaymentError>;

    /// Whether calls can be expected to go through now (false while a breaker is open).
    fn available(&self) -> bool {
        true
    }
}

pub use breaker::{BreakerSettings, CircuitBreaker, CircuitState};

/// How the sandbox behaves, like a provider's test mode.
#[derive(Clone, Debug, serde::Deserialize)]
#[serde(default)]
pub struct SandboxSettings {
    /// Share of authorizations declined, 0.0 to 1.0.
    pub decline_rate: f64,
    /// Simulated provider latency per call.
    pub latency_ms: u64,
    /// Amounts above this are declined ("insufficient funds"); 0 means no limit.
    pub decline_above: i64,
    /// Start with the provider failing (every call "unavailable"), as a provider's outage.
    pub failing: bool,
    pub breaker: BreakerSettings,
}

impl Default for SandboxSettings {
    fn default() -> Self {
        SandboxSettings {
            decline_rate: 0.0,
            latency_ms: 50,
            decline_above: 0,
            failing: false,
            breaker: BreakerSettings::default(),
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
enum Hold {
    Authorized(String),
    Declined(String),
    Voided(String),
    Captured(String),
}

/// An in-memory provider with configurable declines and latency.
pub struct SandboxGateway {
    settings: SandboxSettings,
    holds: DashMap<OrderId, Hold>,
    counter: AtomicU64,
    /// The failure switch: while set, every call fails as if the provider were down.
    failing: AtomicBool,
}

impl SandboxGateway {
    pub fn new(settings: SandboxSettings) -> Self {
        let failing = AtomicBool::new(settings.failing);
        SandboxGateway { settings, holds: DashMap::new(), counter: AtomicU64::new(0), failing }
    }

    /// Flip the failure switch.
    pub fn set_failing(&self, failing: bool) {
        self.failing.store(failing, Ordering::Relaxed);
    }

    pub fn is_failing(&self) -> bool {
        self.failing.load(Ordering::Relaxed)
    }

    fn check_up(&self) -> Result<(), PaymentError> {
        if self.is_failing() {
            Err(PaymentError::Unavailable("sandbox provider is failing (failure switch on)".into()))
        } else {
            Ok(())
        }
    }

    async fn delay(&self) {
        if self.settings.latency_ms > 0 {
            tokio::time::sleep(Duration::from_millis(self.settings.latency_ms)).await;
        }
    }

    fn settle(&self, order: OrderId, authorization: &str, to: fn(String) -> Hold) -> Result<(), PaymentError> {
        let mut hold = self.holds.entry(order).or_insert_with(|| Hold::Authorized(authorization.to_owned()));
        match &*hold {
            Hold::Authorized(reference) if reference == authorization => {
                *hold = to(reference.clone());
                Ok(())
            }
            Hold::Voided(r) | Hold::Captured(r) if r == authorization && *hold == to(r.clone()) => Ok(()),
            other => Err(PaymentError::Declined(format!("authorization {authorization} cannot be settled: {other:?}"))),
        }
    }
}

#[async_trait]
impl PaymentGateway for SandboxGateway {
    async fn authorize(&self, order: OrderId, amount: Money) -> Result<String, PaymentError> {
        self.delay().await;
        self.check_up()?;
        let decision = self.holds.entry(order).or_insert_with(|| {
            let over_limit = self.settings.decline_above > 0 && amount.amount > self.settings.decline_above;
            if over_limit {
                Hold::Declined("insufficient funds".into())
            } else if rand::thread_rng().gen_bool(self.settings.decline_rate.clamp(0.0, 1.0)) {
                Hold::Declined("card declined by issuer".into())
            } else {
                let n = self.counter.fetch_add(1, Ordering::Relaxed);
                Hold::Authorized(format!("sbx_auth_{}_{n}", order.as_uuid().simple()))
            }
        });
        match &*decision {
            Hold::Authorized(reference) => Ok(reference.clone()),
            Hold::Declined(reason) => Err(PaymentError::Declined(reason.clone())),
            Hold::Voided(_) | Hold::Captured(_) => Err(PaymentError::Declined("already settled".into())),
        }
    }

    async fn void(&self, order: OrderId, authorization: &str) -> Result<(), PaymentError> {
        self.delay().await;
        self.check_up()?;
        self.settle(order, authorization, Hold::Voided)
    }

    async fn capture(&self, order: OrderId, authorization: &str) -> Result<(), PaymentError> {
        self.delay().await;
        self.check_up()?;
        self.settle(order, authorization, Hold::Captured)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Currency;

    fn krw(amount: i64) -> Money {
        Money::new(amount, Currency::parse("KRW").unwrap()).unwrap()
    }

    #[tokio::test]
    async fn authorization_is_idempotent_per_order_and_settles_once() {
        let gateway = SandboxGateway::new(SandboxSettings { latency_ms: 0, ..Default::default() });
        let order = OrderId::random();
        let first = gateway.authorize(order, krw(1000)).await.unwrap();
        assert_eq!(gateway.authorize(order, krw(1000)).await.unwrap(), first);
        gateway.void(order, &first).await.unwrap();
        gateway.void(order, &first).await.unwrap();
        assert!(gateway.capture(order, &first).await.is_err());
    }

    #[tokio::test]
    async fn declines_follow_the_settings() {
        let gateway = SandboxGateway::new(SandboxSettings { decline_rate: 1.0, latency_ms: 0, ..Default::default() });
        assert!(matches!(gateway.authorize(OrderId::random(), krw(1)).await, Err(PaymentError::Declined(_))));
        let capped = SandboxGateway::new(SandboxSettings { latency_ms: 0, decline_above: 100, ..Default::default() });
        assert!(capped.authorize(OrderId::random(), krw(100)).await.is_ok());
        assert!(capped.authorize(OrderId::random(), krw(101)).await.is_err());
    }
}
