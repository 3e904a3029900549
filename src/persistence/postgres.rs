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
    from_millis, millis, AccountRecord, AccountStore, EventStore, NewEvent, PositionLog, PositionRecord, RecordedEvent,
    Snapshot, StorageError, StreamRef,
};

pub struct PgStore {
    pool: PgPool,
}

/// Serialises concurrent migrators (two servers starting at once).
const MIGRATION_LOCK: i64 = 0x6261_6564_616c;

impl PgStore {
    #[tracing::instrument(name = "pg_connect", skip(url))]
    pub async fn connect(url: &str, max_connections: u32) -> Result<PgStore, StorageError> {
        let pool = PgPoolOptions::new()
            .max_connections(max_connections)
            // Fail fast when the database is down rather than hanging a request.
            .acquire_timeout(Duration::from_secs(3))
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
    #[tracing::instrument(name = "pg_append", skip_all, fields(stream = %stream.id, kind = stream.kind, n = events.len()))]
    async fn append(
        &self,
        stream: &StreamRef,
        expected_version: i64,
        events: &[NewEvent],
        closes: bool,
    ) -> Result<i64, StorageError> {
        let now = millis(Utc::now());
        let new_version = expected_version + events.len() as i64;
        let mut tx = self.pool.begin().await?;
        let updated = if expected_version == 0 {
            sqlx::query(
                "INSERT INTO streams (stream_id, kind, zone, version, closed, updated_at)
                 VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (stream_id) DO NOTHING",
            )
            .bind(stream.id)
            .bind(stream.kind)
            .bind(&stream.zone)
            .bind(new_version)
            .bind(closes)
            .bind(now)
            .execute(&mut *tx)
            .await?
        } else {
            sqlx::query(
                "UPDATE streams SET version = $2, closed = $3, updated_at = $4
                 WHERE stream_id = $1 AND version = $5",
            )
            .bind(stream.id)
            .bind(new_version)
            .bind(closes)
            .bind(now)
            .bind(expected_version)
            .execute(&mut *tx)
            .await?
        };
        if updated.rows_affected() != 1 {
            tx.rollback().await?;
            let actual = sqlx::query_scalar("SELECT version FROM streams WHERE stream_id = $1")
                .bind(stream.id)
                .fetch_optional(&self.pool)
                .await?;
            return Err(StorageError::Conflict { stream_id: stream.id, expected: expected_version, actual });
        }
        for (offset, event) in events.iter().enumerate() {
            sqlx::query(
                "INSERT INTO events (stream_id, seq, kind, zone, event_type, payload, recorded_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(stream.id)
            .bind(expected_version + 1 + offset as i64)
            .bind(stream.kind)
            .bind(&stream.zone)
            .bind(event.event_type)
            .bind(Json(&event.payload))
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(new_version)
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
        .execute(&self.pool)
        .await?;
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

    async fn save_refresh_token(
        &self,
        hash: &str,
        account: Uuid,
        expires_at: DateTime<Utc>,
    ) -> Result<(), StorageError> {
        sqlx::query(
            "INSERT INTO refresh_tokens (token_hash, account_id, expires_at, created_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(hash)
        .bind(account)
        .bind(millis(expires_at))
        .bind(millis(Utc::now()))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn take_refresh_token(&self, hash: &str) -> Result<Option<Uuid>, StorageError> {
        Ok(sqlx::query_scalar(
            "UPDATE refresh_tokens SET revoked = TRUE
             WHERE token_hash = $1 AND NOT revoked AND expires_at > $2 RETURNING account_id",
        )
        .bind(hash)
        .bind(millis(Utc::now()))
        .fetch_optional(&self.pool)
        .await?)
    }
}
