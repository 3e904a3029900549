//! Group commit: appends from every actor go through one writer that commits whatever has
//! arrived while the previous transaction was in flight (up to `max_batch` appends) in a
//! single transaction, then answers each waiting actor. Durability then costs one commit
//! (one fsync) per batch instead of one per command.
//!
//! The queue is bounded: when the database falls behind, a new append is refused at once
//! with [`StorageError::Busy`] (a 503 with `Retry-After` at the edge), never buffered
//! without limit.

use std::collections::HashSet;
use std::sync::Arc;

use async_trait::async_trait;
use serde::Deserialize;
use tokio::sync::{mpsc, oneshot};
use uuid::Uuid;

use super::{AppendRequest, EventStore, RecordedEvent, Snapshot, StorageError};

#[derive(Clone, Debug, Deserialize, serde::Serialize)]
#[serde(default)]
pub struct GroupCommitSettings {
    /// Off: every append is its own transaction.
    pub enabled: bool,
    /// Appends waiting for the writer before new ones are refused.
    pub queue: usize,
    /// Most appends in one transaction.
    pub max_batch: usize,
}

impl Default for GroupCommitSettings {
    fn default() -> Self {
        GroupCommitSettings { enabled: true, queue: 20_000, max_batch: 1_000 }
    }
}

type Waiting = (AppendRequest, oneshot::Sender<Result<i64, StorageError>>);

/// An [`EventStore`] whose appends are group-committed; everything else goes straight to
/// the inner store.
pub struct GroupCommit {
    inner: Arc<dyn EventStore>,
    queue: mpsc::Sender<Waiting>,
}

impl GroupCommit {
    /// Start the writer on the current runtime.
    pub fn start(inner: Arc<dyn EventStore>, settings: &GroupCommitSettings) -> Self {
        let (queue, rx) = mpsc::channel(settings.queue.max(1));
        tokio::spawn(writer(inner.clone(), rx, settings.max_batch.max(1)));
        GroupCommit { inner, queue }
    }
}

async fn writer(store: Arc<dyn EventStore>, mut rx: mpsc::Receiver<Waiting>, max_batch: usize) {
    let mut carried: Option<Waiting> = None;
    loop {
        let first = match carried.take() {
            Some(waiting) => waiting,
            None => match rx.recv().await {
                Some(waiting) => waiting,
                None => return,
            },
        };
        let mut batch = vec![first];
        let mut streams: HashSet<Uuid> = batch.iter().map(|(r, _)| r.stream.id).collect();
        // Take what is already waiting; a second append to a stream already in the batch
        // waits for the next one, so each batch holds one append per stream.
        while batch.len() < max_batch {
            match rx.try_recv() {
                Ok(waiting) if streams.contains(&waiting.0.stream.id) => {
                    carried = Some(waiting);
                    break;
                }
                Ok(waiting) => {
                    streams.insert(waiting.0.stream.id);
                    batch.push(waiting);
                }
                Err(_) => break,
            }
        }
        let (requests, replies): (Vec<AppendRequest>, Vec<_>) = batch.into_iter().unzip();
        let results = isolated(store.as_ref(), &requests).await;
        for (reply, result) in replies.into_iter().zip(results) {
            let _ = reply.send(result);
        }
    }
}

/// Append `requests` as one batch; if the batch as a whole was refused by the database
/// (one bad row fails the one statement that writes them all), append each of them again
/// on its own, so that only the bad one fails and the other callers' writes land. An
/// outage or a conflict is not retried here: those are each caller's to handle.
async fn isolated(store: &dyn EventStore, requests: &[AppendRequest]) -> Vec<Result<i64, StorageError>> {
    let mut results = store.append_batch(requests).await;
    if requests.len() < 2 || !results.iter().any(refused_by_database) {
        return results;
    }
    tracing::warn!(batch = requests.len(), "a batch was refused; appending its requests one by one");
    for (request, result) in requests.iter().zip(results.iter_mut()) {
        if refused_by_database(result) {
            *result = store.append_batch(std::slice::from_ref(request)).await.pop().unwrap_or(Err(StorageError::Busy));
        }
    }
    results
}

/// The database answered and refused the write (bad data, a constraint): not an outage
/// (the write's fate is then unknown) and not a version conflict.
fn refused_by_database(result: &Result<i64, StorageError>) -> bool {
    matches!(result, Err(error @ StorageError::Database(_)) if !error.is_outage() && !error.is_pool_timeout())
}

#[async_trait]
impl EventStore for GroupCommit {
    async fn append_batch(&self, batch: &[AppendRequest]) -> Vec<Result<i64, StorageError>> {
        let mut results = Vec::with_capacity(batch.len());
        for request in batch {
            results.push(self.submit(request.clone()).await);
        }
        results
    }

    async fn append(
        &self,
        stream: &super::StreamRef,
        expected_version: i64,
        events: &[super::NewEvent],
        closes: bool,
    ) -> Result<i64, StorageError> {
        let request = AppendRequest { stream: stream.clone(), expected_version, events: events.to_vec(), closes };
        self.submit(request).await
    }

    async fn load(&self, stream_id: Uuid, after: i64) -> Result<Vec<RecordedEvent>, StorageError> {
        self.inner.load(stream_id, after).await
    }

    async fn open_streams(&self, kind: &str) -> Result<Vec<Uuid>, StorageError> {
        self.inner.open_streams(kind).await
    }

    async fn save_snapshot(&self, snapshot: &Snapshot) -> Result<(), StorageError> {
        self.inner.save_snapshot(snapshot).await
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

impl GroupCommit {
    async fn submit(&self, request: AppendRequest) -> Result<i64, StorageError> {
        super::hand_over(&self.queue, request, "group-commit", "an append").await
    }
}
