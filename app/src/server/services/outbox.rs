//! The outbox worker: sends the emails the payment path queued in the same transaction as the
//! state change they report (`orders::insert_outbox`). Every instance runs it, every ~2 s.
//!
//! Delivery is at-least-once toward the SMTP server and at-most-once per claim: a pass claims a few
//! due rows under a lease (`db::outbox::claim_due`), sends them one by one, and records each
//! outcome only while its claim token still holds the row. The lease (10 min) is far longer than a
//! send may take (`SEND_TIMEOUT`), and no send starts that could outlive it, so two instances never
//! send the same row. A failure is retried with back-off (30 s, 2 min, 10 min, 1 h, 3 h, 6 h,
//! 12 h); after `MAX_ATTEMPTS` tries the row is dead, which the merchant's pages show.
//!
//! On shutdown the message in hand is finished, the pass stops, and the leases of claimed but
//! unsent rows are released so another instance takes them at once; a database error mid-pass
//! releases them too.

use super::mail::{self, transport::Mailer, ComposeError};
use crate::server::background::Worker;
use crate::server::db::{now_ms, outbox};
use crate::server::error::{ServerError, ServerResult};
use crate::server::state::AppState;
use std::time::Duration;

/// How often a worker looks for due messages.
const TICK: Duration = Duration::from_secs(2);
/// Rows claimed at once.
const BATCH: i64 = 10;
/// Composing and sending one message (connect, TLS, the SMTP dialogue, or the file write) that
/// takes longer is a failure. Shorter than the shutdown's wait for the workers, so the message in
/// hand at SIGTERM is finished and recorded before the process exits.
pub const SEND_TIMEOUT: Duration = Duration::from_secs(15);
/// Recording an outcome is retried this often on a database error: a message sent but not marked
/// would be sent again once its lease runs out.
const RECORD_TRIES: u32 = 3;
/// How long a claim holds its rows: more than `BATCH` sends at their longest.
const LEASE_MS: i64 = 10 * 60_000;
/// Delay before the next try, by tries made so far (the last repeats).
const BACKOFF_MS: [i64; 7] = [
    30_000,
    120_000,
    600_000,
    3_600_000,
    3 * 3_600_000,
    6 * 3_600_000,
    12 * 3_600_000,
];
/// Tries before a message is given up on (dead): about a day and a half of back-off.
pub const MAX_ATTEMPTS: i64 = 8;

/// What one pass did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Pass {
    pub sent: usize,
    pub failed: usize,
    pub dead: usize,
}

impl Pass {
    fn is_empty(&self) -> bool {
        *self == Pass::default()
    }
}

/// When the try after `attempts` failed ones is due.
pub fn next_attempt_at(now: i64, attempts: i64) -> i64 {
    let step = usize::try_from(attempts.saturating_sub(1))
        .unwrap_or(0)
        .min(BACKOFF_MS.len() - 1);
    now + BACKOFF_MS[step]
}

/// Run in the background until the instance stops.
pub fn spawn(state: AppState) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mailer = match Mailer::from_settings(&state.settings.mail) {
            Ok(mailer) => mailer,
            Err(e) => {
                tracing::error!(error = %e, "the outbox worker cannot start: emails stay queued");
                return;
            }
        };
        match &state.settings.mail.smtp {
            Some(smtp) => tracing::info!(server = %smtp.describe(), "emails go out by SMTP"),
            None => {
                tracing::info!(dir = %state.settings.mail.dir.display(), "no SMTP_URL: emails are written as .eml files")
            }
        }
        loop {
            tokio::select! {
                _ = tokio::time::sleep(TICK) => {}
                _ = state.background.stopped() => break,
            }
            match run_with(&state, &mailer).await {
                Ok(pass) => {
                    state.background.record_run(Worker::Outbox, now_ms());
                    if !pass.is_empty() {
                        tracing::debug!(?pass, "outbox pass");
                    }
                }
                Err(e) => tracing::warn!(error = %e, "outbox pass failed"),
            }
        }
        tracing::info!("outbox worker stopped");
    })
}

/// One pass with the configured transport (tests call this to act as a worker).
pub async fn run_once(state: &AppState) -> ServerResult<Pass> {
    let mailer = Mailer::from_settings(&state.settings.mail).map_err(ServerError::Internal)?;
    run_with(state, &mailer).await
}

/// Claim due rows, send them one by one, release what was not sent.
async fn run_with(state: &AppState, mailer: &Mailer) -> ServerResult<Pass> {
    if state.background.is_stopping() {
        return Ok(Pass::default());
    }
    let token = uuid::Uuid::new_v4().simple().to_string();
    let now = now_ms();
    let backend = state.db.backend;
    let claimed = state
        .db
        .committed(async |conn| {
            outbox::claim_due(conn, backend, now, now + LEASE_MS, &token, BATCH).await
        })
        .await?;
    let mut pass = Pass::default();
    let mut unsent = false;
    let send_ms = i64::try_from(SEND_TIMEOUT.as_millis()).unwrap_or(i64::MAX);
    let mut failure = None;
    for row in &claimed {
        // Stopping, or too little lease left to finish a send: leave the rest to a later holder.
        if state.background.is_stopping() || now_ms().saturating_add(send_ms) >= row.claimed_until {
            unsent = true;
            break;
        }
        if let Err(e) = deliver(state, mailer, row, &token, &mut pass).await {
            // The database failed us: hand the rest back rather than hold them for the lease.
            failure = Some(e);
            unsent = true;
            break;
        }
    }
    if unsent {
        let released = retry_db(|| {
            let db = state.db.clone();
            let token = token.clone();
            async move {
                db.committed(async |conn| outbox::release(conn, &token).await)
                    .await
            }
        })
        .await;
        match released {
            Ok(released) => tracing::info!(released, "released unsent outbox claims"),
            Err(e) => {
                tracing::warn!(error = %e, "could not release outbox claims; their lease runs out")
            }
        }
    }
    match failure {
        Some(e) => Err(e),
        None => Ok(pass),
    }
}

/// Run a database step, again after a short pause if it fails, up to [`RECORD_TRIES`] times.
async fn retry_db<T, F, Fut>(mut step: F) -> Result<T, sqlx::Error>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, sqlx::Error>>,
{
    let mut tries = 1;
    loop {
        match step().await {
            Ok(done) => return Ok(done),
            Err(e) if tries < RECORD_TRIES => {
                tracing::warn!(error = %e, tries, "outbox: database step failed; trying again");
                tokio::time::sleep(Duration::from_millis(200 * u64::from(tries))).await;
                tries += 1;
            }
            Err(e) => return Err(e),
        }
    }
}

/// Send one claimed row and record the outcome.
async fn deliver(
    state: &AppState,
    mailer: &Mailer,
    row: &outbox::Claimed,
    token: &str,
    pass: &mut Pass,
) -> ServerResult<()> {
    let kind = mail::known_kind(&row.kind);
    let attempt = row.attempts + 1;
    let reference = row.reference.as_deref().unwrap_or("");
    let eight_bit = matches!(mailer, Mailer::Files(_));
    let send = async {
        match mail::compose(state, row, eight_bit).await {
            Ok(out) => {
                let name = format!("{}-{}-{}", row.id, kind, out.reference);
                mailer
                    .send(&out.message, &name)
                    .await
                    .map_err(|e| (e, false))
            }
            Err(ComposeError::Transient(e)) => Err((e, false)),
            Err(ComposeError::Permanent(e)) => Err((e, true)),
        }
    };
    let outcome = match tokio::time::timeout(SEND_TIMEOUT, send).await {
        Ok(outcome) => outcome,
        Err(_) => Err((format!("no answer within {SEND_TIMEOUT:?}"), false)),
    };
    let now = now_ms();
    match outcome {
        Ok(()) => {
            let marked = retry_db(|| {
                let db = state.db.clone();
                async move {
                    db.committed(async |conn| outbox::mark_sent(conn, row.id, token, now).await)
                        .await
                }
            })
            .await?;
            if marked {
                metrics::counter!("storefront_emails_sent_total", "kind" => kind).increment(1);
                tracing::info!(outbox_id = row.id, kind, reference, attempt, "email sent");
                pass.sent += 1;
            } else {
                tracing::error!(
                    outbox_id = row.id,
                    kind,
                    reference,
                    attempt,
                    "email sent after its claim was lost"
                );
            }
        }
        Err((error, permanent)) => {
            let error = mail::transport::short(&error);
            let dead = permanent || attempt >= MAX_ATTEMPTS;
            let recorded = retry_db(|| {
                let db = state.db.clone();
                let error = error.clone();
                async move {
                    db.committed(async |conn| {
                        outbox::mark_failed(
                            conn,
                            row.id,
                            token,
                            &error,
                            next_attempt_at(now, attempt),
                            dead.then_some(now),
                        )
                        .await
                    })
                    .await
                }
            })
            .await?;
            if !recorded {
                tracing::warn!(
                    outbox_id = row.id,
                    kind,
                    reference,
                    attempt,
                    "email failed after its claim was lost"
                );
                return Ok(());
            }
            metrics::counter!("storefront_email_failures_total", "kind" => kind).increment(1);
            pass.failed += 1;
            if dead {
                metrics::counter!("storefront_emails_dead_total", "kind" => kind).increment(1);
                pass.dead += 1;
                tracing::error!(outbox_id = row.id, kind, reference, attempt, %error, "email given up (dead)");
            } else {
                tracing::warn!(outbox_id = row.id, kind, reference, attempt, %error, "email failed, will retry");
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backs_off_then_holds_the_longest_delay() {
        assert_eq!(next_attempt_at(1_000, 1), 31_000);
        assert_eq!(next_attempt_at(0, 2), 120_000);
        assert_eq!(next_attempt_at(0, 4), 3_600_000);
        assert_eq!(next_attempt_at(0, 7), 12 * 3_600_000);
        assert_eq!(next_attempt_at(0, 50), 12 * 3_600_000);
        // The lease outlasts a whole batch of the slowest sends.
        assert!(LEASE_MS > BATCH * SEND_TIMEOUT.as_millis() as i64);
        assert!(SEND_TIMEOUT > super::mail::transport::SMTP_COMMAND_TIMEOUT);
    }
}
