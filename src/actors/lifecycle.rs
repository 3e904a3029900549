//! Start-up recovery, the rider-position writer, and the shutdown flush.

use std::sync::Arc;
use std::time::Duration;

use actix::dev::ToEnvelope;
use actix::{Actor, Addr, Handler};
use futures_util::future::join_all;

use crate::domain::{GeoPoint, OrderId, RiderId, StoreId};
use crate::persistence::{PositionLog, PositionRecord, Snapshot, Storage, StorageError};

use super::{Flush, GetOrder, GetRider, GetStore, Platform};

/// Snapshots written per statement at shutdown.
const SHUTDOWN_SNAPSHOT_BATCH: usize = 500;

/// What recovery brought back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Recovered {
    pub stores: usize,
    pub riders: usize,
    pub orders: usize,
}

/// Bring every store, rider and live order back as it was. Stores and riders come first,
/// so that the orders, as they load, can tell them about their boards and jobs; dispatch
/// starts last, once every dispatcher knows which riders are held.
#[tracing::instrument(name = "recover", skip_all)]
pub async fn recover(platform: &Arc<Platform>) -> Result<Recovered, StorageError> {
    let store = platform.storage.events.clone();
    for record in platform.storage.positions.load_positions().await? {
        if let Ok(point) = GeoPoint::new(record.lat, record.lon) {
            platform.saved_positions.insert(RiderId::from_uuid(record.rider_id), point);
        }
    }

    let stores = store.open_streams("store").await?;
    let loading = stores.iter().map(|id| platform.start_store(StoreId::from_uuid(*id)).send(GetStore));
    join_all(loading).await;

    let riders = store.open_streams("rider").await?;
    let loading = riders.iter().map(|id| platform.start_rider(RiderId::from_uuid(*id)).send(GetRider));
    join_all(loading).await;

    // Every order must be loaded (and so have told its dispatcher which rider it holds)
    // before dispatch starts, or a held rider could look free.
    let orders = store.open_streams("order").await?;
    let loading = orders.iter().map(|id| loaded(platform, OrderId::from_uuid(*id)));
    for result in join_all(loading).await {
        result?;
    }

    platform.saved_positions.clear();
    platform.start_dispatching();
    let recovered = Recovered { stores: stores.len(), riders: riders.len(), orders: orders.len() };
    tracing::info!(?recovered, "recovered");
    Ok(recovered)
}

/// Start an order's actor and wait until it has loaded, retrying while storage is busy.
async fn loaded(platform: &Arc<Platform>, id: OrderId) -> Result<(), StorageError> {
    let addr = platform.start_order(id);
    let mut last = None;
    for _ in 0..100 {
        match addr.send(GetOrder).await {
            Ok(Ok(_)) => return Ok(()),
            Ok(Err(error)) => last = Some(error.to_string()),
            Err(error) => last = Some(error.to_string()),
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    Err(StorageError::Corrupt(format!("order {id} did not load: {}", last.unwrap_or_default())))
}

/// Write rider positions and dispatch decisions behind, in batches, every
/// `position_flush_ms`.
pub fn spawn_position_writer(platform: Arc<Platform>) {
    let every = Duration::from_millis(platform.settings.dispatch.position_flush_ms.max(50));
    actix::spawn(async move {
        let mut interval = tokio::time::interval(every);
        loop {
            interval.tick().await;
            write_positions(&platform, platform.storage.positions.as_ref()).await;
            platform.decisions.write(platform.storage.decisions.as_ref()).await;
        }
    });
}

/// Delete dispatch decisions past `dispatch.decision_retention_days`, now and every hour: the
/// log grows with every offer, and an operator reads it about orders of the last days.
pub fn spawn_decision_pruner(platform: Arc<Platform>) {
    let days = i64::from(platform.settings.dispatch.decision_retention_days.max(1));
    actix::spawn(async move {
        let mut interval = tokio::time::interval(Duration::from_secs(3600));
        loop {
            interval.tick().await;
            let before = chrono::Utc::now() - chrono::Duration::days(days);
            match platform.storage.decisions.prune_decisions(before).await {
                Ok(0) => {}
                Ok(gone) => tracing::info!(gone, days, "old dispatch decisions deleted"),
                Err(error) => tracing::warn!(%error, "old dispatch decisions not deleted; trying again in an hour"),
            }
        }
    });
}

async fn write_positions(platform: &Platform, positions: &dyn PositionLog) {
    let batch: Vec<PositionRecord> = {
        let keys: Vec<RiderId> = platform.dirty_positions.iter().map(|e| *e.key()).collect();
        keys.into_iter().filter_map(|k| platform.dirty_positions.remove(&k).map(|(_, v)| v)).collect()
    };
    if batch.is_empty() {
        return;
    }
    if let Err(error) = positions.save_positions(&batch).await {
        tracing::warn!(%error, n = batch.len(), "rider positions not written; keeping them for the next try");
        for record in batch {
            platform.dirty_positions.entry(RiderId::from_uuid(record.rider_id)).or_insert(record);
        }
    }
}

/// The snapshots `actors` hand over ([`Flush`]); one that has stopped has none to give.
async fn snapshots_of<A>(actors: &[Addr<A>]) -> Vec<Snapshot>
where
    A: Actor + Handler<Flush>,
    A::Context: ToEnvelope<A, Flush>,
{
    join_all(actors.iter().map(|a| a.send(Flush))).await.into_iter().filter_map(|s| s.ok().flatten()).collect()
}

/// Snapshot every live actor and write pending positions (graceful shutdown).
///
/// The writes go through a connection made now rather than the running pool: the pool's
/// connections may have been opened by HTTP workers, whose runtimes have just stopped and
/// taken those connections' sockets with them. Only if no fresh connection can be had is
/// the running pool tried.
pub async fn shutdown(platform: &Arc<Platform>) {
    let orders = platform.live_orders();
    let stores = platform.stores();
    let riders = platform.riders();
    let mut snapshots = snapshots_of(&orders).await;
    snapshots.extend(snapshots_of(&stores).await);
    snapshots.extend(snapshots_of(&riders).await);
    let fresh = match Storage::connect(&platform.settings.database.url, 2).await {
        Ok(storage) => Some(storage),
        Err(error) => {
            tracing::warn!(%error, "no fresh connection for the shutdown flush; using the running pool");
            None
        }
    };
    let storage = fresh.as_ref().unwrap_or(&platform.storage);
    for chunk in snapshots.chunks(SHUTDOWN_SNAPSHOT_BATCH) {
        if let Err(error) = storage.events.save_snapshots(chunk).await {
            tracing::warn!(%error, n = chunk.len(), "shutdown snapshots not written");
        }
    }
    write_positions(platform, storage.positions.as_ref()).await;
    platform.decisions.write(storage.decisions.as_ref()).await;
    tracing::info!(orders = orders.len(), stores = stores.len(), riders = riders.len(), "state flushed");
}
