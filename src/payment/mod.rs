//! The payment port and its sandbox adapter.
//!
//! The order saga authorizes on placement, voids on any cancellation and captures on
//! delivery. Every call carries the order id as the provider's idempotency key, so a call
//! repeated after a crash never charges twice.

mod breaker;

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

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
    /// Release whatever hold `order` may have been granted, found by the order id (the
    /// authorization's idempotency key): for an authorization whose answer never came. No
    /// hold at all is not an error, and a later authorization for the order is refused.
    async fn void_unanswered(&self, order: OrderId) -> Result<(), PaymentError>;

    /// Whether calls can be expected to go through now (false while a breaker is open).
    fn available(&self) -> bool {
        true
    }
}

pub use breaker::{BreakerSettings, CircuitBreaker, CircuitState};

/// How the sandbox behaves, like a provider's test mode.
#[derive(Clone, Debug, serde::Deserialize, serde::Serialize)]
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
    /// Grant holds but lose the answers (every authorization reports "unavailable"), as a
    /// provider that times out after it decided: the order cannot know whether it holds money.
    pub lose_answers: bool,
    pub breaker: BreakerSettings,
}

impl Default for SandboxSettings {
    fn default() -> Self {
        SandboxSettings {
            decline_rate: 0.0,
            latency_ms: 50,
            decline_above: 0,
            failing: false,
            lose_answers: false,
            breaker: BreakerSettings::default(),
        }
    }
}

/// How long the sandbox remembers a hold that reached its end (declined, voided, captured),
/// as a provider's idempotency keys expire: long enough for an order to repeat a call whose
/// answer it could not record (a reload after a failed write, a short outage), not for ever.
/// A capture or void repeated after that still succeeds; only a declined authorization,
/// asked again, is decided anew.
const SETTLED_MEMORY: Duration = Duration::from_secs(5 * 60);

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
    /// Holds that reached their end, oldest first, to be forgotten after `settled_memory`.
    ended: Mutex<VecDeque<(Instant, OrderId)>>,
    settled_memory: Duration,
    counter: AtomicU64,
    /// The failure switch: while set, every call fails as if the provider were down.
    failing: AtomicBool,
}

impl SandboxGateway {
    pub fn new(settings: SandboxSettings) -> Self {
        let failing = AtomicBool::new(settings.failing);
        SandboxGateway {
            settings,
            holds: DashMap::new(),
            ended: Mutex::new(VecDeque::new()),
            settled_memory: SETTLED_MEMORY,
            counter: AtomicU64::new(0),
            failing,
        }
    }

    /// Holds the sandbox remembers now: the open ones and the recently ended.
    pub fn remembered(&self) -> usize {
        self.holds.len()
    }

    /// Note that `order`'s hold reached its end, and forget the ones that ended long ago.
    fn ended(&self, order: Option<OrderId>) {
        let Ok(mut ended) = self.ended.lock() else { return };
        while let Some((at, old)) = ended.front().copied() {
            if at.elapsed() < self.settled_memory {
                break;
            }
            ended.pop_front();
            self.holds.remove_if(&old, |_, hold| !matches!(hold, Hold::Authorized(_)));
        }
        if let Some(order) = order {
            ended.push_back((Instant::now(), order));
        }
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
        let outcome = {
            let mut hold = self.holds.entry(order).or_insert_with(|| Hold::Authorized(authorization.to_owned()));
            match &*hold {
                Hold::Authorized(reference) if reference == authorization => {
                    *hold = to(reference.clone());
                    Ok(true)
                }
                Hold::Voided(r) | Hold::Captured(r) if r == authorization && *hold == to(r.clone()) => Ok(false),
                other => {
                    Err(PaymentError::Declined(format!("authorization {authorization} cannot be settled: {other:?}")))
                }
            }
        };
        // Outside the entry: forgetting old holds takes other entries of the same map.
        self.ended(outcome.as_ref().is_ok_and(|ended| *ended).then_some(order));
        outcome.map(|_| ())
    }
}

#[async_trait]
impl PaymentGateway for SandboxGateway {
    async fn authorize(&self, order: OrderId, amount: Money) -> Result<String, PaymentError> {
        self.delay().await;
        self.check_up()?;
        let mut decided = false;
        let answer = {
            let decision = self.holds.entry(order).or_insert_with(|| {
                decided = true;
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
        };
        // A decline is the hold's end; an authorization ends at its void or capture.
        self.ended((decided && answer.is_err()).then_some(order));
        if self.settings.lose_answers && answer.is_ok() {
            return Err(PaymentError::Unavailable("the provider's answer was lost".into()));
        }
        answer
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

    async fn void_unanswered(&self, order: OrderId) -> Result<(), PaymentError> {
        self.delay().await;
        self.check_up()?;
        {
            let mut hold = self.holds.entry(order).or_insert_with(|| Hold::Voided(String::new()));
            if let Hold::Authorized(reference) = &*hold {
                *hold = Hold::Voided(reference.clone());
            }
        }
        self.ended(Some(order));
        Ok(())
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
    async fn ended_holds_are_forgotten_and_open_ones_kept() {
        let mut gateway = SandboxGateway::new(SandboxSettings { latency_ms: 0, ..Default::default() });
        gateway.settled_memory = Duration::ZERO;
        for _ in 0..100 {
            let order = OrderId::random();
            let authorization = gateway.authorize(order, krw(1000)).await.unwrap();
            gateway.capture(order, &authorization).await.unwrap();
        }
        let open = OrderId::random();
        let authorization = gateway.authorize(open, krw(1000)).await.unwrap();
        let voided = OrderId::random();
        let other = gateway.authorize(voided, krw(1000)).await.unwrap();
        gateway.void(voided, &other).await.unwrap();
        // The hold that ended last stays until the next call looks; the open one stays.
        assert_eq!(gateway.remembered(), 2);
        assert_eq!(gateway.authorize(open, krw(1000)).await.unwrap(), authorization);
        assert_eq!(gateway.remembered(), 1);
        // A settlement repeated after its hold was forgotten still succeeds.
        gateway.void(voided, &other).await.unwrap();
        gateway.capture(open, &authorization).await.unwrap();
    }

    #[tokio::test]
    async fn ended_holds_are_remembered_for_a_while() {
        let gateway = SandboxGateway::new(SandboxSettings { latency_ms: 0, ..Default::default() });
        let order = OrderId::random();
        let authorization = gateway.authorize(order, krw(1000)).await.unwrap();
        gateway.capture(order, &authorization).await.unwrap();
        gateway.authorize(OrderId::random(), krw(1000)).await.unwrap();
        assert_eq!(gateway.remembered(), 2);
        assert!(gateway.authorize(order, krw(1000)).await.is_err(), "a captured order is not authorized again");
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
