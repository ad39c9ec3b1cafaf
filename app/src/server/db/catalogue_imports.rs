//! Catalogue CSV files a merchant checked, kept for **Import** (a day at most).

use sqlx::{AnyConnection, Row as _};

const KEPT_MS: i64 = 24 * 60 * 60 * 1000;

/// Keep a checked file under `token`; files older than a day go.
pub async fn keep(
    conn: &mut AnyConnection,
    token: &str,
    user_id: i64,
    file_name: &str,
    body: &str,
) -> Result<(), sqlx::Error> {
    let now = super::now_ms();
    sqlx::query("DELETE FROM catalogue_imports WHERE created_at < $1")
        .bind(now - KEPT_MS)
        .execute(&mut *conn)
        .await?;
    sqlx::query(
        "INSERT INTO catalogue_imports (token, user_id, file_name, body, created_at) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(token)
    .bind(user_id)
    .bind(file_name)
    .bind(body)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

/// The file kept under `token` for this merchant, if it is less than a day old: its name and text.
pub async fn get(
    conn: &mut AnyConnection,
    token: &str,
    user_id: i64,
) -> Result<Option<(String, String)>, sqlx::Error> {
    let row = sqlx::query(
        "SELECT file_name, body FROM catalogue_imports \
         WHERE token = $1 AND user_id = $2 AND created_at >= $3",
    )
    .bind(token)
    .bind(user_id)
    .bind(super::now_ms() - KEPT_MS)
    .fetch_optional(conn)
    .await?;
    row.map(|r| Ok((r.try_get("file_name")?, r.try_get("body")?)))
        .transpose()
}

pub async fn forget(conn: &mut AnyConnection, token: &str) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM catalogue_imports WHERE token = $1")
        .bind(token)
        .execute(conn)
        .await?;
    Ok(())
}
