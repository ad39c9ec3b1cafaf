//! Failed log-in attempts, counted per email and per client address to slow down guessing.

use sqlx::{AnyConnection, Row as _};

/// Record a failure, and forget failures older than `before_ms` (they no longer count).
pub async fn record(
    conn: &mut AnyConnection,
    email: &str,
    ip: &str,
    before_ms: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM login_failures WHERE at_ms < $1")
        .bind(before_ms)
        .execute(&mut *conn)
        .await?;
    sqlx::query("INSERT INTO login_failures (email, ip, at_ms) VALUES ($1, $2, $3)")
        .bind(email)
        .bind(ip)
        .bind(super::now_ms())
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Failures since `since_ms` for this email and for this address, and the oldest of the email's.
pub struct RecentFailures {
    pub for_email: i64,
    pub for_ip: i64,
    pub oldest_ms: Option<i64>,
}

pub async fn recent(
    conn: &mut AnyConnection,
    email: &str,
    ip: &str,
    since_ms: i64,
) -> Result<RecentFailures, sqlx::Error> {
    let row = sqlx::query(
        "SELECT \
           (SELECT COUNT(*) FROM login_failures WHERE email = $1 AND at_ms >= $3) AS for_email, \
           (SELECT COUNT(*) FROM login_failures WHERE ip = $2 AND at_ms >= $3) AS for_ip, \
           (SELECT MIN(at_ms) FROM login_failures WHERE (email = $1 OR ip = $2) AND at_ms >= $3) AS oldest",
    )
    .bind(email)
    .bind(ip)
    .bind(since_ms)
    .fetch_one(conn)
    .await?;
    Ok(RecentFailures {
        for_email: row.try_get("for_email")?,
        for_ip: row.try_get("for_ip")?,
        oldest_ms: row.try_get("oldest")?,
    })
}

/// Forget an email's failures after a successful log-in, and anything older than `before_ms`.
pub async fn clear(
    conn: &mut AnyConnection,
    email: &str,
    before_ms: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM login_failures WHERE email = $1 OR at_ms < $2")
        .bind(email)
        .bind(before_ms)
        .execute(conn)
        .await?;
    Ok(())
}
