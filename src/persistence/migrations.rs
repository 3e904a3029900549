//! Schema migrations, embedded in the binary and applied at start in order. Each backend
//! has its own dialect of the same schema; a version is applied once, in one transaction.

/// (version, statements) for PostgreSQL.
pub const POSTGRES: &[(i64, &str)] = &[
    (
        1,
        r#"
CREATE TABLE streams (
    stream_id UUID PRIMARY KEY,
    kind TEXT NOT NULL,
    zone TEXT NOT NULL,
    version BIGINT NOT NULL,
    closed BOOLEAN NOT NULL DEFAULT FALSE,
    updated_at BIGINT NOT NULL
);
CREATE INDEX streams_open ON streams (kind) WHERE NOT closed;
CREATE TABLE events (
    global_seq BIGSERIAL PRIMARY KEY,
    stream_id UUID NOT NULL,
    seq BIGINT NOT NULL,
    kind TEXT NOT NULL,
    zone TEXT NOT NULL,
    event_type TEXT NOT NULL,
    payload JSONB NOT NULL,
    recorded_at BIGINT NOT NULL,
    UNIQUE (stream_id, seq)
);
CREATE TABLE snapshots (
    stream_id UUID PRIMARY KEY,
    seq BIGINT NOT NULL,
    state JSONB NOT NULL,
    taken_at BIGINT NOT NULL
);
CREATE TABLE rider_positions (
    rider_id UUID PRIMARY KEY,
    lat DOUBLE PRECISION NOT NULL,
    lon DOUBLE PRECISION NOT NULL,
    at BIGINT NOT NULL
);
"#,
    ),
    (
        2,
        r#"
CREATE TABLE accounts (
    id UUID PRIMARY KEY,
    email TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    role TEXT NOT NULL,
    subject UUID NOT NULL,
    name TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE TABLE refresh_tokens (
    token_hash TEXT PRIMARY KEY,
    account_id UUID NOT NULL REFERENCES accounts (id),
    expires_at BIGINT NOT NULL,
    revoked BOOLEAN NOT NULL DEFAULT FALSE,
    created_at BIGINT NOT NULL
);
"#,
    ),
    (
        3,
        r#"
ALTER TABLE refresh_tokens ADD COLUMN family UUID;
ALTER TABLE refresh_tokens ADD COLUMN access_jti UUID;
ALTER TABLE refresh_tokens ADD COLUMN access_expires_at BIGINT;
CREATE INDEX refresh_tokens_family ON refresh_tokens (family);
CREATE TABLE revoked_tokens (
    jti UUID PRIMARY KEY,
    expires_at BIGINT NOT NULL
);
"#,
    ),
    (
        4,
        r#"
CREATE TABLE dispatch_decisions (
    id BIGSERIAL PRIMARY KEY,
    order_id UUID NOT NULL,
    at BIGINT NOT NULL,
    body JSONB NOT NULL
);
CREATE INDEX dispatch_decisions_order ON dispatch_decisions (order_id, id);
"#,
    ),
    (
        5,
        r#"
CREATE INDEX dispatch_decisions_at ON dispatch_decisions (at);
"#,
    ),
];

/// (version, statements) for SQLite.
pub const SQLITE: &[(i64, &str)] = &[
    (
        1,
        r#"
CREATE TABLE streams (
    stream_id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    zone TEXT NOT NULL,
    version INTEGER NOT NULL,
    closed INTEGER NOT NULL DEFAULT 0,
    updated_at INTEGER NOT NULL
);
CREATE INDEX streams_open ON streams (kind) WHERE closed = 0;
CREATE TABLE events (
    global_seq INTEGER PRIMARY KEY AUTOINCREMENT,
    stream_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    kind TEXT NOT NULL,
    zone TEXT NOT NULL,
    event_type TEXT NOT NULL,
    payload TEXT NOT NULL,
    recorded_at INTEGER NOT NULL,
    UNIQUE (stream_id, seq)
);
CREATE TABLE snapshots (
    stream_id TEXT PRIMARY KEY,
    seq INTEGER NOT NULL,
    state TEXT NOT NULL,
    taken_at INTEGER NOT NULL
);
CREATE TABLE rider_positions (
    rider_id TEXT PRIMARY KEY,
    lat REAL NOT NULL,
    lon REAL NOT NULL,
    at INTEGER NOT NULL
);
"#,
    ),
    (
        2,
        r#"
CREATE TABLE accounts (
    id TEXT PRIMARY KEY,
    email TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    role TEXT NOT NULL,
    subject TEXT NOT NULL,
    name TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE TABLE refresh_tokens (
    token_hash TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts (id),
    expires_at INTEGER NOT NULL,
    revoked INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL
);
"#,
    ),
    (
        3,
        r#"
ALTER TABLE refresh_tokens ADD COLUMN family TEXT;
ALTER TABLE refresh_tokens ADD COLUMN access_jti TEXT;
ALTER TABLE refresh_tokens ADD COLUMN access_expires_at INTEGER;
CREATE INDEX refresh_tokens_family ON refresh_tokens (family);
CREATE TABLE revoked_tokens (
    jti TEXT PRIMARY KEY,
    expires_at INTEGER NOT NULL
);
"#,
    ),
    (
        4,
        r#"
CREATE TABLE dispatch_decisions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    order_id TEXT NOT NULL,
    at INTEGER NOT NULL,
    body TEXT NOT NULL
);
CREATE INDEX dispatch_decisions_order ON dispatch_decisions (order_id, id);
"#,
    ),
    (
        5,
        r#"
CREATE INDEX dispatch_decisions_at ON dispatch_decisions (at);
"#,
    ),
];

pub const CREATE_LEDGER: &str =
    "CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, applied_at BIGINT NOT NULL)";
