//! The once-only capture claim behind [`CaptureClaims`] (PayPal): a conditional UPDATE on the
//! attempt's row, so exactly one caller wins on one instance or on several sharing PostgreSQL.

use crate::server::db::{self, Db};
use crate::server::payments::{CaptureClaims, PaymentError};

/// A claim older than this is taken to belong to a caller that died mid-call. One capture can
/// take up to about 80 s (a token, the capture, a renewed token, the capture again, each under
/// the HTTP client's timeout), so well above that.
pub const STALE_AFTER_MS: i64 = 180_000;

pub struct DbCaptureClaims {
    db: Db,
}

impl DbCaptureClaims {
    pub fn new(db: Db) -> DbCaptureClaims {
        DbCaptureClaims { db }
    }
}

fn unavailable(e: sqlx::Error) -> PaymentError {
    tracing::error!(error = %e, "capture claim failed");
    PaymentError::Unavailable("the shop's database did not answer".into())
}

#[async_trait::async_trait]
impl CaptureClaims for DbCaptureClaims {
    async fn claim(&self, attempt_reference: &str, session_id: &str) -> Result<bool, PaymentError> {
        let mut conn = self.db.write().await.map_err(unavailable)?;
        db::attempts::claim_capture(
            &mut conn,
            attempt_reference,
            session_id,
            db::now_ms() - STALE_AFTER_MS,
        )
        .await
        .map_err(unavailable)
    }

    async fn release(&self, attempt_reference: &str) -> Result<(), PaymentError> {
        let mut conn = self.db.write().await.map_err(unavailable)?;
        db::attempts::release_capture(&mut conn, attempt_reference)
            .await
            .map_err(unavailable)
    }
}
