//! What the merchant's timeline may show of stored provider messages, and which attempt a raw
//! webhook names. Stored headers never hold cookies or credentials (the webhook route drops
//! them); here signature headers and signature or secret fields of a body (JSON or a form) are
//! redacted, and every run of 13 to 19 digits (a card number, with or without single spaces or
//! dashes between the digits) is masked down to its last four.

/// The most of a payload the page shows.
const SHOWN_BYTES: usize = 8 * 1024;

/// Header names whose values are secrets or signatures.
fn is_secret_header(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    [
        "signature",
        "-sig",
        "hmac",
        "auth",
        "token",
        "secret",
        "key",
        "cookie",
    ]
    .iter()
    .any(|part| name.contains(part))
}

/// Stored headers (a JSON object of name → value) as `name: value` lines, secrets redacted.
pub fn shown_headers(stored: &str) -> String {
    let Ok(serde_json::Value::Object(map)) = serde_json::from_str::<serde_json::Value>(stored)
    else {
        return String::new();
    };
    map.iter()
        .map(|(name, value)| {
            let value = if is_secret_header(name) {
                "[redacted]".to_string()
            } else {
                mask_card_numbers(value.as_str().unwrap_or_default())
            };
            format!("{name}: {value}")
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Field names whose values are signatures or secrets (SSLCOMMERZ's `verify_sign`, a password).
fn is_secret_field(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    ["sign", "secret", "passw", "token"]
        .iter()
        .any(|part| name.contains(part))
        && name != "verify_key"
}

/// Redact secret fields of a JSON value, at any depth; true if anything was.
fn redact_json(value: &mut serde_json::Value) -> bool {
    match value {
        serde_json::Value::Object(map) => {
            let mut changed = false;
            for (name, v) in map.iter_mut() {
                if is_secret_field(name) && !v.is_object() && !v.is_array() {
                    *v = "[redacted]".into();
                    changed = true;
                } else {
                    changed |= redact_json(v);
                }
            }
            changed
        }
        serde_json::Value::Array(items) => items.iter_mut().fold(false, |c, v| redact_json(v) | c),
        _ => false,
    }
}

/// Redact secret fields of a body: a JSON document or a form (`a=1&verify_sign=…`); anything
/// else is left as it is.
fn redact_fields(text: &str) -> String {
    let trimmed = text.trim_start();
    if trimmed.starts_with('{') || trimmed.starts_with('[') {
        // Re-written only when something was redacted; otherwise the bytes stay as received.
        return match serde_json::from_str::<serde_json::Value>(text) {
            Ok(mut value) => {
                if redact_json(&mut value) {
                    value.to_string()
                } else {
                    text.to_string()
                }
            }
            Err(_) => text.to_string(),
        };
    }
    if !text.contains('=') || text.contains(char::is_whitespace) {
        return text.to_string();
    }
    text.split('&')
        .map(|pair| match pair.split_once('=') {
            Some((name, _)) if is_secret_field(name) => format!("{name}=[redacted]"),
            _ => pair.to_string(),
        })
        .collect::<Vec<_>>()
        .join("&")
}

/// A stored body as text for the page: lossy UTF-8, signature fields redacted, cut at
/// [`SHOWN_BYTES`], card-like numbers masked.
pub fn shown_payload(body: &[u8]) -> String {
    let text = redact_fields(&String::from_utf8_lossy(body));
    let mut cut = text.len().min(SHOWN_BYTES);
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    let mut shown = text[..cut].to_string();
    if cut < text.len() {
        shown.push_str("\n… (cut)");
    }
    mask_card_numbers(&shown)
}

/// Replace all but the last four digits of every run of 13–19 digits (single spaces or dashes
/// may separate them, as on a card) with `*`.
pub fn mask_card_numbers(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = chars.clone();
    let mut i = 0;
    while i < chars.len() {
        if !chars[i].is_ascii_digit() {
            i += 1;
            continue;
        }
        // A run: digits, each separator single and followed by a digit.
        let mut digits = vec![i];
        let mut j = i + 1;
        while j < chars.len() {
            if chars[j].is_ascii_digit() {
                digits.push(j);
                j += 1;
            } else if matches!(chars[j], ' ' | '-')
                && chars.get(j + 1).is_some_and(|c| c.is_ascii_digit())
            {
                j += 1;
            } else {
                break;
            }
        }
        if (13..=19).contains(&digits.len()) {
            for &k in &digits[..digits.len() - 4] {
                out[k] = '*';
            }
        }
        i = j;
    }
    out.into_iter().collect()
}

/// The attempt reference a raw webhook body names (`ORD-000123-A1-K7QX2M`, or Alipay's
/// `ORD_000123_A1_K7QX2M`; older attempts have no tag), written the shop's way. Unverified: only used to list a delivery on that order's timeline.
pub fn claimed_reference(body: &[u8]) -> Option<String> {
    use crate::server::payments::reference;
    let text = String::from_utf8_lossy(&body[..body.len().min(64 * 1024)]);
    let bytes = text.as_bytes();
    let digits_from = |at: usize| {
        bytes[at..]
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .count()
    };
    let mut from = 0;
    while let Some(found) = text[from..].find("ORD") {
        let start = from + found;
        from = start + 3;
        let mut at = start + 3;
        let Some(&sep) = bytes.get(at).filter(|b| matches!(b, b'-' | b'_')) else {
            continue;
        };
        at += 1;
        let order_digits = digits_from(at);
        if order_digits == 0 {
            continue;
        }
        let order = &text[at..at + order_digits];
        at += order_digits;
        if bytes.get(at) != Some(&sep) || bytes.get(at + 1) != Some(&b'A') {
            continue;
        }
        at += 2;
        let attempt_digits = digits_from(at);
        if attempt_digits == 0 {
            continue;
        }
        let attempt = &text[at..at + attempt_digits];
        at += attempt_digits;
        // The installation tag, on attempts made since there is one.
        let tag_len = reference::TAG_LEN;
        let tag = text
            .get(at + 1..at + 1 + tag_len)
            .filter(|tag| bytes.get(at) == Some(&sep) && reference::is_tag(tag))
            .filter(|_| {
                !bytes
                    .get(at + 1 + tag_len)
                    .is_some_and(|b| b.is_ascii_alphanumeric())
            });
        return Some(match tag {
            Some(tag) => format!("ORD-{order}-A{attempt}-{tag}"),
            None => format!("ORD-{order}-A{attempt}"),
        });
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn card_numbers_are_masked_to_their_last_four() {
        assert_eq!(
            mask_card_numbers(r#"{"card":"4242424242424242","amount":1800}"#),
            r#"{"card":"************4242","amount":1800}"#
        );
        assert_eq!(
            mask_card_numbers("pan 4000 0566 5566 5556 exp 12/34"),
            "pan **** **** **** 5556 exp 12/34"
        );
        assert_eq!(
            mask_card_numbers("4111-1111-1111-1"),
            "****-****-*111-1",
            "13 digits"
        );
        // 12 and 20 digits are not card numbers; a timestamp in seconds stays.
        assert_eq!(mask_card_numbers("123456789012"), "123456789012");
        assert_eq!(
            mask_card_numbers("12345678901234567890"),
            "12345678901234567890"
        );
        assert_eq!(
            mask_card_numbers("created 1700000000, 2 items"),
            "created 1700000000, 2 items"
        );
    }

    #[test]
    fn signature_headers_are_redacted() {
        let stored = r#"{"content-type":"application/json","stripe-signature":"t=1,v1=abc","x-square-hmacsha256-signature":"zz","paypal-transmission-sig":"s"}"#;
        let shown = shown_headers(stored);
        assert!(shown.contains("content-type: application/json"), "{shown}");
        assert!(shown.contains("stripe-signature: [redacted]"), "{shown}");
        assert!(
            !shown.contains("v1=abc") && !shown.contains("zz"),
            "{shown}"
        );
        assert!(shown.contains("paypal-transmission-sig: [redacted]"));
    }

    #[test]
    fn signature_fields_in_bodies_are_redacted() {
        let form = shown_payload(b"tran_id=ORD-000001-A1&verify_sign=abc123&verify_key=amount,tran_id&card_no=4111111111111111");
        assert_eq!(
            form,
            "tran_id=ORD-000001-A1&verify_sign=[redacted]&verify_key=amount,tran_id&card_no=************1111"
        );
        let json = shown_payload(br#"{"a":{"signature":"xyz","n":1},"list":[{"token":"t"}]}"#);
        assert_eq!(
            json,
            r#"{"a":{"n":1,"signature":"[redacted]"},"list":[{"token":"[redacted]"}]}"#
        );
        assert_eq!(shown_payload(b"not a form"), "not a form");
        let plain = br#"{ "b": 1,  "a": 2 }"#;
        assert_eq!(
            shown_payload(plain).as_bytes(),
            plain,
            "untouched when nothing is secret"
        );
    }

    #[test]
    fn the_named_attempt_is_found_in_any_provider_format() {
        assert_eq!(
            claimed_reference(br#"{"client_reference_id":"ORD-000012-A2"}"#).as_deref(),
            Some("ORD-000012-A2")
        );
        assert_eq!(
            claimed_reference(b"out_trade_no=ORD_000007_A1&x=1").as_deref(),
            Some("ORD-000007-A1")
        );
        assert_eq!(
            claimed_reference(b"ORDER ORD-1 ORD-000003-A1").as_deref(),
            Some("ORD-000003-A1")
        );
        assert_eq!(claimed_reference(b"ORD-000003_A1 nothing"), None);
        assert_eq!(
            claimed_reference(br#"{"invoice_id":"ORD-000004-A2-K7QX2M"}"#).as_deref(),
            Some("ORD-000004-A2-K7QX2M")
        );
        assert_eq!(
            claimed_reference(b"out_trade_no=ORD_000004_A2_K7QX2M&x=1").as_deref(),
            Some("ORD-000004-A2-K7QX2M")
        );
        assert_eq!(
            claimed_reference(b"ORD-000004-A2-K7QX2MM").as_deref(),
            Some("ORD-000004-A2"),
            "not a tag"
        );
        assert_eq!(claimed_reference(b""), None);
    }
}
