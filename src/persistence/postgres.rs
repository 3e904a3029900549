//! PostgreSQL adapter: the production store.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::types::Json;
use sqlx::Row;
use uuid::Uuid;

use super::migrations::{CREATE_LEDGER, POSTGRES};
use super::{
    delete_in_batches, from_millis, millis, AccountRecord, AccountStore, AppendRequest, DecisionLog, DecisionRecord,
    EventStore, PositionLog, PositionRecord, RecordedEvent, RefreshRecord, RefreshUse, RevokedToken, Snapshot,
    StorageError, PRUNE_BATCH,
};

pub struct PgStore {
    pool: PgPool,
}

/// Serialises concurrent migrators (two servers starting at once).
const MIGRATION_LOCK: i64 = 0x6261_6564_616c;

impl PgStore {
    /// The whole batch in one statement, so one transaction and one round trip, whatever
    /// its size: new streams, version bumps of existing ones (a stream not at its expected
    /// version is left out and reported as a conflict), then every event of the requests
    /// that stand.
    async fn append_all(&self, batch: &[AppendRequest]) -> Result<Vec<Result<i64, StorageError>>, sqlx::Error> {
        let now = millis(Utc::now());
        let version = |r: &AppendRequest| r.expected_version + r.events.len() as i64;
        let (mut ids, mut seqs, mut kinds, mut zones, mut types, mut payloads) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for request in batch {
            for (offset, event) in request.events.iter().enumerate() {
                ids.push(request.stream.id);
                seqs.push(request.expected_version + 1 + offset as i64);
                kinds.push(request.stream.kind.to_owned());
                zones.push(request.stream.zone.clone());
                types.push(event.event_type.to_owned());
                payloads.push(event.payload.to_string());
            }
        }
        let stands: std::collections::HashSet<Uuid> = sqlx::query_scalar(
            "WITH t AS (
               SELECT * FROM UNNEST($1::uuid[], $2::text[], $3::text[], $4::int8[], $5::int8[], $6::bool[])
                 AS t(id, kind, zone, expected, version, closed)
             ), created AS (
               INSERT INTO streams (stream_id, kind, zone, version, closed, updated_at)
               SELECT id, kind, zone, version, closed, $13 FROM t WHERE expected = 0
               ON CONFLICT (stream_id) DO NOTHING RETURNING stream_id
             ), updated AS (
               UPDATE streams s SET version = t.version, closed = t.closed, updated_at = $13
               FROM t WHERE t.expected <> 0 AND s.stream_id = t.id AND s.version = t.expected
               RETURNING s.stream_id
             ), stands AS (
               SELECT stream_id FROM created UNION ALL SELECT stream_id FROM updated
             ), written AS (
               INSERT INTO events (stream_id, seq, kind, zone, event_type, payload, recorded_at)
               SELECT e.id, e.seq, e.kind, e.zone, e.type, e.payload::jsonb, $13
               FROM UNNEST($7::uuid[], $8::int8[], $9::text[], $10::text[], $11::text[], $12::text[])
                 WITH ORDINALITY AS e(id, seq, kind, zone, type, payload, n)
               WHERE e.id IN (SELECT stream_id FROM stands)
               ORDER BY e.n
             )
             SELECT stream_id FROM stands",
        )
        .bind(batch.iter().map(|r| r.stream.id).collect::<Vec<_>>())
        .bind(batch.iter().map(|r| r.stream.kind.to_owned()).collect::<Vec<_>>())
        .bind(batch.iter().map(|r| r.stream.zone.clone()).collect::<Vec<_>>())
        .bind(batch.iter().map(|r| r.expected_version).collect::<Vec<_>>())
        .bind(batch.iter().map(version).collect::<Vec<_>>())
        .bind(batch.iter().map(|r| r.closes).collect::<Vec<_>>())
        .bind(ids)
        .bind(seqs)
        .bind(kinds)
        .bind(zones)
        .bind(types)
        .bind(payloads)
        .bind(now)
        .fetch_all(&self.pool)
        .await?
        .into_iter()
        .collect();
        // Where a refused stream stands, for its conflict: read after the write, so it may
        // already be further on, and left out if it cannot be read (the batch is committed
        // either way, and its appends that stood must be reported so).
        let refused: Vec<Uuid> = batch.iter().map(|r| r.stream.id).filter(|id| !stands.contains(id)).collect();
        let actual: std::collections::HashMap<Uuid, i64> = if refused.is_empty() {
            std::collections::HashMap::new()
        } else {
            sqlx::query_as("SELECT stream_id, version FROM streams WHERE stream_id = ANY($1)")
                .bind(&refused)
                .fetch_all(&self.pool)
                .await
                .map(|rows: Vec<(Uuid, i64)>| rows.into_iter().collect())
                .unwrap_or_default()
        };
        Ok(batch
            .iter()
            .map(|request| {
                if stands.contains(&request.stream.id) {
                    Ok(version(request))
                } else {
                    Err(StorageError::Conflict {
                        stream_id: request.stream.id,
                        expected: request.expected_version,
                        actual: actual.get(&request.stream.id).copied(),
                    })
                }
            })
            .collect())
    }

    #[tracing::instrument(name = "pg_connect", skip(url))]
    pub async fn connect(url: &str, max_connections: u32) -> Result<PgStore, StorageError> {
        let pool = PgPoolOptions::new()
            .max_connections(max_connections)
            // How long the first call into an outage waits before it is called one (the
            // availability gate refuses the rest at once). The group-commit writer needs
            // one connection per batch, so a healthy pool never waits this long.
            .acquire_timeout(Duration::from_secs(1))
            .connect(url)
            .await
            .map_err(StorageError::Unavailable)?;
        let store = PgStore { pool };
        store.migrate().await?;
        Ok(store)
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    async fn migrate(&self) -> Result<(), StorageError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("SELECT pg_advisory_xact_lock($1)").bind(MIGRATION_LOCK).execute(&mut *tx).await?;
        sqlx::query(CREATE_LEDGER).execute(&mut *tx).await?;
        let applied: Vec<i64> = sqlx::query_scalar("SELECT version FROM schema_migrations").fetch_all(&mut *tx).await?;
        for (version, sql) in POSTGRES {
            if applied.contains(version) {
                continue;
            }
            sqlx::raw_sql(sql).execute(&mut *tx).await?;
            sqlx::query("INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)")
                .bind(version)
                .bind(millis(Utc::now()))
                .execute(&mut *tx)
                .await?;
            tracing::info!(version, "applied migration");
        }
        tx.commit().await?;
        Ok(())
    }
}

#[async_trait]
impl EventStore for PgStore {
    #[tracing::instrument(name = "pg_append", skip_all, fields(requests = batch.len()))]
    async fn append_batch(&self, batch: &[AppendRequest]) -> Vec<Result<i64, StorageError>> {
        // One statement per table relies on one request per stream; a batch that names a
        // stream twice is taken one request at a time.
        let mut seen = std::collections::HashSet::new();
        if !batch.iter().all(|r| seen.insert(r.stream.id)) {
            let mut results = Vec::with_capacity(batch.len());
            for request in batch {
                results.extend(self.append_batch(std::slice::from_ref(request)).await);
            }
            return results;
        }
        match self.append_all(batch).await {
            Ok(results) => results,
            Err(error) => {
                let message = error.to_string();
                let pool_timeout = matches!(error, sqlx::Error::PoolTimedOut);
                let unavailable = matches!(StorageError::from(error), StorageError::Unavailable(_));
                batch
                    .iter()
                    .map(|_| {
                        Err(if pool_timeout {
                            // Nothing was sent: the batch never got a connection.
                            StorageError::Unavailable(sqlx::Error::PoolTimedOut)
                        } else if unavailable {
                            StorageError::Unavailable(sqlx::Error::Protocol(message.clone()))
                        } else {
                            StorageError::Database(sqlx::Error::Protocol(message.clone()))
                        })
                    })
                    .collect()
            }
        }
    }

    async fn load(&self, stream_id: Uuid, after: i64) -> Result<Vec<RecordedEvent>, StorageError> {
        let rows = sqlx::query(
            "SELECT seq, event_type, payload, recorded_at FROM events WHERE stream_id = $1 AND seq > $2 ORDER BY seq",
        )
        .bind(stream_id)
        .bind(after)
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|row| {
                Ok(RecordedEvent {
                    stream_id,
                    seq: row.try_get("seq")?,
                    event_type: row.try_get("event_type")?,
                    payload: row.try_get::<Json<serde_json::Value>, _>("payload")?.0,
                    recorded_at: from_millis(row.try_get("recorded_at")?),
                })
            })
            .collect()
    }

    async fn open_streams(&self, kind: &str) -> Result<Vec<Uuid>, StorageError> {
        Ok(sqlx::query_scalar("SELECT stream_id FROM streams WHERE kind = $1 AND NOT closed ORDER BY stream_id")
            .bind(kind)
            .fetch_all(&self.pool)
            .await?)
    }

    async fn save_snapshot(&self, snapshot: &Snapshot) -> Result<(), StorageError> {
        // A snapshot only shortens replay, and the events it sums up are already durable: it
        // need not wait for its own WAL flush, so it never queues behind the event writer.
        let mut tx = self.pool.begin().await?;
        sqlx::query("SET LOCAL synchronous_commit TO OFF").execute(&mut *tx).await?;
        // Never let an older snapshot overwrite a newer one.
        sqlx::query(
            "INSERT INTO snapshots (stream_id, seq, state, taken_at) VALUES ($1, $2, $3, $4)
             ON CONFLICT (stream_id) DO UPDATE SET seq = EXCLUDED.seq, state = EXCLUDED.state, taken_at = EXCLUDED.taken_at
             WHERE snapshots.seq < EXCLUDED.seq",
        )
        .bind(snapshot.stream_id)
        .bind(snapshot.seq)
        .bind(Json(&snapshot.state))
        .bind(millis(Utc::now()))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn save_snapshots(&self, snapshots: &[Snapshot]) -> Result<(), StorageError> {
        // One row per stream (an upsert cannot touch a row twice): the newest snapshot wins.
        let mut newest: std::collections::HashMap<Uuid, &Snapshot> = std::collections::HashMap::new();
        for snapshot in snapshots {
            let kept = newest.entry(snapshot.stream_id).or_insert(snapshot);
            if kept.seq < snapshot.seq {
                *kept = snapshot;
            }
        }
        if newest.is_empty() {
            return Ok(());
        }
        let (mut ids, mut seqs, mut states) = (Vec::new(), Vec::new(), Vec::new());
        for snapshot in newest.into_values() {
            ids.push(snapshot.stream_id);
            seqs.push(snapshot.seq);
            states.push(snapshot.state.to_string());
        }
        // As for one snapshot: no wait for the WAL flush, and never older over newer.
        let mut tx = self.pool.begin().await?;
        sqlx::query("SET LOCAL synchronous_commit TO OFF").execute(&mut *tx).await?;
        sqlx::query(
            "INSERT INTO snapshots (stream_id, seq, state, taken_at)
             SELECT id, seq, state::jsonb, $4 FROM UNNEST($1::uuid[], $2::int8[], $3::text[]) AS t(id, seq, state)
             ON CONFLICT (stream_id) DO UPDATE SET seq = EXCLUDED.seq, state = EXCLUDED.state, taken_at = EXCLUDED.taken_at
             WHERE snapshots.seq < EXCLUDED.seq",
        )
        .bind(ids)
        .bind(seqs)
        .bind(states)
        .bind(millis(Utc::now()))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn load_snapshot(&self, stream_id: Uuid) -> Result<Option<Snapshot>, StorageError> {
        let row = sqlx::query("SELECT seq, state FROM snapshots WHERE stream_id = $1")
            .bind(stream_id)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|row| {
            Ok(Snapshot {
                stream_id,
                seq: row.try_get("seq")?,
                state: row.try_get::<Json<serde_json::Value>, _>("state")?.0,
            })
        })
        .transpose()
    }

    async fn ping(&self) -> Result<(), StorageError> {
        sqlx::query("SELECT 1").execute(&self.pool).await.map_err(StorageError::Unavailable)?;
        Ok(())
    }
}

#[async_trait]
impl PositionLog for PgStore {
    async fn save_positions(&self, positions: &[PositionRecord]) -> Result<(), StorageError> {
        if positions.is_empty() {
            return Ok(());
        }
        let ids: Vec<Uuid> = positions.iter().map(|p| p.rider_id).collect();
        let lats: Vec<f64> = positions.iter().map(|p| p.lat).collect();
        let lons: Vec<f64> = positions.iter().map(|p| p.lon).collect();
        let ats: Vec<i64> = positions.iter().map(|p| millis(p.at)).collect();
        sqlx::query(
            "INSERT INTO rider_positions (rider_id, lat, lon, at)
             SELECT * FROM UNNEST($1::uuid[], $2::float8[], $3::float8[], $4::int8[])
             ON CONFLICT (rider_id) DO UPDATE SET lat = EXCLUDED.lat, lon = EXCLUDED.lon, at = EXCLUDED.at
             WHERE rider_positions.at <= EXCLUDED.at",
        )
        .bind(&ids)
        .bind(&lats)
        .bind(&lons)
        .bind(&ats)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn load_positions(&self) -> Result<Vec<PositionRecord>, StorageError> {
        let rows = sqlx::query("SELECT rider_id, lat, lon, at FROM rider_positions").fetch_all(&self.pool).await?;
        rows.into_iter()
            .map(|row| {
                Ok(PositionRecord {
                    rider_id: row.try_get("rider_id")?,
                    lat: row.try_get("lat")?,
                    lon: row.try_get("lon")?,
                    at: from_millis(row.try_get("at")?),
                })
            })
            .collect()
    }
}

#[async_trait]
impl DecisionLog for PgStore {
    async fn save_decisions(&self, decisions: &[DecisionRecord]) -> Result<(), StorageError> {
        if decisions.is_empty() {
            return Ok(());
        }
        let ids: Vec<Uuid> = decisions.iter().map(|d| d.order_id).collect();
        let ats: Vec<i64> = decisions.iter().map(|d| millis(d.at)).collect();
        let bodies: Vec<String> = decisions.iter().map(|d| d.body.to_string()).collect();
        sqlx::query(
            "INSERT INTO dispatch_decisions (order_id, at, body)
             SELECT d.id, d.at, d.body::jsonb FROM UNNEST($1::uuid[], $2::int8[], $3::text[]) WITH ORDINALITY AS d(id, at, body, n)
             ORDER BY d.n",
        )
        .bind(&ids)
        .bind(&ats)
        .bind(&bodies)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn prune_decisions(&self, before: DateTime<Utc>) -> Result<u64, StorageError> {
        delete_in_batches(|| async {
            let done = sqlx::query(
                "DELETE FROM dispatch_decisions WHERE id IN (SELECT id FROM dispatch_decisions WHERE at < $1 ORDER BY id LIMIT $2)",
            )
            .bind(millis(before))
            .bind(PRUNE_BATCH)
            .execute(&self.pool)
            .await?;
            Ok(done.rows_affected())
        })
        .await
    }

    async fn decisions_of(&self, order_id: Uuid, limit: u32) -> Result<Vec<DecisionRecord>, StorageError> {
        let rows = sqlx::query(
            "SELECT at, body FROM (SELECT id, at, body FROM dispatch_decisions WHERE order_id = $1 ORDER BY id DESC LIMIT $2) d
             ORDER BY id",
        )
        .bind(order_id)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|row| {
                Ok(DecisionRecord {
                    order_id,
                    at: from_millis(row.try_get("at")?),
                    body: row.try_get::<Json<serde_json::Value>, _>("body")?.0,
                })
            })
            .collect()
    }
}

fn is_unique_violation(error: &sqlx::Error) -> bool {
    matches!(error, sqlx::Error::Database(db) if db.code().as_deref() == Some("23505"))
}

fn account_from_row(row: sqlx::postgres::PgRow) -> Result<AccountRecord, StorageError> {
    Ok(AccountRecord {
        id: row.try_get("id")?,
        email: row.try_get("email")?,
        password_hash: row.try_get("password_hash")?,
        role: row.try_get("role")?,
        subject: row.try_get("subject")?,
        name: row.try_get("name")?,
        created_at: from_millis(row.try_get("created_at")?),
    })
}

#[async_trait]
impl AccountStore for PgStore {
    async fn create_account(&self, account: &AccountRecord) -> Result<(), StorageError> {
        let result = sqlx::query(
            "INSERT INTO accounts (id, email, password_hash, role, subject, name, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(account.id)
        .bind(&account.email)
        .bind(&account.password_hash)
        .bind(&account.role)
        .bind(account.subject)
        .bind(&account.name)
        .bind(millis(account.created_at))
        .execute(&self.pool)
        .await;
        match result {
            Err(error) if is_unique_violation(&error) => {
                Err(StorageError::Conflict { stream_id: account.id, expected: 0, actual: None })
            }
            other => other.map(|_| ()).map_err(StorageError::from),
        }
    }

    async fn account_by_email(&self, email: &str) -> Result<Option<AccountRecord>, StorageError> {
        let row = sqlx::query("SELECT * FROM accounts WHERE email = $1").bind(email).fetch_optional(&self.pool).await?;
        row.map(account_from_row).transpose()
    }

    async fn account_by_id(&self, id: Uuid) -> Result<Option<AccountRecord>, StorageError> {
        let row = sqlx::query("SELECT * FROM accounts WHERE id = $1").bind(id).fetch_optional(&self.pool).await?;
        row.map(account_from_row).transpose()
    }

    async fn save_refresh_token(&self, token: &RefreshRecord) -> Result<(), StorageError> {
        sqlx::query(
            "INSERT INTO refresh_tokens
                 (token_hash, account_id, expires_at, created_at, family, access_jti, access_expires_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&token.hash)
        .bind(token.account)
        .bind(millis(token.expires_at))
        .bind(millis(Utc::now()))
        .bind(token.family)
        .bind(token.access_jti)
        .bind(millis(token.access_expires_at))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn take_refresh_token(&self, hash: &str) -> Result<RefreshUse, StorageError> {
        let taken: Option<(Uuid, Option<Uuid>)> = sqlx::query_as(
            "UPDATE refresh_tokens SET revoked = TRUE
             WHERE token_hash = $1 AND NOT revoked AND expires_at > $2 RETURNING account_id, family",
        )
        .bind(hash)
        .bind(millis(Utc::now()))
        .fetch_optional(&self.pool)
        .await?;
        if let Some((account, family)) = taken {
            return Ok(family.map_or(RefreshUse::Unknown, |family| RefreshUse::Taken { account, family }));
        }
        let spent: Option<Option<Uuid>> =
            sqlx::query_scalar("SELECT family FROM refresh_tokens WHERE token_hash = $1 AND revoked")
                .bind(hash)
                .fetch_optional(&self.pool)
                .await?;
        Ok(spent.flatten().map_or(RefreshUse::Unknown, |family| RefreshUse::Spent { family }))
    }

    async fn revoke_family(&self, family: Uuid) -> Result<Vec<RevokedToken>, StorageError> {
        let now = millis(Utc::now());
        let mut tx = self.pool.begin().await?;
        let issued: Vec<(Option<Uuid>, Option<i64>)> = sqlx::query_as(
            "UPDATE refresh_tokens SET revoked = TRUE WHERE family = $1 RETURNING access_jti, access_expires_at",
        )
        .bind(family)
        .fetch_all(&mut *tx)
        .await?;
        let live: Vec<RevokedToken> = issued
            .into_iter()
            .filter_map(|(jti, exp)| Some((jti?, exp?)))
            .filter(|(_, exp)| *exp > now)
            .map(|(jti, exp)| RevokedToken { jti, expires_at: from_millis(exp) })
            .collect();
        for token in &live {
            sqlx::query("INSERT INTO revoked_tokens (jti, expires_at) VALUES ($1, $2) ON CONFLICT (jti) DO NOTHING")
                .bind(token.jti)
                .bind(millis(token.expires_at))
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(live)
    }

    async fn revoke_access(&self, token: &RevokedToken) -> Result<(), StorageError> {
        sqlx::query("INSERT INTO revoked_tokens (jti, expires_at) VALUES ($1, $2) ON CONFLICT (jti) DO NOTHING")
            .bind(token.jti)
            .bind(millis(token.expires_at))
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn revoked_access(&self) -> Result<Vec<RevokedToken>, StorageError> {
        let now = millis(Utc::now());
        sqlx::query("DELETE FROM revoked_tokens WHERE expires_at <= $1").bind(now).execute(&self.pool).await?;
        let rows: Vec<(Uuid, i64)> =
            sqlx::query_as("SELECT jti, expires_at FROM revoked_tokens").fetch_all(&self.pool).await?;
        Ok(rows.into_iter().map(|(jti, exp)| RevokedToken { jti, expires_at: from_millis(exp) }).collect())
    }
}

/// `host:port` of the server a URL names, for the availability check's plain TCP connect.
pub fn server_address(url: &str) -> Option<String> {
    let options: sqlx::postgres::PgConnectOptions = url.parse().ok()?;
    let host = options.get_host();
    // A socket directory is not something to dial.
    (!host.starts_with('/')).then(|| format!("{host}:{}", options.get_port()))
}
