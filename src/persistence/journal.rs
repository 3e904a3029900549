//! The typed side of the event store: loading an aggregate from its snapshot and the events
//! after it, and turning decided events into an append, with snapshot bookkeeping.

use std::marker::PhantomData;
use std::sync::Arc;

use crate::domain::Aggregate;

use super::{EventStore, NewEvent, Snapshot, StorageError, StreamRef};

/// An aggregate as loaded, with its position in the stream.
pub struct Loaded<A: Aggregate> {
    pub state: Option<A>,
    pub journal: Journal<A>,
}

/// Where an aggregate's stream stands: its version and when it was last snapshotted.
#[derive(Debug)]
pub struct Journal<A: Aggregate> {
    id: A::Id,
    version: i64,
    snapshot_version: i64,
    _aggregate: PhantomData<fn() -> A>,
}

/// An append ready to be sent, owned so it can cross an await in an actor.
pub struct PendingAppend {
    pub stream: StreamRef,
    pub expected_version: i64,
    pub events: Vec<NewEvent>,
    pub closes: bool,
}

impl PendingAppend {
    pub async fn write(self, store: Arc<dyn EventStore>) -> Result<i64, StorageError> {
        store.append(&self.stream, self.expected_version, &self.events, self.closes).await
    }
}

impl<A: Aggregate> Journal<A> {
    pub fn new(id: A::Id) -> Self {
        Journal { id, version: 0, snapshot_version: 0, _aggregate: PhantomData }
    }

    pub fn version(&self) -> i64 {
        self.version
    }

    /// Load from the latest snapshot and the events after it. A snapshot that no longer
    /// deserialises (the state's shape changed) is ignored and the whole stream replayed.
    pub async fn load(store: &dyn EventStore, id: A::Id) -> Result<Loaded<A>, StorageError> {
        let stream_id = id.into();
        let snapshot = store.load_snapshot(stream_id).await?;
        let (mut state, after) = match snapshot {
            Some(snapshot) => match serde_json::from_value::<A>(snapshot.state) {
                Ok(state) => (Some(state), snapshot.seq),
                Err(error) => {
                    tracing::warn!(%stream_id, %error, "snapshot unreadable, replaying the whole stream");
                    (None, 0)
                }
            },
            None => (None, 0),
        };
        let snapshot_version = after;
        let mut version = after;
        for recorded in store.load(stream_id, after).await? {
            let event: A::Event = serde_json::from_value(recorded.payload).map_err(|e| {
                StorageError::Corrupt(format!("{} event {} of {stream_id}: {e}", A::KIND, recorded.seq))
            })?;
            state = A::apply(state, id, &event);
            version = recorded.seq;
        }
        Ok(Loaded { state, journal: Journal { id, version, snapshot_version, _aggregate: PhantomData } })
    }

    /// The state after `events`, and the append that makes them durable.
    pub fn prepare(&self, state: Option<&A>, events: &[A::Event]) -> Result<(Option<A>, PendingAppend), StorageError> {
        let next = events.iter().fold(state.cloned(), |s, e| A::apply(s, self.id, e));
        let Some(after) = next.as_ref() else {
            return Err(StorageError::Corrupt(format!("{} {} has no state after its events", A::KIND, self.id)));
        };
        let events = events
            .iter()
            .map(|event| {
                serde_json::to_value(event)
                    .map(|payload| NewEvent { event_type: A::event_name(event), payload })
                    .map_err(|e| StorageError::Corrupt(format!("cannot serialise event: {e}")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let append = PendingAppend {
            stream: StreamRef { id: self.id.into(), kind: A::KIND, zone: after.zone().to_string() },
            expected_version: self.version,
            events,
            closes: after.is_closed(),
        };
        Ok((next, append))
    }

    /// Record that an append landed at `version`.
    pub fn committed(&mut self, version: i64) {
        self.version = version;
    }

    /// A snapshot of `state` if `every` events have passed since the last one (or, with
    /// `every` = 1, whenever anything changed: used on shutdown).
    pub fn snapshot_due(&mut self, state: Option<&A>, every: i64) -> Option<Snapshot> {
        let state = state?;
        if self.version - self.snapshot_version < every.max(1) {
            return None;
        }
        let state = serde_json::to_value(state).ok()?;
        self.snapshot_version = self.version;
        Some(Snapshot { stream_id: self.id.into(), seq: self.version, state })
    }
}
