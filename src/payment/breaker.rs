//! A circuit breaker around the payment provider. After `failure_threshold` consecutive
//! failures or timeouts it opens: calls fail at once, and new orders are refused with a 503
//! instead of queueing behind a dead provider. After `open_secs` one probe goes through
//! (half-open); its success closes the circuit, its failure opens it again.
//!
//! A decline is an answer, not a failure: only an unavailable provider trips the breaker.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use serde::Deserialize;

use crate::domain::{Money, OrderId};

use super::{PaymentError, PaymentGateway};

#[derive(Clone, Debug, Deserialize, serde::Serialize)]
#[serde(default)]
pub struct BreakerSettings {
    pub failure_threshold: u32,
    /// How long the circuit stays open before a probe.
    pub open_secs: u64,
    /// A call slower than this counts as a failure.
    pub call_timeout_ms: u64,
}

impl Default for BreakerSettings {
    fn default() -> Self {
        BreakerSettings { failure_threshold: 5, open_secs: 10, call_timeout_ms: 3000 }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CircuitState {
    Closed,
    Open,
    HalfOpen,
}

#[derive(Debug)]
enum State {
    Closed {
        failures: u32,
    },
    Open {
        until: Instant,
    },
    /// One probe is out since then; everyone else fails fast until it returns (or, if
    /// it never does, until another probe is due).
    HalfOpen {
        since: Instant,
    },
}

pub struct CircuitBreaker<G> {
    inner: G,
    settings: BreakerSettings,
    state: Mutex<State>,
}

impl<G: PaymentGateway> CircuitBreaker<G> {
    pub fn new(inner: G, settings: BreakerSettings) -> Self {
        CircuitBreaker { inner, settings, state: Mutex::new(State::Closed { failures: 0 }) }
    }

    pub fn inner(&self) -> &G {
        &self.inner
    }

    pub fn state(&self) -> CircuitState {
        match *self.state.lock().unwrap_or_else(|p| p.into_inner()) {
            State::Closed { .. } => CircuitState::Closed,
            State::Open { until } if Instant::now() >= until => CircuitState::HalfOpen,
            State::Open { .. } => CircuitState::Open,
            State::HalfOpen { .. } => CircuitState::HalfOpen,
        }
    }

    /// May a call go through now? Moves an expired open circuit to half-open for one probe.
    fn admit(&self) -> Result<(), PaymentError> {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        match *state {
            State::Closed { .. } => Ok(()),
            State::Open { until } if Instant::now() >= until => {
                *state = State::HalfOpen { since: Instant::now() };
                Ok(())
            }
            // A probe that never reported (its caller went away) does not hold the circuit.
            State::HalfOpen { since }
                if since.elapsed() > Duration::from_millis(self.settings.call_timeout_ms.max(1)) * 2 =>
            {
                *state = State::HalfOpen { since: Instant::now() };
                Ok(())
            }
            State::Open { .. } | State::HalfOpen { .. } => {
                Err(PaymentError::Unavailable("payment provider circuit is open; retry shortly".into()))
            }
        }
    }

    fn record(&self, healthy: bool) {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let open = State::Open { until: Instant::now() + Duration::from_secs(self.settings.open_secs) };
        *state = match (&*state, healthy) {
            (_, true) => State::Closed { failures: 0 },
            (State::Closed { failures }, false) if failures + 1 < self.settings.failure_threshold.max(1) => {
                State::Closed { failures: failures + 1 }
            }
            (State::Closed { .. } | State::HalfOpen { .. }, false) => {
                tracing::warn!("payment circuit opened");
                open
            }
            (State::Open { until }, false) => State::Open { until: *until },
        };
    }

    async fn call<T>(
        &self,
        call: impl std::future::Future<Output = Result<T, PaymentError>>,
    ) -> Result<T, PaymentError> {
        self.admit()?;
        let timeout = Duration::from_millis(self.settings.call_timeout_ms.max(1));
        let result = match tokio::time::timeout(timeout, call).await {
            Ok(result) => result,
            Err(_) => Err(PaymentError::Unavailable(format!("no answer within {} ms", timeout.as_millis()))),
        };
        self.record(!matches!(result, Err(PaymentError::Unavailable(_))));
        result
    }
}

#[async_trait]
impl<G: PaymentGateway> PaymentGateway for CircuitBreaker<G> {
    async fn authorize(&self, order: OrderId, amount: Money) -> Result<String, PaymentError> {
        self.call(self.inner.authorize(order, amount)).await
    }

    async fn void(&self, order: OrderId, authorization: &str) -> Result<(), PaymentError> {
        self.call(self.inner.void(order, authorization)).await
    }

    async fn capture(&self, order: OrderId, authorization: &str) -> Result<(), PaymentError> {
        self.call(self.inner.capture(order, authorization)).await
    }

    async fn void_unanswered(&self, order: OrderId) -> Result<(), PaymentError> {
        self.call(self.inner.void_unanswered(order)).await
    }

    fn available(&self) -> bool {
        self.state() != CircuitState::Open
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Currency;
    use crate::payment::{SandboxGateway, SandboxSettings};

    fn breaker(open_secs: u64) -> CircuitBreaker<SandboxGateway> {
        let sandbox = SandboxGateway::new(SandboxSettings { latency_ms: 0, ..Default::default() });
        CircuitBreaker::new(sandbox, BreakerSettings { failure_threshold: 3, open_secs, call_timeout_ms: 500 })
    }

    fn krw() -> Money {
        Money::new(1000, Currency::parse("KRW").unwrap()).unwrap()
    }

    #[tokio::test]
    async fn opens_after_consecutive_failures_then_probes_and_closes() {
        let breaker = breaker(0);
        breaker.inner().set_failing(true);
        for _ in 0..3 {
            assert!(matches!(breaker.authorize(OrderId::random(), krw()).await, Err(PaymentError::Unavailable(_))));
        }
        // Open (the probe time is 0 s, so it reads half-open at once); the probe fails: open again.
        assert_eq!(breaker.state(), CircuitState::HalfOpen);
        assert!(breaker.authorize(OrderId::random(), krw()).await.is_err());
        breaker.inner().set_failing(false);
        assert!(breaker.authorize(OrderId::random(), krw()).await.is_ok());
        assert_eq!(breaker.state(), CircuitState::Closed);
    }

    #[tokio::test]
    async fn fails_fast_while_open_and_declines_do_not_count() {
        let tripped = breaker(60);
        tripped.inner().set_failing(true);
        for _ in 0..3 {
            let _ = tripped.authorize(OrderId::random(), krw()).await;
        }
        assert_eq!(tripped.state(), CircuitState::Open);
        assert!(!tripped.available());
        tripped.inner().set_failing(false);
        // Even a healthy provider is not called while open.
        let refused = tripped.authorize(OrderId::random(), krw()).await;
        assert!(matches!(refused, Err(PaymentError::Unavailable(m)) if m.contains("circuit")));

        let healthy = breaker(60);
        let declining = SandboxGateway::new(SandboxSettings { decline_rate: 1.0, latency_ms: 0, ..Default::default() });
        let declining = CircuitBreaker::new(declining, healthy.settings.clone());
        for _ in 0..10 {
            assert!(matches!(declining.authorize(OrderId::random(), krw()).await, Err(PaymentError::Declined(_))));
        }
        assert_eq!(declining.state(), CircuitState::Closed);
    }
}
