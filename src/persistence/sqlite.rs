//! SQLite adapter: the embedded default, so `cargo run` needs no database server.

use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous};
use sqlx::Row;
use uuid::Uuid;

use super::migrations::{CREATE_LEDGER, SQLITE};
use super::{
    delete_in_batches, from_millis, millis, AccountRecord, AccountStore, AppendRequest, DecisionLog, DecisionRecord,
    EventStore, PositionLog, PositionRecord, RecordedEvent, RefreshRecord, RefreshUse, RevokedToken, Snapshot,
    StorageError, PRUNE_BATCH,
};

pub struct SqliteStore {
    pool: SqlitePool,
}

impl SqliteStore {
    /// The whole batch in one transaction (one fsync). A stream not at its expected version
    /// is reported as a conflict and writes nothing; the others go on.
    async fn append_all(&self, batch: &[AppendRequest]) -> Result<Vec<Result<i64, StorageError>>, sqlx::Error> {
        let now = millis(Utc::now());
        let mut tx = self.pool.begin().await?;
        let mut results = Vec::with_capacity(batch.len());
        for request in batch {
            let (stream, expected_version) = (&request.stream, request.expected_version);
            let id = stream.id.to_string();
            let new_version = expected_version + request.events.len() as i64;
            let updated = if expected_version == 0 {
                sqlx::query(
                    "INSERT INTO streams (stream_id, kind, zone, version, closed, updated_at)
                     VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (stream_id) DO NOTHING",
                )
                .bind(&id)
                .bind(stream.kind)
                .bind(&stream.zone)
                .bind(new_version)
                .bind(request.closes)
                .bind(now)
                .execute(&mut *tx)
                .await?
            } else {
                sqlx::query(
                    "UPDATE streams SET version = ?, closed = ?, updated_at = ? WHERE stream_id = ? AND version = ?",
                )
                .bind(new_version)
                .bind(request.closes)
                .bind(now)
                .bind(&id)
                .bind(expected_version)
                .execute(&mut *tx)
                .await?
            };
            if updated.rows_affected() != 1 {
                let actual = sqlx::query_scalar("SELECT version FROM streams WHERE stream_id = ?")
                    .bind(&id)
                    .fetch_optional(&mut *tx)
                    .await?;
                results.push(Err(StorageError::Conflict { stream_id: stream.id, expected: expected_version, actual }));
                continue;
            }
            for (offset, event) in request.events.iter().enumerate() {
                sqlx::query(
                    "INSERT INTO events (stream_id, seq, kind, zone, event_type, payload, recorded_at)
                     VALUES (?, ?, ?, ?, ?, ?, ?)",
                )
                .bind(&id)
                .bind(expected_version + 1 + offset as i64)
                .bind(stream.kind)
                .bind(&stream.zone)
                .bind(event.event_type)
                .bind(event.payload.to_string())
                .bind(now)
                .execute(&mut *tx)
                .await?;
            }
            results.push(Ok(new_version));
        }
        tx.commit().await?;
        Ok(results)
    }

    #[tracing::instrument(name = "sqlite_connect", skip(url))]
    pub async fn connect(url: &str, max_connections: u32) -> Result<SqliteStore, StorageError> {
        let options = SqliteConnectOptions::from_str(url)
            .map_err(StorageError::Unavailable)?
            .create_if_missing(true)
            // WAL lets readers run beside the single writer; FULL sync makes an acknowledged
            // append survive a power cut, not only a process crash.
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(Duration::from_secs(5));
        let pool = SqlitePoolOptions::new()
            .max_connections(max_connections.max(1))
            .acquire_timeout(Duration::from_secs(5))
            .connect_with(options)
            .await
            .map_err(StorageError::Unavailable)?;
        let store = SqliteStore { pool };
        store.migrate().await?;
        Ok(store)
    }

    async fn migrate(&self) -> Result<(), StorageError> {
        let mut conn = self.pool.acquire().await?;
        // IMMEDIATE takes the write lock up front, so two processes cannot both migrate.
        sqlx::query("BEGIN IMMEDIATE").execute(&mut *conn).await?;
        let result = async {
            sqlx::query(CREATE_LEDGER).execute(&mut *conn).await?;
            let applied: Vec<i64> =
                sqlx::query_scalar("SELECT version FROM schema_migrations").fetch_all(&mut *conn).await?;
            for (version, sql) in SQLITE {
                if applied.contains(version) {
                    continue;
                }
                sqlx::raw_sql(sql).execute(&mut *conn).await?;
                sqlx::query("INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)")
                    .bind(version)
                    .bind(millis(Utc::now()))
                    .execute(&mut *conn)
                    .await?;
                tracing::info!(version, "applied migration");
            }
            Ok::<_, sqlx::Error>(())
        }
        .await;
        match result {
            Ok(()) => sqlx::query("COMMIT").execute(&mut *conn).await?,
            Err(error) => {
                sqlx::query("ROLLBACK").execute(&mut *conn).await?;
                return Err(error.into());
            }
        };
        Ok(())
    }
}

fn parse_uuid(raw: &str) -> Result<Uuid, StorageError> {
    Uuid::parse_str(raw).map_err(|e| StorageError::Corrupt(format!("bad uuid {raw:?}: {e}")))
}

fn parse_json(raw: &str) -> Result<serde_json::Value, StorageError> {
    serde_json::from_str(raw).map_err(|e| StorageError::Corrupt(format!("bad json: {e}")))
}

#[async_trait]
impl EventStore for SqliteStore {
    #[tracing::instrument(name = "sqlite_append", skip_all, fields(requests = batch.len()))]
    async fn append_batch(&self, batch: &[AppendRequest]) -> Vec<Result<i64, StorageError>> {
        match self.append_all(batch).await {
            Ok(results) => results,
            Err(error) => {
                let message = error.to_string();
                batch.iter().map(|_| Err(StorageError::Database(sqlx::Error::Protocol(message.clone())))).collect()
            }
        }
    }

    async fn load(&self, stream_id: Uuid, after: i64) -> Result<Vec<RecordedEvent>, StorageError> {
        let rows = sqlx::query(
            "SELECT seq, event_type, payload, recorded_at FROM events WHERE stream_id = ? AND seq > ? ORDER BY seq",
        )
        .bind(stream_id.to_string())
        .bind(after)
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|row| {
                Ok(RecordedEvent {
                    stream_id,
                    seq: row.try_get("seq")?,
                    event_type: row.try_get("event_type")?,
                    payload: parse_json(row.try_get("payload")?)?,
                    recorded_at: from_millis(row.try_get("recorded_at")?),
                })
            })
            .collect()
    }

    async fn open_streams(&self, kind: &str) -> Result<Vec<Uuid>, StorageError> {
        let ids: Vec<String> =
            sqlx::query_scalar("SELECT stream_id FROM streams WHERE kind = ? AND closed = 0 ORDER BY stream_id")
                .bind(kind)
                .fetch_all(&self.pool)
                .await?;
        ids.iter().map(|id| parse_uuid(id)).collect()
    }

    async fn save_snapshot(&self, snapshot: &Snapshot) -> Result<(), StorageError> {
        sqlx::query(
            "INSERT INTO snapshots (stream_id, seq, state, taken_at) VALUES (?, ?, ?, ?)
             ON CONFLICT (stream_id) DO UPDATE SET seq = excluded.seq, state = excluded.state, taken_at = excluded.taken_at
             WHERE snapshots.seq < excluded.seq",
        )
        .bind(snapshot.stream_id.to_string())
        .bind(snapshot.seq)
        .bind(snapshot.state.to_string())
        .bind(millis(Utc::now()))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn load_snapshot(&self, stream_id: Uuid) -> Result<Option<Snapshot>, StorageError> {
        let row = sqlx::query("SELECT seq, state FROM snapshots WHERE stream_id = ?")
            .bind(stream_id.to_string())
            .fetch_optional(&self.pool)
            .await?;
        row.map(|row| Ok(Snapshot { stream_id, seq: row.try_get("seq")?, state: parse_json(row.try_get("state")?)? }))
            .transpose()
    }

    async fn ping(&self) -> Result<(), StorageError> {
        sqlx::query("SELECT 1").execute(&self.pool).await.map_err(StorageError::Unavailable)?;
        Ok(())
    }
}

#[async_trait]
impl PositionLog for SqliteStore {
    async fn save_positions(&self, positions: &[PositionRecord]) -> Result<(), StorageError> {
        let mut tx = self.pool.begin().await?;
        for p in positions {
            sqlx::query(
                "INSERT INTO rider_positions (rider_id, lat, lon, at) VALUES (?, ?, ?, ?)
                 ON CONFLICT (rider_id) DO UPDATE SET lat = excluded.lat, lon = excluded.lon, at = excluded.at
                 WHERE rider_positions.at <= excluded.at",
            )
            .bind(p.rider_id.to_string())
            .bind(p.lat)
            .bind(p.lon)
            .bind(millis(p.at))
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn load_positions(&self) -> Result<Vec<PositionRecord>, StorageError> {
        let rows = sqlx::query("SELECT rider_id, lat, lon, at FROM rider_positions").fetch_all(&self.pool).await?;
        rows.into_iter()
            .map(|row| {
                Ok(PositionRecord {
                    rider_id: parse_uuid(row.try_get("rider_id")?)?,
                    lat: row.try_get("lat")?,
                    lon: row.try_get("lon")?,
                    at: from_millis(row.try_get("at")?),
                })
            })
            .collect()
    }
}

#[async_trait]
impl DecisionLog for SqliteStore {
    async fn save_decisions(&self, decisions: &[DecisionRecord]) -> Result<(), StorageError> {
        let mut tx = self.pool.begin().await?;
        for d in decisions {
            sqlx::query("INSERT INTO dispatch_decisions (order_id, at, body) VALUES (?, ?, ?)")
                .bind(d.order_id.to_string())
                .bind(millis(d.at))
                .bind(d.body.to_string())
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn prune_decisions(&self, before: DateTime<Utc>) -> Result<u64, StorageError> {
        delete_in_batches(|| async {
            let done = sqlx::query(
                "DELETE FROM dispatch_decisions WHERE id IN (SELECT id FROM dispatch_decisions WHERE at < ? ORDER BY id LIMIT ?)",
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
            "SELECT at, body FROM (SELECT id, at, body FROM dispatch_decisions WHERE order_id = ? ORDER BY id DESC LIMIT ?)
             ORDER BY id",
        )
        .bind(order_id.to_string())
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|row| {
                let body: String = row.try_get("body")?;
                Ok(DecisionRecord {
                    order_id,
                    at: from_millis(row.try_get("at")?),
                    body: serde_json::from_str(&body)
                        .map_err(|error| StorageError::Corrupt(format!("dispatch decision of {order_id}: {error}")))?,
                })
            })
            .collect()
    }
}

fn is_unique_violation(error: &sqlx::Error) -> bool {
    matches!(error, sqlx::Error::Database(db) if db.is_unique_violation())
}

fn account_from_row(row: sqlx::sqlite::SqliteRow) -> Result<AccountRecord, StorageError> {
    Ok(AccountRecord {
        id: parse_uuid(row.try_get("id")?)?,
        email: row.try_get("email")?,
        password_hash: row.try_get("password_hash")?,
        role: row.try_get("role")?,
        subject: parse_uuid(row.try_get("subject")?)?,
        name: row.try_get("name")?,
        created_at: from_millis(row.try_get("created_at")?),
    })
}

#[async_trait]
impl AccountStore for SqliteStore {
    async fn create_account(&self, account: &AccountRecord) -> Result<(), StorageError> {
        let result = sqlx::query(
            "INSERT INTO accounts (id, email, password_hash, role, subject, name, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(account.id.to_string())
        .bind(&account.email)
        .bind(&account.password_hash)
        .bind(&account.role)
        .bind(account.subject.to_string())
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
        let row = sqlx::query("SELECT * FROM accounts WHERE email = ?").bind(email).fetch_optional(&self.pool).await?;
        row.map(account_from_row).transpose()
    }

    async fn account_by_id(&self, id: Uuid) -> Result<Option<AccountRecord>, StorageError> {
        let row =
            sqlx::query("SELECT * FROM accounts WHERE id = ?").bind(id.to_string()).fetch_optional(&self.pool).await?;
        row.map(account_from_row).transpose()
    }

    async fn save_refresh_token(&self, token: &RefreshRecord) -> Result<(), StorageError> {
        sqlx::query(
            "INSERT INTO refresh_tokens
                 (token_hash, account_id, expires_at, created_at, family, access_jti, access_expires_at)
             VALUES (?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&token.hash)
        .bind(token.account.to_string())
        .bind(millis(token.expires_at))
        .bind(millis(Utc::now()))
        .bind(token.family.to_string())
        .bind(token.access_jti.to_string())
        .bind(millis(token.access_expires_at))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn take_refresh_token(&self, hash: &str) -> Result<RefreshUse, StorageError> {
        let taken: Option<(String, Option<String>)> = sqlx::query_as(
            "UPDATE refresh_tokens SET revoked = 1
             WHERE token_hash = ? AND revoked = 0 AND expires_at > ? RETURNING account_id, family",
        )
        .bind(hash)
        .bind(millis(Utc::now()))
        .fetch_optional(&self.pool)
        .await?;
        if let Some((account, family)) = taken {
            let Some(family) = family else { return Ok(RefreshUse::Unknown) };
            return Ok(RefreshUse::Taken { account: parse_uuid(&account)?, family: parse_uuid(&family)? });
        }
        let spent: Option<Option<String>> =
            sqlx::query_scalar("SELECT family FROM refresh_tokens WHERE token_hash = ? AND revoked = 1")
                .bind(hash)
                .fetch_optional(&self.pool)
                .await?;
        match spent.flatten() {
            Some(family) => Ok(RefreshUse::Spent { family: parse_uuid(&family)? }),
            None => Ok(RefreshUse::Unknown),
        }
    }

    async fn revoke_family(&self, family: Uuid) -> Result<Vec<RevokedToken>, StorageError> {
        let now = millis(Utc::now());
        let mut tx = self.pool.begin().await?;
        let issued: Vec<(Option<String>, Option<i64>)> = sqlx::query_as(
            "UPDATE refresh_tokens SET revoked = 1 WHERE family = ? RETURNING access_jti, access_expires_at",
        )
        .bind(family.to_string())
        .fetch_all(&mut *tx)
        .await?;
        let mut live = Vec::new();
        for (jti, exp) in issued {
            let (Some(jti), Some(exp)) = (jti, exp) else { continue };
            if exp > now {
                live.push(RevokedToken { jti: parse_uuid(&jti)?, expires_at: from_millis(exp) });
            }
        }
        for token in &live {
            sqlx::query("INSERT OR IGNORE INTO revoked_tokens (jti, expires_at) VALUES (?, ?)")
                .bind(token.jti.to_string())
                .bind(millis(token.expires_at))
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(live)
    }

    async fn revoke_access(&self, token: &RevokedToken) -> Result<(), StorageError> {
        sqlx::query("INSERT OR IGNORE INTO revoked_tokens (jti, expires_at) VALUES (?, ?)")
            .bind(token.jti.to_string())
            .bind(millis(token.expires_at))
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn revoked_access(&self) -> Result<Vec<RevokedToken>, StorageError> {
        let now = millis(Utc::now());
        sqlx::query("DELETE FROM revoked_tokens WHERE expires_at <= ?").bind(now).execute(&self.pool).await?;
        let rows: Vec<(String, i64)> =
            sqlx::query_as("SELECT jti, expires_at FROM revoked_tokens").fetch_all(&self.pool).await?;
        rows.into_iter()
            .map(|(jti, exp)| Ok(RevokedToken { jti: parse_uuid(&jti)?, expires_at: from_millis(exp) }))
            .collect()
    }
}
