//! Database access. The backend (SQLite or PostgreSQL) is chosen at run time from `DATABASE_URL`;
//! queries are written once in SQL both accept and run through sqlx's `Any` driver. Each submodule
//! holds the queries for one table group; services open transactions, these functions never commit.

pub mod admin_orders;
pub mod attempts;
pub mod carts;
pub mod catalog_admin;
pub mod catalogue_imports;
pub mod demo_catalogue;
pub mod inbox;
pub mod installation;
pub mod ledger;
pub mod login_failures;
pub mod order_search;
pub mod orders;
pub mod outbox;
pub mod photos;
pub mod products;
pub mod refunds;
pub mod registrations;
pub mod users;
pub mod write;

use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions};
use sqlx::{AnyPool, PgPool, SqlitePool};
use std::str::FromStr;
use std::time::Duration;
use write::{WriteConn, WriteGate, WriteTx};

/// SHA-384 of migration 3 as it was when it seeded the demo catalogue, per backend
/// ([`Db::accept_old_seed`]).
const OLD_SEED_SQLITE: &str = "f67e2c20abdf0d285aa11b46a8c892408e21af2cb9be7a02fa590a128a5490df13d53f484fba52f50bc9f10fae3941ea";
const OLD_SEED_POSTGRES: &str = "8177b8ddf5e2e7a86800da2e4d58ad4c81593e13bcb79e74ba8b16cb51a9288df3b00c02e80269e2519f98f1c18ff174";

/// The SQL dialect in use, for the few statements that differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A concrete pool of the chosen backend, kept for the session store (which needs one).
#[derive(Debug, Clone)]
pub enum NativePool {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// The application's database handle: a pool for queries plus the native pool for sessions.
#[derive(Debug, Clone)]
pub struct Db {
    pub pool: AnyPool,
    pub backend: Backend,
    pub native: NativePool,
    /// Writers queue here on SQLite ([`write`]).
    pub gate: WriteGate,
    /// This installation's tag, part of every reference sent to a provider ([`installation`]).
    pub installation: std::sync::Arc<str>,
}

/// The row type every query returns.
pub type Row = AnyRow;

impl Db {
    /// Connect, creating the SQLite file (and its folder) if needed, then run the migrations.
    pub async fn connect(url: &str) -> Result<Db, sqlx::Error> {
        let mut db = Db::open(url).await?;
        db.migrate().await?;
        db.installation = installation::tag(&db).await?.into();
        Ok(db)
    }

    /// Open the database at `url` without touching its schema (the shop's migrations are
    /// [`Db::connect`]'s): for a store that keeps its own tables, such as the sandboxes'.
    pub async fn open(url: &str) -> Result<Db, sqlx::Error> {
        sqlx::any::install_default_drivers();
        let db = if url.starts_with("sqlite:") {
            let options = SqliteConnectOptions::from_str(url)?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .busy_timeout(Duration::from_secs(10))
                .foreign_keys(true);
            if let Some(parent) = std::path::Path::new(options.get_filename()).parent() {
                if !parent.as_os_str().is_empty() {
                    std::fs::create_dir_all(parent)?;
                }
            }
            // The native pool opens the file first, so it exists in WAL mode before `Any` connects.
            // A connection to a local file does not go stale: no ping before each use (sqlx's
            // default), which cost a round trip to the connection's worker thread per acquire.
            let native = SqlitePoolOptions::new()
                .max_connections(4)
                .test_before_acquire(false)
                .connect_with(options)
                .await?;
            let pool = AnyPoolOptions::new()
                .max_connections(8)
                .test_before_acquire(false)
                .after_connect(|conn, _| {
                    Box::pin(async move {
                        sqlx::query("PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 10000;")
                            .execute(conn)
                            .await?;
                        Ok(())
                    })
                })
                .connect(url)
                .await?;
            Db {
                pool,
                backend: Backend::Sqlite,
                native: NativePool::Sqlite(native),
                gate: WriteGate::sqlite(),
                installation: "".into(),
            }
        } else {
            // Sessions, plus one connection held by the live-status listener.
            let native = sqlx::postgres::PgPoolOptions::new()
                .max_connections(6)
                .connect(url)
                .await?;
            let pool = AnyPoolOptions::new()
                .max_connections(16)
                .connect(url)
                .await?;
            Db {
                pool,
                backend: Backend::Postgres,
                native: NativePool::Postgres(native),
                gate: WriteGate::none(),
                installation: "".into(),
            }
        };
        Ok(db)
    }

    async fn migrate(&self) -> Result<(), sqlx::Error> {
        let (migrator, old_seed) = match self.backend {
            Backend::Sqlite => (sqlx::migrate!("../migrations/sqlite"), OLD_SEED_SQLITE),
            Backend::Postgres => (sqlx::migrate!("../migrations/postgres"), OLD_SEED_POSTGRES),
        };
        self.accept_old_seed(&migrator, old_seed).await?;
        migrator.run(&self.pool).await?;
        Ok(())
    }

    /// Migration 3 once seeded the demo catalogue and now does nothing (the demo is loaded at
    /// start-up when wanted, [`demo_catalogue`]). A database that ran the old seed records that
    /// file's checksum, which sqlx would refuse as a changed migration; exactly that checksum is
    /// taken as the new file's. Any other difference is still refused.
    async fn accept_old_seed(
        &self,
        migrator: &sqlx::migrate::Migrator,
        old_seed: &str,
    ) -> Result<(), sqlx::Error> {
        let exists_sql = match self.backend {
            Backend::Sqlite => {
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = '_sqlx_migrations'"
            }
            Backend::Postgres => "SELECT 1 WHERE to_regclass('_sqlx_migrations') IS NOT NULL",
        };
        if sqlx::query(exists_sql)
            .fetch_optional(&self.pool)
            .await?
            .is_none()
        {
            return Ok(());
        }
        let Some(seed) = migrator.iter().find(|m| m.version == 3) else {
            return Ok(());
        };
        let old = hex::decode(old_seed).expect("a hex constant");
        let mut conn = self.write().await?;
        sqlx::query(
            "UPDATE _sqlx_migrations SET checksum = $1 WHERE version = 3 AND checksum = $2",
        )
        .bind(seed.checksum.to_vec())
        .bind(old)
        .execute(&mut *conn)
        .await?;
        Ok(())
    }

    /// Begin a transaction that writes, after waiting this writer's turn on SQLite, where it joins
    /// the group commit ([`write`]).
    pub async fn begin_write(&self) -> Result<WriteTx, sqlx::Error> {
        self.gate.begin(&self.pool).await
    }

    /// Run `work` in a write transaction ([`Db::begin_write`]) and commit it: on SQLite it joins
    /// the group commit, where a statement on its own connection ([`Db::write`]) would first commit
    /// the group. Returns once committed.
    pub async fn committed<T>(
        &self,
        work: impl AsyncFnOnce(&mut sqlx::AnyConnection) -> Result<T, sqlx::Error>,
    ) -> Result<T, sqlx::Error> {
        let mut tx = self.begin_write().await?;
        let value = work(&mut tx).await?;
        tx.commit().await?;
        Ok(value)
    }

    /// A connection for statements that write on their own, after waiting this writer's turn on
    /// SQLite ([`write`]).
    pub async fn write(&self) -> Result<WriteConn, sqlx::Error> {
        let turn = self.gate.turn().await;
        Ok(WriteConn::new(self.pool.acquire().await?, turn))
    }

    /// Liveness check for `/healthz`.
    pub async fn ping(&self) -> Result<(), sqlx::Error> {
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .map(|_| ())
    }
}

/// Milliseconds since the Unix epoch: the one timestamp format in the database.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// `$start, $start+1, …` placeholders for an `IN (…)` list of `n` values.
pub fn placeholders(start: usize, n: usize) -> String {
    (start..start + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}
