//! `NOTIFY` to the other instances sharing a PostgreSQL database (order status, catalogue and
//! session changes; [`super::events`] listens).

use sqlx::postgres::PgPool;

/// Send `payload` to every instance listening on `channel`, in the background: a failure only
/// costs the other instances this one change (logged).
pub fn send(pool: &PgPool, channel: &'static str, payload: String) {
    let pool = pool.clone();
    tokio::spawn(async move {
        let sent = sqlx::query("SELECT pg_notify($1, $2)")
            .bind(channel)
            .bind(payload)
            .execute(&pool)
            .await;
        if let Err(e) = sent {
            tracing::warn!(error = %e, channel, "could not notify other instances");
        }
    });
}
