//! State of the built-in provider sandboxes: their sessions and their idempotency records, in a
//! database of their own (never the shop's: see [`open`]).
//!
//! The sandboxes write through their store's write gate (`Db::begin_write`): on SQLite a
//! statement on a plain pool connection would meet the busy handler and stall the gated writers.
//! [`insert`], [`update`], [`delete`] and [`claim`] run on a write transaction's connection: a
//! request's own, or one of their own ([`within`], [`Db::committed`]). A sandbox never holds one
//! across a call that waits on a request, a sleep or a webhook delivery (the shop's webhook
//! handlers write too). Reads ([`get`], [`by_key`], [`search`]) may run on any connection. The
//! sandboxes use them through [`super::objects`] and [`super::idempotency`].

use app::server::db::{now_ms, Backend, Db, Row};
use sqlx::{AnyConnection, Row as _};

/// The sandboxes' own database beside the shop's: on SQLite a file next to the shop's
/// (`shop.db` → `shop.sandboxes.db`), on PostgreSQL the schema `sandboxes` of the same
/// database. Either way the shop's migrations, backups of its tables and its write gate never
/// meet a sandbox's.
pub fn url_beside(shop_url: &str) -> String {
    if let Some(rest) = shop_url.strip_prefix("sqlite:") {
        let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
        let path = match path.strip_suffix(".db") {
            Some(stem) => format!("{stem}.sandboxes.db"),
            None => format!("{path}.sandboxes"),
        };
        let query = if query.is_empty() {
            String::new()
        } else {
            format!("?{query}")
        };
        format!("sqlite:{path}{query}")
    } else {
        let joiner = if shop_url.contains('?') { '&' } else { '?' };
        format!("{shop_url}{joiner}options=-c%20search_path%3Dsandboxes")
    }
}

/// Open the sandboxes' store at `url` ([`url_beside`], or a URL of its own) and create its table.
pub async fn open(url: &str) -> Result<Db, sqlx::Error> {
    let db = Db::open(url).await?;
    let statements: &[&str] = match db.backend {
        Backend::Sqlite => &[SQLITE_TABLE, SEARCH_INDEX],
        // Instances starting at once would race on `IF NOT EXISTS` (PostgreSQL may then refuse
        // one with a duplicate key in its catalogue): the first takes this lock, the others wait
        // and find everything there.
        Backend::Postgres => &[
            "SELECT pg_advisory_xact_lock(1396788804)",
            "CREATE SCHEMA IF NOT EXISTS sandboxes",
            POSTGRES_TABLE,
            SEARCH_INDEX,
        ],
    };
    db.committed(async |conn| {
        for statement in statements {
            sqlx::query(statement).execute(&mut *conn).await?;
        }
        Ok(())
    })
    .await?;
    Ok(db)
}

const SEARCH_INDEX: &str =
    "CREATE INDEX IF NOT EXISTS sandbox_objects_search ON sandbox_objects (provider, created_at)";

const SQLITE_TABLE: &str = "CREATE TABLE IF NOT EXISTS sandbox_objects (
    id TEXT PRIMARY KEY,
    provider TEXT NOT NULL,
    idempotency_key TEXT,
    fingerprint TEXT NOT NULL DEFAULT '',
    status_code INTEGER NOT NULL DEFAULT 200,
    data TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    UNIQUE (provider, idempotency_key)
)";

const POSTGRES_TABLE: &str = "CREATE TABLE IF NOT EXISTS sandbox_objects (
    id TEXT PRIMARY KEY,
    provider TEXT NOT NULL,
    idempotency_key TEXT,
    fingerprint TEXT NOT NULL DEFAULT '',
    status_code BIGINT NOT NULL DEFAULT 200,
    data TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    UNIQUE (provider, idempotency_key)
)";

/// One stored sandbox object (a session, or the replayable response of an idempotent request).
#[derive(Debug, Clone)]
pub struct SandboxObject {
    pub id: String,
    pub fingerprint: String,
    pub status_code: i64,
    pub data: String,
}

fn object(r: &Row) -> Result<SandboxObject, sqlx::Error> {
    Ok(SandboxObject {
        id: r.try_get("id")?,
        fingerprint: r.try_get("fingerprint")?,
        status_code: r.try_get("status_code")?,
        data: r.try_get("data")?,
    })
}

/// `work` in `tx`, or without one in a write transaction of its own, committed when it returns.
pub async fn within<T>(
    db: &Db,
    tx: Option<&mut AnyConnection>,
    work: impl AsyncFnOnce(&mut AnyConnection) -> Result<T, sqlx::Error>,
) -> Result<T, sqlx::Error> {
    match tx {
        Some(conn) => work(conn).await,
        None => db.committed(work).await,
    }
}

/// What [`claim`] found.
#[derive(Debug)]
pub enum Claim {
    /// The key was free: its record (status code 0, no data, until the reply is stored) is now
    /// this request's.
    Claimed,
    /// Another request holds the key: its record (status code 0 while it is in progress), or
    /// `None` should it have gone meanwhile.
    Taken(Option<SandboxObject>),
}

/// Claim an idempotency key: insert its record (status code 0), or read back the one that holds
/// the key, through the same connection (on SQLite a twin's record may still be in the open
/// group, where no other connection sees it). Run it inside a write transaction.
pub async fn claim(
    conn: &mut AnyConnection,
    provider: &str,
    record_id: &str,
    key: &str,
    fingerprint: &str,
) -> Result<Claim, sqlx::Error> {
    if insert(conn, provider, record_id, Some(key), fingerprint, 0, "").await? {
        return Ok(Claim::Claimed);
    }
    Ok(Claim::Taken(by_key(conn, provider, key).await?))
}

/// Insert unless an object with this id, or this provider and idempotency key, exists. True if inserted.
pub async fn insert(
    conn: &mut AnyConnection,
    provider: &str,
    id: &str,
    idempotency_key: Option<&str>,
    fingerprint: &str,
    status_code: i64,
    data: &str,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "INSERT INTO sandbox_objects (id, provider, idempotency_key, fingerprint, status_code, data, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING",
    )
    .bind(id)
    .bind(provider)
    .bind(idempotency_key)
    .bind(fingerprint)
    .bind(status_code)
    .bind(data)
    .bind(now_ms())
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn get(conn: &mut AnyConnection, id: &str) -> Result<Option<SandboxObject>, sqlx::Error> {
    sqlx::query("SELECT id, fingerprint, status_code, data FROM sandbox_objects WHERE id = $1")
        .bind(id)
        .fetch_optional(conn)
        .await?
        .as_ref()
        .map(object)
        .transpose()
}

pub async fn by_key(
    conn: &mut AnyConnection,
    provider: &str,
    key: &str,
) -> Result<Option<SandboxObject>, sqlx::Error> {
    sqlx::query(
        "SELECT id, fingerprint, status_code, data FROM sandbox_objects \
         WHERE provider = $1 AND idempotency_key = $2",
    )
    .bind(provider)
    .bind(key)
    .fetch_optional(conn)
    .await?
    .as_ref()
    .map(object)
    .transpose()
}

/// Replace an object's data (and status code); `expect` makes it a compare-and-set on the old data.
pub async fn update(
    conn: &mut AnyConnection,
    id: &str,
    status_code: i64,
    data: &str,
    expect: Option<&str>,
) -> Result<bool, sqlx::Error> {
    let done = match expect {
        Some(old) => sqlx::query(
            "UPDATE sandbox_objects SET status_code = $1, data = $2 WHERE id = $3 AND data = $4",
        )
        .bind(status_code)
        .bind(data)
        .bind(id)
        .bind(old)
        .execute(conn)
        .await?,
        None => {
            sqlx::query("UPDATE sandbox_objects SET status_code = $1, data = $2 WHERE id = $3")
                .bind(status_code)
                .bind(data)
                .bind(id)
                .execute(conn)
                .await?
        }
    };
    Ok(done.rows_affected() == 1)
}

/// Remove an object (an idempotency record whose request failed, so that a retry acts again).
pub async fn delete(conn: &mut AnyConnection, id: &str) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM sandbox_objects WHERE id = $1")
        .bind(id)
        .execute(conn)
        .await?;
    Ok(())
}

/// Objects of one provider whose data contains `needle` (the sandboxes' "search by reference").
pub async fn search(
    conn: &mut AnyConnection,
    provider: &str,
    prefix: &str,
    needle: &str,
) -> Result<Vec<SandboxObject>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT id, fingerprint, status_code, data FROM sandbox_objects \
         WHERE provider = $1 AND id LIKE $2 AND data LIKE $3 ORDER BY created_at",
    )
    .bind(provider)
    .bind(format!("{prefix}%"))
    .bind(format!("%{needle}%"))
    .fetch_all(conn)
    .await?;
    rows.iter().map(object).collect()
}
