//! Square's webhook signature (docs/payments.md#square): `x-square-hmacsha256-signature` is the
//! standard-base64 HMAC-SHA256, keyed with the subscription's signature key (its UTF-8 bytes), over
//! the notification URL exactly as configured at Square followed by the raw body. The URL is the
//! configured one, never the one a request arrived at (a proxy changes that). Comparison is
//! constant-time (`Mac::verify_slice`). Nothing in the signed data is a timestamp: replays are
//! caught by the `event_id` (the ledger's deduplication).

use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

pub const HEADER: &str = "x-square-hmacsha256-signature";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("the x-square-hmacsha256-signature header is not base64")]
    Malformed,
    #[error("the signature does not match the notification URL and body")]
    Mismatch,
}

fn mac(key: &str, notification_url: &str, body: &[u8]) -> HmacSha256 {
    let mut mac =
        HmacSha256::new_from_slice(key.as_bytes()).expect("HMAC takes keys of any length");
    mac.update(notification_url.as_bytes());
    mac.update(body);
    mac
}

/// The header value Square sends for `body` delivered to `notification_url`.
pub fn sign(key: &str, notification_url: &str, body: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD
        .encode(mac(key, notification_url, body).finalize().into_bytes())
}

/// Check a header value against the raw body.
pub fn verify(
    header: &str,
    key: &str,
    notification_url: &str,
    body: &[u8],
) -> Result<(), SignatureError> {
    let given = base64::engine::general_purpose::STANDARD
        .decode(header.trim())
        .map_err(|_| SignatureError::Malformed)?;
    mac(key, notification_url, body)
        .verify_slice(&given)
        .map_err(|_| SignatureError::Mismatch)
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "sq_sig_key";
    const URL: &str = "https://example.com/webhooks/square";
    const BODY: &[u8] = br#"{"merchant_id":"M1","type":"payment.updated","event_id":"e1"}"#;
    const VECTOR: &str = "g28EAmkvzF4KrTats1lfNyTlVX9aHsZQvCOINqu0fQw=";

    #[test]
    fn square_signature_matches_the_published_vector() {
        assert_eq!(sign(KEY, URL, BODY), VECTOR);
        assert_eq!(verify(VECTOR, KEY, URL, BODY), Ok(()));
    }

    #[test]
    fn square_signature_refuses_other_urls_bodies_keys_and_garbage() {
        // A trailing slash, another scheme or the address a proxy forwarded to: another URL.
        for url in [
            "https://example.com/webhooks/square/",
            "http://example.com/webhooks/square",
            "http://127.0.0.1:3000/webhooks/square",
        ] {
            assert_eq!(
                verify(VECTOR, KEY, url, BODY),
                Err(SignatureError::Mismatch)
            );
        }
        let tampered = br#"{"merchant_id":"M1","type":"payment.updated","event_id":"e2"}"#;
        assert_eq!(
            verify(VECTOR, KEY, URL, tampered),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(VECTOR, "other", URL, BODY),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify("not base64!", KEY, URL, BODY),
            Err(SignatureError::Malformed)
        );
        assert_eq!(verify("", KEY, URL, BODY), Err(SignatureError::Mismatch));
    }
}
