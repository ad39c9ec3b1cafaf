//! The sandboxes' one clock, and the ways their providers write a time. Every time a sandbox
//! writes comes from here (UTC, through `model::utc`), so a test that needs another clock has one
//! place to change.

use app::model::utc;

/// Milliseconds since the epoch.
pub fn now_ms() -> i64 {
    app::server::db::now_ms()
}

/// Seconds since the epoch.
pub fn now_secs() -> i64 {
    now_ms() / 1000
}

/// `2026-12-07T09:40:12Z` (PayPal's `create_time`, Braintree's timestamps).
pub fn rfc3339_now() -> String {
    utc::rfc3339(now_ms())
}

/// `2026-12-07T09:40:12.345Z` (Square's `created_at`).
pub fn rfc3339_millis_now() -> String {
    let ms = now_ms();
    let seconds = utc::rfc3339(ms);
    format!("{}.{:03}Z", &seconds[..19], ms.rem_euclid(1000))
}

/// `2026-12-07T09:40:12`, no zone (Authorize.Net's `submitTimeUTC`), at `secs`.
pub fn plain_utc(secs: i64) -> String {
    utc::rfc3339(secs * 1000)[..19].to_string()
}

/// `2026-12-07 09:40:12` (SSLCOMMERZ's `tran_date`).
pub fn spaced_now() -> String {
    plain_utc(now_secs()).replacen('T', " ", 1)
}

/// `261207094012`: `YYMMDDhhmmss` (the start of SSLCOMMERZ's `val_id`).
pub fn compact_now() -> String {
    let digits: String = plain_utc(now_secs())
        .chars()
        .filter(char::is_ascii_digit)
        .collect();
    digits[2..].to_string()
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_formats_agree_with_each_other() {
        let secs = super::now_secs();
        assert_eq!(super::plain_utc(0), "1970-01-01T00:00:00");
        assert_eq!(super::rfc3339_millis_now().len(), 24);
        assert!(super::rfc3339_now().ends_with('Z'));
        let spaced = super::spaced_now();
        assert_eq!(spaced.as_bytes()[10], b' ');
        assert_eq!(super::compact_now().len(), 12);
        assert!(super::now_secs() >= secs);
    }
}
