//! Times as the pages show them: the database keeps milliseconds since the Unix epoch, people read
//! UTC (`2026-12-01 12:50 UTC`) and machines read RFC 3339 (`<time datetime=…>`). Integer
//! arithmetic only, so the same code runs in the browser bundle without a date library.

/// Milliseconds in a day.
pub const DAY_MS: i64 = 86_400_000;

/// The (year, month, day) of a day counted from 1970-01-01 (proleptic Gregorian calendar;
/// H. Hinnant's `civil_from_days`).
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// `2026-12-01` for a day counted from 1970-01-01.
pub fn day_label(days: i64) -> String {
    let (y, m, d) = civil_from_days(days);
    format!("{y:04}-{m:02}-{d:02}")
}

/// The day (from 1970-01-01, UTC) a timestamp falls on.
pub fn day_of(ms: i64) -> i64 {
    ms.div_euclid(DAY_MS)
}

fn clock(ms: i64) -> (String, i64, i64, i64) {
    let within = ms.rem_euclid(DAY_MS) / 1000;
    (
        day_label(day_of(ms)),
        within / 3600,
        within % 3600 / 60,
        within % 60,
    )
}

/// RFC 3339 in UTC, to the second: `2026-12-01T12:50:40Z`.
pub fn rfc3339(ms: i64) -> String {
    let (day, h, m, s) = clock(ms);
    format!("{day}T{h:02}:{m:02}:{s:02}Z")
}

/// What a person reads: `2026-12-01 12:50:40 UTC`.
pub fn readable(ms: i64) -> String {
    let (day, h, m, s) = clock(ms);
    format!("{day} {h:02}:{m:02}:{s:02} UTC")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_instants() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(readable(1_700_000_000_000), "2023-11-14 22:13:20 UTC");
        assert_eq!(
            rfc3339(951_782_400_000),
            "2000-02-29T00:00:00Z",
            "a leap day"
        );
        assert_eq!(day_label(day_of(1_709_251_199_999)), "2024-02-29");
        assert_eq!(rfc3339(-1000), "1969-12-31T23:59:59Z");
    }
}
