//! Logs, spans and metrics.
//!
//! Logs go to stderr, human-readable in development and JSON in production
//! (`log.format = "json"`), filtered by `RUST_LOG` or `log.filter`. Every HTTP request gets a
//! span with a request id (echoed as `x-request-id`), and the actor messages a request
//! causes carry that span. Metrics are kept in-process and served as Prometheus text at
//! `/metrics`.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::HttpMessage;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use tracing::Span;
use tracing_actix_web::{RequestId, RootSpanBuilder};
use tracing_subscriber::EnvFilter;

/// Metric names, in one place.
pub mod names {
    pub const HTTP_REQUEST_SECONDS: &str = "baedal_http_request_duration_seconds";
    pub const ORDERS_LIVE: &str = "baedal_orders_live";
    pub const ORDERS_FINISHED: &str = "baedal_orders_finished_total";
    pub const WEBSOCKETS: &str = "baedal_websocket_connections";
    pub const DISPATCH_TICK_SECONDS: &str = "baedal_dispatch_tick_duration_seconds";
    pub const APPEND_SECONDS: &str = "baedal_event_append_duration_seconds";
    pub const APPEND_BATCH: &str = "baedal_event_append_batch_size";
    /// 1 while the database answers, 0 while storage calls are refused.
    pub const DATABASE_UP: &str = "baedal_database_up";
    pub const ACTOR_RESTARTS: &str = "baedal_actor_restarts";
    /// Dispatch decisions given up unwritten (the database was down too long).
    pub const DECISIONS_DROPPED: &str = "baedal_dispatch_decisions_dropped_total";
}

pub fn init(default_filter: &str, format: &str) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_filter));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    // A second init (tests start the app more than once in a process) is not an error.
    let _ = if format == "json" { builder.json().try_init() } else { builder.try_init() };
}

/// How often recorded histogram samples are folded into their buckets.
const UPKEEP_EVERY: Duration = Duration::from_secs(5);

/// The process's metrics recorder, installed on first use, with its upkeep running.
///
/// The recorder keeps every histogram sample raw until upkeep folds it into the buckets;
/// rendering `/metrics` does that too, but a server nobody scrapes would otherwise hold
/// every request's and every append's timing for ever. Upkeep runs on a thread of its own
/// so it needs no runtime and keeps going whatever the actors are doing.
pub fn metrics() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let seconds = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0];
        let sizes = [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0];
        let builder = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), &seconds)
            .and_then(|b| b.set_buckets_for_metric(Matcher::Full(names::APPEND_BATCH.into()), &sizes))
            .unwrap_or_else(|_| PrometheusBuilder::new());
        let recorder = builder.build_recorder();
        let handle = recorder.handle();
        // Another recorder may already be installed in this process; ours then records nothing,
        // which only matters in tests that build the app twice.
        let _ = metrics::set_global_recorder(recorder);
        let upkept = handle.clone();
        let started = std::thread::Builder::new().name("metrics-upkeep".into()).spawn(move || loop {
            std::thread::sleep(UPKEEP_EVERY);
            upkept.run_upkeep();
        });
        if let Err(error) = started {
            tracing::warn!(%error, "metrics upkeep not started: histograms drain only when scraped");
        }
        handle
    })
}

/// Request spans without the query string: `?access_token=` must never reach a log.
pub struct RequestSpans;

impl RootSpanBuilder for RequestSpans {
    fn on_request_start(request: &ServiceRequest) -> Span {
        let request_id = request.extensions().get::<RequestId>().map(|id| id.to_string()).unwrap_or_default();
        tracing::info_span!(
            "http",
            method = %request.method(),
            path = %request.path(),
            request_id = %request_id,
            status = tracing::field::Empty,
        )
    }

    fn on_request_end<B: MessageBody>(span: Span, outcome: &Result<ServiceResponse<B>, actix_web::Error>) {
        let status = match outcome {
            Ok(response) => response.status().as_u16(),
            Err(error) => error.as_response_error().status_code().as_u16(),
        };
        span.record("status", status);
    }
}

/// Time every request by route pattern, and echo its request id.
pub async fn observe_http(
    request: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let started = Instant::now();
    let method = request.method().to_string();
    let request_id = request.extensions().get::<RequestId>().map(|id| id.to_string());
    let mut response = next.call(request).await?;
    // Asked once routing is done, the pattern comes from the route taken; asked before, it
    // is found by matching the path against every route again.
    let route = response.request().match_pattern().unwrap_or_else(|| "unmatched".into());
    let status = response.status().as_u16().to_string();
    metrics::histogram!(names::HTTP_REQUEST_SECONDS, "method" => method, "route" => route, "status" => status)
        .record(started.elapsed().as_secs_f64());
    if let Some(value) = request_id.and_then(|id| HeaderValue::from_str(&id).ok()) {
        response.headers_mut().insert(HeaderName::from_static("x-request-id"), value);
    }
    Ok(response)
}

/// A warning that may repeat many times a second in an outage (every actor's failed write):
/// logged at most once per interval, with how many were left out since.
pub struct Throttle {
    every_ms: u64,
    /// Milliseconds since the process started when it was last logged (0: never).
    last: std::sync::atomic::AtomicU64,
    suppressed: std::sync::atomic::AtomicU64,
}

impl Throttle {
    pub const fn every(interval: std::time::Duration) -> Throttle {
        Throttle {
            every_ms: interval.as_millis() as u64,
            last: std::sync::atomic::AtomicU64::new(0),
            suppressed: std::sync::atomic::AtomicU64::new(0),
        }
    }

    /// `Some(left out since the last one)` when this one should be logged.
    pub fn allow(&self) -> Option<u64> {
        use std::sync::atomic::Ordering::Relaxed;
        static START: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
        let now = START.get_or_init(std::time::Instant::now).elapsed().as_millis() as u64 + 1;
        let last = self.last.load(Relaxed);
        if last != 0 && now < last + self.every_ms {
            self.suppressed.fetch_add(1, Relaxed);
            return None;
        }
        if self.last.compare_exchange(last, now, Relaxed, Relaxed).is_err() {
            self.suppressed.fetch_add(1, Relaxed);
            return None;
        }
        Some(self.suppressed.swap(0, Relaxed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_throttled_warning_is_let_through_once_per_interval() {
        let throttle = Throttle::every(std::time::Duration::from_secs(3600));
        assert_eq!(throttle.allow(), Some(0));
        assert_eq!((0..100).filter_map(|_| throttle.allow()).count(), 0);
        assert_eq!(throttle.suppressed.load(std::sync::atomic::Ordering::Relaxed), 100);
    }
}
