//! This installation's identity ([`crate::server::payments::reference`]): made once, on the
//! first start on a database, and read on every start after. Instances sharing a PostgreSQL
//! database share it; the first to start makes it.

use super::Db;
use crate::server::payments::reference;
use sqlx::Row as _;

/// The installation's tag, made now if the database has none yet.
pub async fn tag(db: &Db) -> Result<String, sqlx::Error> {
    {
        let mut conn = db.write().await?;
        // Two instances starting on one new database both try; the first insert wins and both
        // read its tag back below.
        sqlx::query(
            "INSERT INTO installation (id, tag, created_at) VALUES (1, $1, $2) \
             ON CONFLICT (id) DO NOTHING",
        )
        .bind(reference::new_tag())
        .bind(super::now_ms())
        .execute(&mut *conn)
        .await?;
    }
    let tag: String = sqlx::query("SELECT tag FROM installation WHERE id = 1")
        .fetch_one(&db.pool)
        .await?
        .try_get("tag")?;
    if reference::is_tag(&tag) {
        Ok(tag)
    } else {
        Err(sqlx::Error::Protocol(format!(
            "the installation tag {tag:?} in the database is not one this shop makes"
        )))
    }
}
