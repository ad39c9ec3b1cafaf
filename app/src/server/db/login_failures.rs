//! Log-in attempts, counted per (email, client address) and per client address to slow down
//! guessing without letting a stranger lock an account's owner out from elsewhere.
//!
//! An attempt is written *before* its password is checked, so parallel guesses see each other: the
//! n-th attempt to be written counts at least n rows and is refused once that passes the limit.
//! A refused attempt's row is taken back (only checked attempts count), a wrong password's row stays
//! as the failure, and a success clears the email's rows.

use sqlx::{AnyConnection, Row as _};

/// Record an attempt about to be checked, made at `at_ms`, and forget rows older than `before_ms`
/// (they no longer count). Returns the attempt's id, for [`forget`].
pub async fn record(
    conn: &mut AnyConnection,
    email: &str,
    ip: &str,
    at_ms: i64,
    before_ms: i64,
) -> Result<i64, sqlx::Error> {
    sqlx::query("DELETE FROM login_failures WHERE at_ms < $1")
        .bind(before_ms)
        .execute(&mut *conn)
        .await?;
    let row = sqlx::query(
        "INSERT INTO login_failures (email, ip, at_ms) VALUES ($1, $2, $3) RETURNING id",
    )
    .bind(email)
    .bind(ip)
    .bind(at_ms)
    .fetch_one(&mut *conn)
    .await?;
    row.try_get("id")
}

/// Attempts since `since_ms` for this email from this address, and for any email from this
/// address, and the oldest of them.
pub struct RecentFailures {
    pub for_email_here: i64,
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
           (SELECT COUNT(*) FROM login_failures WHERE email = $1 AND ip = $2 AND at_ms >= $3) AS for_email_here, \
           (SELECT COUNT(*) FROM login_failures WHERE ip = $2 AND at_ms >= $3) AS for_ip, \
           (SELECT MIN(at_ms) FROM login_failures WHERE ip = $2 AND at_ms >= $3) AS oldest",
    )
    .bind(email)
    .bind(ip)
    .bind(since_ms)
    .fetch_one(conn)
    .await?;
    Ok(RecentFailures {
        for_email_here: row.try_get("for_email_here")?,
        for_ip: row.try_get("for_ip")?,
        oldest_ms: row.try_get("oldest")?,
    })
}

/// Take back one attempt (it was refused without being checked).
pub async fn forget(conn: &mut AnyConnection, id: i64) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM login_failures WHERE id = $1")
        .bind(id)
        .execute(conn)
        .await?;
    Ok(())
}

/// Forget an email's attempts after a successful log-in, and anything older than `before_ms`.
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
