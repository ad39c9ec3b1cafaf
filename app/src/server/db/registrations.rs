//! Registration attempts per client address, for the registration rate limit. Like log-in attempts,
//! an attempt is written before any work is done, so parallel requests see each other.

use sqlx::{AnyConnection, Row as _};

/// Record an attempt made at `at_ms`, and forget attempts older than `before_ms`. Returns its id,
/// for [`forget`].
pub async fn record(
    conn: &mut AnyConnection,
    ip: &str,
    at_ms: i64,
    before_ms: i64,
) -> Result<i64, sqlx::Error> {
    sqlx::query("DELETE FROM registration_attempts WHERE at_ms < $1")
        .bind(before_ms)
        .execute(&mut *conn)
        .await?;
    let row =
        sqlx::query("INSERT INTO registration_attempts (ip, at_ms) VALUES ($1, $2) RETURNING id")
            .bind(ip)
            .bind(at_ms)
            .fetch_one(&mut *conn)
            .await?;
    row.try_get("id")
}

/// Attempts from this address since `since_ms`, and the oldest of them.
pub struct RecentRegistrations {
    pub count: i64,
    pub oldest_ms: Option<i64>,
}

pub async fn recent(
    conn: &mut AnyConnection,
    ip: &str,
    since_ms: i64,
) -> Result<RecentRegistrations, sqlx::Error> {
    let row = sqlx::query(
        "SELECT COUNT(*) AS n, MIN(at_ms) AS oldest FROM registration_attempts \
         WHERE ip = $1 AND at_ms >= $2",
    )
    .bind(ip)
    .bind(since_ms)
    .fetch_one(conn)
    .await?;
    Ok(RecentRegistrations {
        count: row.try_get("n")?,
        oldest_ms: row.try_get("oldest")?,
    })
}

/// Take back an attempt that was refused before any work.
pub async fn forget(conn: &mut AnyConnection, id: i64) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM registration_attempts WHERE id = $1")
        .bind(id)
        .execute(conn)
        .await?;
    Ok(())
}
