//! When an open payment attempt is looked up at its provider while no webhook has settled it: 30 s,
//! 2 min, 10 min, 1 h, 6 h and 24 h after its session opened. The checkout sets the first due
//! time; the reconciler follows the rest.

/// Delays after the session opened, in milliseconds.
pub const SCHEDULE_MS: [i64; 6] = [30_000, 120_000, 600_000, 3_600_000, 21_600_000, 86_400_000];
pub const FIRST_LOOKUP_MS: i64 = SCHEDULE_MS[0];

/// When the lookup after `done` earlier ones is due, counted from the first one's due time.
pub fn next_due(first_due: i64, done: i64) -> Option<i64> {
    let next = usize::try_from(done + 1).ok()?;
    SCHEDULE_MS
        .get(next)
        .map(|delay| first_due - FIRST_LOOKUP_MS + delay)
}

/// The first due time, given the due time of lookup number `lookups` (0-based).
pub fn anchor(due_at: i64, lookups: i64) -> i64 {
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
