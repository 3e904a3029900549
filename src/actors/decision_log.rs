//! The dispatchers' decisions on their way to the database. A tick must not wait on a
//! write, so each offer's [`Decision`] is queued here and written behind in batches with
//! the rider positions. The queue is bounded: while the database is down the oldest
//! records give way (counted and logged), never the dispatcher's memory. Reads see the
//! queue as well as the table, so a decision is readable the moment it is made.

use std::collections::VecDeque;
use std::sync::Mutex;

use crate::dispatch::Decision;
use crate::persistence::{DecisionLog, DecisionRecord, StorageError};
use crate::telemetry::names;

/// Decisions held while the database is unreachable, at most.
const CAPACITY: usize = 20_000;

/// How many of an order's latest decisions a read returns at most (an order waiting long
/// for a rider is offered again and again).
pub const READ_LIMIT: u32 = 200;

#[derive(Default)]
pub struct DecisionQueue {
    pending: Mutex<VecDeque<DecisionRecord>>,
}

impl DecisionQueue {
    pub fn push(&self, decisions: Vec<Decision>) {
        if decisions.is_empty() {
            return;
        }
        let mut pending = self.pending.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        for decision in decisions {
            let body = match serde_json::to_value(&decision) {
                Ok(body) => body,
                Err(error) => {
                    tracing::warn!(%error, order = %decision.order, "dispatch decision not recorded");
                    continue;
                }
            };
            if pending.len() >= CAPACITY {
                pending.pop_front();
                metrics::counter!(names::DECISIONS_DROPPED).increment(1);
            }
            pending.push_back(DecisionRecord { order_id: decision.order.as_uuid(), at: decision.at, body });
        }
    }

    /// Write what is queued. The records stay queued until the write has committed, so a
    /// read meanwhile finds them in the queue or in the table, never in neither; on failure
    /// they are simply still there for the next try.
    pub async fn write(&self, log: &dyn DecisionLog) {
        let batch: Vec<DecisionRecord> = {
            let pending = self.pending.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            pending.iter().cloned().collect()
        };
        if batch.is_empty() {
            return;
        }
        if let Err(error) = log.save_decisions(&batch).await {
            tracing::warn!(%error, n = batch.len(), "dispatch decisions not written; keeping them for the next try");
            return;
        }
        let mut pending = self.pending.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        // Meanwhile only the oldest records can have given way (a full queue) and newer ones
        // joined at the back: what is left of the batch is still the front of the queue.
        let left =
            pending.front().and_then(|front| batch.iter().position(|r| r == front)).map_or(0, |at| batch.len() - at);
        let left = left.min(pending.len());
        pending.drain(..left);
    }

    /// An order's decisions, oldest first: the stored ones, then any not yet written.
    pub async fn of(&self, log: &dyn DecisionLog, order: uuid::Uuid) -> Result<Vec<DecisionRecord>, StorageError> {
        // The queue first: a record written meanwhile is then found in the table, and one
        // found in both is kept once.
        let queued: Vec<DecisionRecord> = {
            let pending = self.pending.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            pending.iter().filter(|r| r.order_id == order).cloned().collect()
        };
        let mut records = log.decisions_of(order, READ_LIMIT).await?;
        let fresh: Vec<DecisionRecord> = queued.into_iter().filter(|r| !records.contains(r)).collect();
        records.extend(fresh);
        let excess = records.len().saturating_sub(READ_LIMIT as usize);
        records.drain(..excess);
        Ok(records)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use async_trait::async_trait;
    use chrono::{DateTime, Utc};

    use super::*;
    use crate::dispatch::Policy;
    use crate::domain::{OrderId, RiderId};

    /// A table whose writes wait at a gate, so a read can come while one is under way.
    #[derive(Default)]
    struct Gated {
        gate: tokio::sync::Notify,
        table: Mutex<Vec<DecisionRecord>>,
    }

    #[async_trait]
    impl DecisionLog for Gated {
        async fn save_decisions(&self, decisions: &[DecisionRecord]) -> Result<(), StorageError> {
            self.gate.notified().await;
            self.table.lock().unwrap().extend(decisions.iter().cloned());
            Ok(())
        }

        async fn decisions_of(&self, order_id: uuid::Uuid, _limit: u32) -> Result<Vec<DecisionRecord>, StorageError> {
            Ok(self.table.lock().unwrap().iter().filter(|r| r.order_id == order_id).cloned().collect())
        }

        async fn prune_decisions(&self, _before: DateTime<Utc>) -> Result<u64, StorageError> {
            Ok(0)
        }
    }

    #[tokio::test]
    async fn a_decision_being_written_is_read_once_and_leaves_the_queue_after_the_write() {
        let (queue, log) = (DecisionQueue::default(), Gated::default());
        let order = OrderId::random();
        queue.push(vec![Decision {
            order,
            at: Utc::now(),
            policy: Policy::Optimal,
            rider: RiderId::random(),
            pickup_eta_secs: 60.0,
            radius_m: 1000.0,
            waited_secs: 0.0,
            free_riders: 1,
            waiting_orders: 1,
            candidates: Vec::new(),
            excluded: Vec::new(),
            shift_ending: Vec::new(),
            trip: Vec::new(),
            joins_trip: false,
        }]);
        let writing = queue.write(&log);
        let reading = async {
            let during = queue.of(&log, order.as_uuid()).await.unwrap();
            log.gate.notify_one();
            during
        };
        let ((), during) = tokio::join!(writing, reading);
        assert_eq!(during.len(), 1, "while the write is under way");
        assert_eq!(queue.of(&log, order.as_uuid()).await.unwrap().len(), 1, "after it: once, from the table");
        assert!(queue.pending.lock().unwrap().is_empty());
    }
}
