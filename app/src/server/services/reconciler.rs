//! The reconciler (design.md §4.4): open payment attempts whose webhook never came are looked up at
//! the provider on a back-off schedule (30 s, 2 min, 10 min, 1 h, 6 h, 24 h after the session
//! opened), and the answer is applied like a webhook. Several instances may run it: each lookup is
//! claimed by moving its due time, so only one instance makes it.

use super::payment_updates;
use crate::model::ProviderId;
use crate::server::db::{now_ms, orders};
use crate::server::error::ServerResult;
use crate::server::state::AppState;
use std::time::Duration;

/// Delays after the session opened, in milliseconds.
const SCHEDULE_MS: [i64; 6] = [30_000, 120_000, 600_000, 3_600_000, 21_600_000, 86_400_000];
pub const FIRST_LOOKUP_MS: i64 = SCHEDULE_MS[0];
/// How often the reconciler looks for due lookups.
const TICK: Duration = Duration::from_secs(10);
const BATCH: i64 = 50;

/// When the lookup after `done` earlier ones is due, counted from the first one's due time.
fn next_due(first_due: i64, done: i64) -> Option<i64> {
    let next = usize::try_from(done + 1).ok()?;
    SCHEDULE_MS
        .get(next)
        .map(|delay| first_due - FIRST_LOOKUP_MS + delay)
}

/// Run forever in the background.
pub fn spawn(state: AppState) {
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(TICK).await;
            match run_once(&state).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(lookups = n, "reconciler looked up open payments"),
                Err(e) => tracing::warn!(error = %e, "reconciler pass failed"),
            }
        }
    });
}

/// One pass: look up every due attempt. Returns how many were looked up.
pub async fn run_once(state: &AppState) -> ServerResult<usize> {
    let due = {
        let mut conn = state.db.pool.acquire().await?;
        orders::due_lookups(&mut conn, now_ms(), BATCH).await?
    };
    let mut done = 0;
    for (id, reference, provider, session_id, lookups, due_at) in due {
        // The schedule is anchored on the first due time: opened + 30 s.
        let first_due = if lookups == 0 {
            due_at
        } else {
            anchor(due_at, lookups)
        };
        let claimed = {
            let mut conn = state.db.pool.acquire().await?;
            orders::claim_lookup(&mut conn, id, due_at, next_due(first_due, lookups)).await?
        };
        let Some(provider) = ProviderId::parse(&provider).and_then(|p| state.payments.get(p))
        else {
            continue;
        };
        if !claimed {
            continue;
        }
        done += 1;
        match provider.lookup(&reference, &session_id).await {
            Ok(update) => {
                let applied = payment_updates::apply(&state.db, &state.events, &update).await?;
                tracing::info!(attempt = %reference, outcome = %applied.describe(), "reconciler lookup");
            }
            Err(e) => tracing::warn!(attempt = %reference, error = %e, "reconciler lookup failed"),
        }
    }
    Ok(done)
}

/// The first due time, given the due time of lookup number `lookups` (0-based).
fn anchor(due_at: i64, lookups: i64) -> i64 {
    let index = usize::try_from(lookups)
        .unwrap_or(0)
        .min(SCHEDULE_MS.len() - 1);
    due_at - SCHEDULE_MS[index] + FIRST_LOOKUP_MS
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backs_off_on_the_design_schedule_then_stops() {
        let opened = 1_000_000;
        let first = opened + FIRST_LOOKUP_MS;
        let mut due = first;
        let mut seen = vec![due - opened];
        for done in 0.. {
            match next_due(anchor(due, done), done) {
                Some(next) => {
                    assert!(next > due);
                    due = next;
                    seen.push(due - opened);
                }
                None => break,
            }
        }
        assert_eq!(seen, SCHEDULE_MS.to_vec());
    }
}
