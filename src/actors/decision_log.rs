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

    /// Write what is queued; on failure it is queued again, ahead of anything newer.
    pub async fn write(&self, log: &dyn DecisionLog) {
        let batch: Vec<DecisionRecord> = {
            let mut pending = self.pending.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            pending.drain(..).collect()
        };
        if batch.is_empty() {
            return;
        }
        if let Err(error) = log.save_decisions(&batch).await {
            tracing::warn!(%error, n = batch.len(), "dispatch decisions not written; keeping them for the next try");
            let mut pending = self.pending.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            let room = CAPACITY.saturating_sub(pending.len());
            let dropped = batch.len().saturating_sub(room);
            if dropped > 0 {
                metrics::counter!(names::DECISIONS_DROPPED).increment(dropped as u64);
            }
            for record in batch.into_iter().skip(dropped).rev() {
                pending.push_front(record);
            }
        }
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
