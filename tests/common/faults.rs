//! An event store that fails on purpose, wrapped around the real one: every append can be
//! refused as unavailable (nothing written), or a stream's first append can be written and
//! then reported lost (committed, then the connection dropped: its fate unknown to the
//! caller), or reported lost without being written. It counts the appends it is asked for.

use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::Arc;

use async_trait::async_trait;
use baedal::persistence::{AppendRequest, EventStore, RecordedEvent, Snapshot, StorageError};
use uuid::Uuid;

#[derive(Clone, Copy, Debug, PartialEq)]
#[repr(u8)]
pub enum Fault {
    None = 0,
    /// Every append: the writer's queue is full; nothing written.
    Unavailable = 1,
    /// A stream's first append is written, then reported as a lost connection.
    FirstWriteLandsInDoubt = 2,
    /// A stream's first append is not written, and reported as a lost connection.
    FirstWriteLostInDoubt = 3,
}

pub struct Faulty {
    inner: Arc<dyn EventStore>,
    fault: AtomicU8,
    pub appends: AtomicU64,
}

impl Faulty {
    pub fn around(inner: Arc<dyn EventStore>) -> Arc<Faulty> {
        Arc::new(Faulty { inner, fault: AtomicU8::new(0), appends: AtomicU64::new(0) })
    }

    pub fn set(&self, fault: Fault) {
        self.fault.store(fault as u8, Ordering::SeqCst);
    }

    fn fault(&self) -> Fault {
        match self.fault.load(Ordering::SeqCst) {
            1 => Fault::Unavailable,
            2 => Fault::FirstWriteLandsInDoubt,
            3 => Fault::FirstWriteLostInDoubt,
            _ => Fault::None,
        }
    }

    pub fn appends(&self) -> u64 {
        self.appends.load(Ordering::SeqCst)
    }
}

/// A connection lost mid-write: whether it committed is unknown.
fn lost() -> StorageError {
    StorageError::Unavailable(sqlx::Error::PoolClosed)
}

#[async_trait]
impl EventStore for Faulty {
    async fn append_batch(&self, batch: &[AppendRequest]) -> Vec<Result<i64, StorageError>> {
        self.appends.fetch_add(batch.len() as u64, Ordering::SeqCst);
        match self.fault() {
            Fault::None => self.inner.append_batch(batch).await,
            Fault::Unavailable => batch.iter().map(|_| Err(StorageError::Busy)).collect(),
            Fault::FirstWriteLandsInDoubt => {
                let written = self.inner.append_batch(batch).await;
                batch
                    .iter()
                    .zip(written)
                    .map(|(request, result)| if request.expected_version == 0 { Err(lost()) } else { result })
                    .collect()
            }
            Fault::FirstWriteLostInDoubt => {
                let mut results = Vec::with_capacity(batch.len());
                for request in batch {
                    if request.expected_version == 0 {
                        results.push(Err(lost()));
                    } else {
                        results.extend(self.inner.append_batch(std::slice::from_ref(request)).await);
                    }
                }
                results
            }
        }
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
