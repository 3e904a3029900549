//! Storage ports and their adapters.
//!
//! The actors see only the traits here: [`EventStore`] (append-only streams with optimistic
//! concurrency, plus snapshots) and [`PositionLog`] (write-behind of rider positions, which are
//! not events). Two adapters implement both: PostgreSQL for production and SQLite as the
//! embedded default. One contract test suite runs against both.

pub mod availability;
mod group_commit;
mod journal;
mod migrations;
pub mod postgres;
mod snapshots;
pub mod sqlite;

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

pub use group_commit::{GroupCommit, GroupCommitSettings};
pub use journal::{Journal, Loaded};
pub use snapshots::SnapshotBatcher;

/// Which stream an append goes to, with what it needs for bookkeeping.
#[derive(Clone, Debug, PartialEq)]
pub struct StreamRef {
    pub id: Uuid,
    pub kind: &'static str,
    pub zone: String,
}

/// One stream's append, as a batch holds it.
#[derive(Clone, Debug, PartialEq)]
pub struct AppendRequest {
    pub stream: StreamRef,
    pub expected_version: i64,
    pub events: Vec<NewEvent>,
    pub closes: bool,
}

/// An event about to be appended, already serialised.
#[derive(Clone, Debug, PartialEq)]
pub struct NewEvent {
    pub event_type: &'static str,
    pub payload: serde_json::Value,
}

#[derive(Clone, Debug, PartialEq)]
pub struct RecordedEvent {
    pub stream_id: Uuid,
    pub seq: i64,
    pub event_type: String,
    pub payload: serde_json::Value,
    pub recorded_at: DateTime<Utc>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Snapshot {
    pub stream_id: Uuid,
    /// The sequence number of the last event folded into `state`.
    pub seq: i64,
    pub state: serde_json::Value,
}

/// A rider's last known position, written behind.
#[derive(Clone, Debug, PartialEq)]
pub struct PositionRecord {
    pub rider_id: Uuid,
    pub lat: f64,
    pub lon: f64,
    pub at: DateTime<Utc>,
}

#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// Someone else appended first: (stream_id, seq) is unique.
    #[error("stream {stream_id} is at version {actual:?}, not {expected}")]
    Conflict { stream_id: Uuid, expected: i64, actual: Option<i64> },
    #[error("the database is unavailable: {0}")]
    Unavailable(#[source] sqlx::Error),
    #[error("database error: {0}")]
    Database(#[source] sqlx::Error),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    /// The writer's queue is full: the database is behind. Nothing was written.
    #[error("the event store is busy; retry shortly")]
    Busy,
    /// The database is known to be down (see [`availability`]); nothing was attempted.
    #[error("the database has been unreachable since {since}; retry shortly")]
    Down { since: DateTime<Utc> },
}

impl StorageError {
    /// Whether this error says the database itself is gone: a lost or refused connection,
    /// the server shutting down. A write that failed so may or may not have committed.
    pub fn is_outage(&self) -> bool {
        match self {
            StorageError::Unavailable(sqlx::Error::PoolTimedOut) => false,
            StorageError::Unavailable(_) => true,
            StorageError::Database(error) => is_connection_error(error),
            _ => false,
        }
    }

    /// No connection came free in time: the pool is saturated or the database is gone
    /// (connection attempts are retried until the timeout). Nothing was sent.
    pub fn is_pool_timeout(&self) -> bool {
        matches!(
            self,
            StorageError::Unavailable(sqlx::Error::PoolTimedOut) | StorageError::Database(sqlx::Error::PoolTimedOut)
        )
    }
}

/// Hand `item` to a writer task's bounded queue and wait for its answer. A full queue is
/// refused at once with [`StorageError::Busy`]: the database is behind, and callers get
/// backpressure instead of unbounded memory. `writer` and `what` name them in errors.
async fn hand_over<T, R>(
    queue: &tokio::sync::mpsc::Sender<(T, tokio::sync::oneshot::Sender<Result<R, StorageError>>)>,
    item: T,
    writer: &str,
    what: &str,
) -> Result<R, StorageError> {
    use tokio::sync::mpsc::error::TrySendError;
    let (reply, answer) = tokio::sync::oneshot::channel();
    queue.try_send((item, reply)).map_err(|error| match error {
        TrySendError::Full(_) => StorageError::Busy,
        TrySendError::Closed(_) => StorageError::Corrupt(format!("the {writer} writer stopped")),
    })?;
    answer.await.map_err(|_| StorageError::Corrupt(format!("the {writer} writer dropped {what}")))?
}

/// A lost or refused connection, a pool timeout, or PostgreSQL shutting down.
pub fn is_connection_error(error: &sqlx::Error) -> bool {
    matches!(error, sqlx::Error::Io(_) | sqlx::Error::PoolClosed)
        || matches!(error, sqlx::Error::Database(db) if db.code().is_some_and(|c| c.starts_with("08") || c.starts_with("57P")))
}

impl From<sqlx::Error> for StorageError {
    fn from(error: sqlx::Error) -> Self {
        match error {
            sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) | sqlx::Error::Tls(_) => {
                StorageError::Unavailable(error)
            }
            other => StorageError::Database(other),
        }
    }
}

#[async_trait]
pub trait EventStore: Send + Sync + 'static {
    /// Append to several streams in one transaction: one result per request, in order. A
    /// request whose stream is not at its expected version gets `Conflict` and writes
    /// nothing; the others are unaffected. If the transaction fails, every request fails.
    async fn append_batch(&self, batch: &[AppendRequest]) -> Vec<Result<i64, StorageError>>;

    /// Append `events` to a stream that is at `expected_version` (0 for a new stream) and
    /// return the new version. All or nothing. `closes` marks the stream finished, so it is
    /// not loaded again at start-up.
    async fn append(
        &self,
        stream: &StreamRef,
        expected_version: i64,
        events: &[NewEvent],
        closes: bool,
    ) -> Result<i64, StorageError> {
        let request = AppendRequest { stream: stream.clone(), expected_version, events: events.to_vec(), closes };
        self.append_batch(std::slice::from_ref(&request))
            .await
            .pop()
            .unwrap_or(Err(StorageError::Corrupt("an append had no result".into())))
    }

    /// Events of a stream with seq > `after`, in order.
    async fn load(&self, stream_id: Uuid, after: i64) -> Result<Vec<RecordedEvent>, StorageError>;

    /// Ids of the streams of `kind` that are not closed.
    async fn open_streams(&self, kind: &str) -> Result<Vec<Uuid>, StorageError>;

    async fn save_snapshot(&self, snapshot: &Snapshot) -> Result<(), StorageError>;

    /// Several snapshots at once (a stream named twice keeps its newest). Adapters that can
    /// write them in one transaction do; by default they go one at a time.
    async fn save_snapshots(&self, snapshots: &[Snapshot]) -> Result<(), StorageError> {
        for snapshot in snapshots {
            self.save_snapshot(snapshot).await?;
        }
        Ok(())
    }

    async fn load_snapshot(&self, stream_id: Uuid) -> Result<Option<Snapshot>, StorageError>;

    /// Cheap round trip for readiness.
    async fn ping(&self) -> Result<(), StorageError>;
}

#[async_trait]
pub trait PositionLog: Send + Sync + 'static {
    /// Upsert the latest position of each rider.
    async fn save_positions(&self, positions: &[PositionRecord]) -> Result<(), StorageError>;
    async fn load_positions(&self) -> Result<Vec<PositionRecord>, StorageError>;
}

/// Why an order was offered to its rider: a dispatch decision, as stored (its body is the
/// decision's JSON, which the dispatch module owns).
#[derive(Clone, Debug, PartialEq)]
pub struct DecisionRecord {
    pub order_id: Uuid,
    pub at: DateTime<Utc>,
    pub body: serde_json::Value,
}

#[async_trait]
pub trait DecisionLog: Send + Sync + 'static {
    /// Append decisions (written behind, in batches).
    async fn save_decisions(&self, decisions: &[DecisionRecord]) -> Result<(), StorageError>;
    /// An order's decisions, oldest first, at most `limit` of the latest.
    async fn decisions_of(&self, order_id: Uuid, limit: u32) -> Result<Vec<DecisionRecord>, StorageError>;
    /// Forget decisions made before `before` (in batches, so no lock is held long); returns
    /// how many went.
    async fn prune_decisions(&self, before: DateTime<Utc>) -> Result<u64, StorageError>;
}

/// Rows one statement of [`DecisionLog::prune_decisions`] deletes at most.
pub const PRUNE_BATCH: i64 = 5_000;

/// Run `delete_batch` (a statement deleting at most [`PRUNE_BATCH`] rows, returning how
/// many went) until a batch comes back short; returns the rows deleted in all.
async fn delete_in_batches<F, Fut>(mut delete_batch: F) -> Result<u64, StorageError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<u64, StorageError>>,
{
    let mut gone = 0;
    loop {
        let deleted = delete_batch().await?;
        gone += deleted;
        if deleted < PRUNE_BATCH as u64 {
            return Ok(gone);
        }
    }
}

/// A login, as stored.
#[derive(Clone, Debug, PartialEq)]
pub struct AccountRecord {
    pub id: Uuid,
    pub email: String,
    pub password_hash: String,
    /// `customer`, `store`, `rider` or `operator`.
    pub role: String,
    /// The customer, store, rider or operator id the account acts as.
    pub subject: Uuid,
    pub name: String,
    pub created_at: DateTime<Utc>,
}

#[async_trait]
pub trait AccountStore: Send + Sync + 'static {
    /// Fails with `Conflict` when the email is taken.
    async fn create_account(&self, account: &AccountRecord) -> Result<(), StorageError>;
    async fn account_by_email(&self, email: &str) -> Result<Option<AccountRecord>, StorageError>;
    async fn account_by_id(&self, id: Uuid) -> Result<Option<AccountRecord>, StorageError>;
    /// Keep a refresh token (by its hash), with the access token issued beside it.
    async fn save_refresh_token(&self, token: &RefreshRecord) -> Result<(), StorageError>;
    /// Use up a refresh token: each is good once. A token already used (or revoked) says
    /// which family it belongs to, so that its reuse can revoke the family.
    async fn take_refresh_token(&self, hash: &str) -> Result<RefreshUse, StorageError>;
    /// Revoke every refresh token of `family`, and put the access tokens issued with them
    /// that have not expired yet on the deny-list; returns those.
    async fn revoke_family(&self, family: Uuid) -> Result<Vec<RevokedToken>, StorageError>;
    /// Put one access token on the deny-list until it expires.
    async fn revoke_access(&self, token: &RevokedToken) -> Result<(), StorageError>;
    /// The deny-list: revoked access tokens not yet expired (expired ones are forgotten).
    async fn revoked_access(&self) -> Result<Vec<RevokedToken>, StorageError>;
}

/// A refresh token as stored: by its hash, in the family of tokens one login started
/// (each refresh adds one), with the access token issued beside it so that revoking the
/// family can revoke that too.
#[derive(Clone, Debug, PartialEq)]
pub struct RefreshRecord {
    pub hash: String,
    pub account: Uuid,
    pub family: Uuid,
    pub expires_at: DateTime<Utc>,
    pub access_jti: Uuid,
    pub access_expires_at: DateTime<Utc>,
}

/// What using a refresh token found.
#[derive(Clone, Debug, PartialEq)]
pub enum RefreshUse {
    /// Live until now, and used up by this call.
    Taken { account: Uuid, family: Uuid },
    /// Already used or revoked: somebody is replaying it.
    Spent { family: Uuid },
    /// Never issued, expired, or from before token families.
    Unknown,
}

/// An access token (by its `jti`) revoked before it expires.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RevokedToken {
    pub jti: Uuid,
    pub expires_at: DateTime<Utc>,
}

/// The ports of one backend.
#[derive(Clone)]
pub struct Storage {
    pub events: Arc<dyn EventStore>,
    pub positions: Arc<dyn PositionLog>,
    pub accounts: Arc<dyn AccountStore>,
    pub decisions: Arc<dyn DecisionLog>,
    /// Whether the database is known to be down (every port above fails fast while it is).
    pub availability: Arc<availability::Availability>,
    pub backend: &'static str,
}

impl Storage {
    /// The same storage with appends group-committed (when enabled). Must run inside a
    /// tokio runtime: it starts the writer.
    pub fn with_group_commit(mut self, settings: &GroupCommitSettings) -> Storage {
        if settings.enabled {
            self.events = Arc::new(GroupCommit::start(self.events, settings));
        }
        self
    }

    /// The same storage with snapshot writes batched: whatever snapshots are waiting go out
    /// together, in one transaction where the backend can. Must run inside a tokio runtime:
    /// it starts the writer.
    pub fn with_batched_snapshots(mut self) -> Storage {
        self.events = Arc::new(SnapshotBatcher::start(self.events));
        self
    }

    /// One backend's ports, each failing fast while the database is down.
    fn gated(
        events: Arc<dyn EventStore>,
        positions: Arc<dyn PositionLog>,
        accounts: Arc<dyn AccountStore>,
        decisions: Arc<dyn DecisionLog>,
        backend: &'static str,
        server: Option<String>,
    ) -> Storage {
        use availability::{Availability, Gated};
        let availability = Availability::new(events.clone(), server);
        Storage {
            events: Arc::new(Gated::new(events, availability.clone())),
            positions: Arc::new(Gated::new(positions, availability.clone())),
            accounts: Arc::new(Gated::new(accounts, availability.clone())),
            decisions: Arc::new(Gated::new(decisions, availability.clone())),
            availability,
            backend,
        }
    }

    /// Connect to `url` (`postgres://...` or `sqlite://...`) and run the migrations.
    pub async fn connect(url: &str, max_connections: u32) -> Result<Storage, StorageError> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let store = Arc::new(postgres::PgStore::connect(url, max_connections).await?);
            let server = postgres::server_address(url);
            Ok(Storage::gated(store.clone(), store.clone(), store.clone(), store, "postgres", server))
        } else if url.starts_with("sqlite:") {
            let store = Arc::new(sqlite::SqliteStore::connect(url, max_connections).await?);
            // An embedded file has no server to lose: a pool timeout there is contention.
            Ok(Storage::gated(store.clone(), store.clone(), store.clone(), store, "sqlite", None))
        } else {
            Err(StorageError::Corrupt(format!(
                "database url must start with postgres:// or sqlite: (got {})",
                url.split(':').next().unwrap_or_default()
            )))
        }
    }
}

pub(crate) fn millis(at: DateTime<Utc>) -> i64 {
    at.timestamp_millis()
}

pub(crate) fn from_millis(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap_or_default()
}
