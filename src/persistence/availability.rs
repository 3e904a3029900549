//! Failing fast while the database is down. The first call that finds the database gone
//! (a broken connection, a pool timeout) marks it down; from then on every call is refused
//! at once with [`StorageError::Down`] instead of each waiting out its own timeout, and a
//! background probe pings the database until it answers, which marks it up again. So a
//! command during an outage gets a 503 in microseconds, `/ready` says so, and the server
//! recovers by itself when the database returns.

use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{
    AccountRecord, AccountStore, AppendRequest, DecisionLog, DecisionRecord, EventStore, PositionLog, PositionRecord,
    RecordedEvent, RefreshRecord, RefreshUse, RevokedToken, Snapshot, StorageError,
};

/// How long a dial of the database server may take before it counts as unanswered.
const DIAL_TIMEOUT: Duration = Duration::from_millis(500);

/// How often the probe asks a database that is down.
const PROBE_EVERY: Duration = Duration::from_millis(250);

/// Whether the database is reachable, shared by every port of one backend.
pub struct Availability {
    down: AtomicBool,
    /// Milliseconds since the epoch when it went down (0 when up).
    since_ms: AtomicI64,
    probe: Arc<dyn EventStore>,
    /// `host:port` of the database server, dialled to tell a saturated pool from a dead
    /// server when a call times out waiting for a connection.
    server: Option<String>,
}

impl Availability {
    /// `probe` is the ungated store the probe pings; `server` is where it lives, if it is a
    /// server.
    pub fn new(probe: Arc<dyn EventStore>, server: Option<String>) -> Arc<Availability> {
        Arc::new(Availability { down: AtomicBool::new(false), since_ms: AtomicI64::new(0), probe, server })
    }

    /// `Some(since)` while the database is down.
    pub fn down_since(&self) -> Option<DateTime<Utc>> {
        self.down.load(Ordering::Acquire).then(|| super::from_millis(self.since_ms.load(Ordering::Acquire)))
    }

    fn refuse(&self) -> Result<(), StorageError> {
        match self.down_since() {
            Some(since) => Err(StorageError::Down { since }),
            None => Ok(()),
        }
    }

    /// Note an error; if it says the database is gone, mark it down and start probing. A
    /// pool timeout is ambiguous (busy, or gone while connects are retried): the server is
    /// dialled, and only a refused or silent dial counts as an outage.
    fn observe(self: &Arc<Self>, error: &StorageError) {
        if error.is_outage() {
            self.trip(error.to_string());
        } else if error.is_pool_timeout() {
            if let Some(server) = self.server.clone() {
                let this = self.clone();
                tokio::spawn(async move {
                    let dial = tokio::time::timeout(DIAL_TIMEOUT, tokio::net::TcpStream::connect(&server)).await;
                    if !matches!(dial, Ok(Ok(_))) {
                        this.trip(format!("no connection came free and {server} does not answer"));
                    }
                });
            }
        }
    }

    fn trip(self: &Arc<Self>, error: String) {
        if self.down.swap(true, Ordering::AcqRel) {
            return;
        }
        self.since_ms.store(super::millis(Utc::now()), Ordering::Release);
        tracing::error!(error, "database unreachable; refusing storage calls until it answers again");
        metrics::gauge!(crate::telemetry::names::DATABASE_UP).set(0.0);
        let this = self.clone();
        // The probe runs on whatever runtime found the outage; it ends when the database is back.
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(PROBE_EVERY).await;
                if this.probe.ping().await.is_ok() {
                    let since = this.down_since().unwrap_or_else(Utc::now);
                    this.down.store(false, Ordering::Release);
                    this.since_ms.store(0, Ordering::Release);
                    metrics::gauge!(crate::telemetry::names::DATABASE_UP).set(1.0);
                    let secs = (Utc::now() - since).num_milliseconds() as f64 / 1000.0;
                    tracing::warn!(down_secs = secs, "database reachable again");
                    return;
                }
            }
        });
    }

    /// Run `call` unless the database is known to be down, and learn from its outcome.
    async fn guard<T>(
        self: &Arc<Self>,
        call: impl Future<Output = Result<T, StorageError>>,
    ) -> Result<T, StorageError> {
        self.refuse()?;
        let result = call.await;
        if let Err(error) = &result {
            self.observe(error);
        }
        result
    }
}

/// A port wrapped so that it fails fast while the database is down.
pub struct Gated<P: ?Sized> {
    inner: Arc<P>,
    availability: Arc<Availability>,
}

impl<P: ?Sized> Gated<P> {
    pub fn new(inner: Arc<P>, availability: Arc<Availability>) -> Self {
        Gated { inner, availability }
    }
}

#[async_trait]
impl EventStore for Gated<dyn EventStore> {
    async fn append_batch(&self, batch: &[AppendRequest]) -> Vec<Result<i64, StorageError>> {
        if let Some(since) = self.availability.down_since() {
            return batch.iter().map(|_| Err(StorageError::Down { since })).collect();
        }
        let results = self.inner.append_batch(batch).await;
        if let Some(Err(error)) = results.iter().find(|r| r.as_ref().is_err_and(StorageError::is_outage)) {
            self.availability.observe(error);
        }
        results
    }

    async fn load(&self, stream_id: Uuid, after: i64) -> Result<Vec<RecordedEvent>, StorageError> {
        self.availability.guard(self.inner.load(stream_id, after)).await
    }

    async fn open_streams(&self, kind: &str) -> Result<Vec<Uuid>, StorageError> {
        self.availability.guard(self.inner.open_streams(kind)).await
    }

    async fn save_snapshot(&self, snapshot: &Snapshot) -> Result<(), StorageError> {
        self.availability.guard(self.inner.save_snapshot(snapshot)).await
    }

    async fn save_snapshots(&self, snapshots: &[Snapshot]) -> Result<(), StorageError> {
        self.availability.guard(self.inner.save_snapshots(snapshots)).await
    }

    async fn load_snapshot(&self, stream_id: Uuid) -> Result<Option<Snapshot>, StorageError> {
        self.availability.guard(self.inner.load_snapshot(stream_id)).await
    }

    async fn ping(&self) -> Result<(), StorageError> {
        self.availability.guard(self.inner.ping()).await
    }
}

#[async_trait]
impl PositionLog for Gated<dyn PositionLog> {
    async fn save_positions(&self, positions: &[PositionRecord]) -> Result<(), StorageError> {
        self.availability.guard(self.inner.save_positions(positions)).await
    }

    async fn load_positions(&self) -> Result<Vec<PositionRecord>, StorageError> {
        self.availability.guard(self.inner.load_positions()).await
    }
}

#[async_trait]
impl DecisionLog for Gated<dyn DecisionLog> {
    async fn save_decisions(&self, decisions: &[DecisionRecord]) -> Result<(), StorageError> {
        self.availability.guard(self.inner.save_decisions(decisions)).await
    }

    async fn decisions_of(&self, order_id: Uuid, limit: u32) -> Result<Vec<DecisionRecord>, StorageError> {
        self.availability.guard(self.inner.decisions_of(order_id, limit)).await
    }

    async fn prune_decisions(&self, before: DateTime<Utc>) -> Result<u64, StorageError> {
        self.availability.guard(self.inner.prune_decisions(before)).await
    }
}

#[async_trait]
impl AccountStore for Gated<dyn AccountStore> {
    async fn create_account(&self, account: &AccountRecord) -> Result<(), StorageError> {
        self.availability.guard(self.inner.create_account(account)).await
    }

    async fn account_by_email(&self, email: &str) -> Result<Option<AccountRecord>, StorageError> {
        self.availability.guard(self.inner.account_by_email(email)).await
    }

    async fn account_by_id(&self, id: Uuid) -> Result<Option<AccountRecord>, StorageError> {
        self.availability.guard(self.inner.account_by_id(id)).await
    }

    async fn save_refresh_token(&self, token: &RefreshRecord) -> Result<(), StorageError> {
        self.availability.guard(self.inner.save_refresh_token(token)).await
    }

    async fn take_refresh_token(&self, hash: &str) -> Result<RefreshUse, StorageError> {
        self.availability.guard(self.inner.take_refresh_token(hash)).await
    }

    async fn revoke_family(&self, family: Uuid) -> Result<Vec<RevokedToken>, StorageError> {
        self.availability.guard(self.inner.revoke_family(family)).await
    }

    async fn revoke_access(&self, token: &RevokedToken) -> Result<(), StorageError> {
        self.availability.guard(self.inner.revoke_access(token)).await
    }

    async fn revoked_access(&self) -> Result<Vec<RevokedToken>, StorageError> {
        self.availability.guard(self.inner.revoked_access()).await
    }
}
