//! Snapshot writes batched: every actor snapshots every few events, and under load that is
//! hundreds of snapshots a second. Each going out as a transaction of its own would cost a
//! pooled connection and several round trips apiece, so one writer takes whatever snapshots
//! are waiting and saves them together (in one transaction where the backend can), then
//! answers each caller. Appends and everything else go straight through.
//!
//! The queue is bounded: when it is full a snapshot is refused with [`StorageError::Busy`]
//! at once. A missing snapshot only costs a longer replay.

use std::sync::Arc;

use async_trait::async_trait;
use tokio::sync::{mpsc, oneshot};
use uuid::Uuid;

use super::{AppendRequest, EventStore, NewEvent, RecordedEvent, Snapshot, StorageError, StreamRef};

/// Snapshots waiting for the writer before new ones are refused.
const QUEUE: usize = 10_000;

/// Most snapshots in one write.
const MAX_BATCH: usize = 500;

type Waiting = (Snapshot, oneshot::Sender<Result<(), StorageError>>);

/// An [`EventStore`] whose snapshot writes are batched.
pub struct SnapshotBatcher {
    inner: Arc<dyn EventStore>,
    queue: mpsc::Sender<Waiting>,
}

impl SnapshotBatcher {
    /// Start the writer on the current runtime.
    pub fn start(inner: Arc<dyn EventStore>) -> Self {
        let (queue, rx) = mpsc::channel(QUEUE);
        tokio::spawn(writer(inner.clone(), rx));
        SnapshotBatcher { inner, queue }
    }
}

async fn writer(store: Arc<dyn EventStore>, mut rx: mpsc::Receiver<Waiting>) {
    let mut batch = Vec::new();
    while rx.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let (snapshots, replies): (Vec<Snapshot>, Vec<_>) = batch.drain(..).unzip();
        let result = store.save_snapshots(&snapshots).await;
        for reply in replies {
            let _ = reply.send(result.as_ref().map(|_| ()).map_err(echo));
        }
    }
}

/// The same error for each caller of a failed batch (a database error is not `Clone`).
fn echo(error: &StorageError) -> StorageError {
    match error {
        StorageError::Conflict { stream_id, expected, actual } => {
            StorageError::Conflict { stream_id: *stream_id, expected: *expected, actual: *actual }
        }
        StorageError::Unavailable(e) => StorageError::Unavailable(sqlx::Error::Protocol(e.to_string())),
        StorageError::Database(e) => StorageError::Database(sqlx::Error::Protocol(e.to_string())),
        StorageError::Corrupt(message) => StorageError::Corrupt(message.clone()),
        StorageError::Busy => StorageError::Busy,
        StorageError::Down { since } => StorageError::Down { since: *since },
    }
}

#[async_trait]
impl EventStore for SnapshotBatcher {
    async fn append_batch(&self, batch: &[AppendRequest]) -> Vec<Result<i64, StorageError>> {
        self.inner.append_batch(batch).await
    }

    async fn append(
        &self,
        stream: &StreamRef,
        expected_version: i64,
        events: &[NewEvent],
        closes: bool,
    ) -> Result<i64, StorageError> {
        self.inner.append(stream, expected_version, events, closes).await
    }

    async fn load(&self, stream_id: Uuid, after: i64) -> Result<Vec<RecordedEvent>, StorageError> {
        self.inner.load(stream_id, after).await
    }

    async fn open_streams(&self, kind: &str) -> Result<Vec<Uuid>, StorageError> {
        self.inner.open_streams(kind).await
    }

    async fn save_snapshot(&self, snapshot: &Snapshot) -> Result<(), StorageError> {
        super::hand_over(&self.queue, snapshot.clone(), "snapshot", "a snapshot").await
    }

    async fn save_snapshots(&self, snapshots: &[Snapshot]) -> Result<(), StorageError> {
        self.inner.save_snapshots(snapshots).await
    }

    async fn load_snapshot(&self, stream_id: Uuid) -> Result<Option<Snapshot>, StorageError> {
        self.inner.load_snapshot(stream_id).await
    }

    async fn ping(&self) -> Result<(), StorageError> {
        self.inner.ping().await
    }
}
