//! Times as the pages show them, and the order lists' `From`/`To` days: the database keeps
//! milliseconds since the Unix epoch, people read UTC (`2026-12-01 12:50 UTC`) and machines read
//! RFC 3339 (`<time datetime=…>`). Integer arithmetic only, so the same code runs in the browser
//! bundle without a date library.

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

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's `days_from_civil`).
pub fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The start (in ms) of a UTC day written `YYYY-MM-DD`; `None` for anything else or a day that
/// does not exist (2026-02-30).
pub fn parse_day_start_ms(text: &str) -> Option<i64> {
    let bytes = text.as_bytes();
    if bytes.len() != 10 || bytes[4] != b'-' || bytes[7] != b'-' {
        return None;
    }
    let number = |range: std::ops::Range<usize>| -> Option<i64> {
        let part = &text[range];
        part.bytes()
            .all(|b| b.is_ascii_digit())
            .then(|| part.parse().ok())
            .flatten()
    };
    let (year, month, day) = (number(0..4)?, number(5..7)?, number(8..10)?);
    if !(1970..=9999).contains(&year) || !(1..=12).contains(&month) || day < 1 {
        return None;
    }
    let days = days_from_civil(year, month as u32, day as u32);
    // A day past the month's end rolls over; the round trip catches it.
    (civil_from_days(days) == (year, month as u32, day as u32)).then_some(days * DAY_MS)
}

/// The first millisecond after the UTC day that `text` names (for an inclusive `To`).
pub fn parse_day_end_ms(text: &str) -> Option<i64> {
    parse_day_start_ms(text).map(|start| start + DAY_MS)
}

/// `2026-12-01 12:50 UTC`: how the lists show when an order was placed.
pub fn format_minute_utc(ms: i64) -> String {
    let (day, h, m, _) = clock(ms);
    format!("{day} {h:02}:{m:02} UTC")
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

    #[test]
    fn days_round_trip() {
        for days in [-1, 0, 1, 59, 365, 10_957, 20_000, 2_932_896] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days, "{y}-{m}-{d}");
        }
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
    }

    #[test]
    fn parses_only_real_days() {
        assert_eq!(parse_day_start_ms("1970-01-02"), Some(DAY_MS));
        assert_eq!(parse_day_end_ms("1970-01-01"), Some(DAY_MS));
        assert!(parse_day_start_ms("2024-02-29").is_some());
        for bad in [
            "2026-02-30",
            "2025-02-29",
            "2026-13-01",
            "2026-1-01",
            "01/02/2026",
            "",
            "2026-01-0x",
            "+026-01-01",
        ] {
            assert_eq!(parse_day_start_ms(bad), None, "{bad}");
        }
    }

    #[test]
    fn formats_utc() {
        let ms =
            parse_day_start_ms("2026-12-01").unwrap() + (12 * 3600 + 50 * 60 + 40) * 1000 + 123;
        assert_eq!(rfc3339(ms), "2026-12-01T12:50:40Z");
        assert_eq!(format_minute_utc(ms), "2026-12-01 12:50 UTC");
    }
}
