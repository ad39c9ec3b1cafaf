//! The `X-ANET-Signature` webhook header (docs/payments.md#authorizenet): `sha512=<HEX>`, HMAC-SHA512 over the
//! raw body with the ASCII bytes of the Signature Key as the key. Authorize.Net sends upper-case
//! hex; any case is accepted, and the comparison is constant-time (`verify_slice`). Nothing
//! timestamped is signed, so a replay is a duplicate, caught by its `notificationId`.

use hmac::{Hmac, Mac};
use sha2::Sha512;

type HmacSha512 = Hmac<Sha512>;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("X-ANET-Signature is not sha512=<128 hex characters>")]
    Malformed,
    #[error("X-ANET-Signature does not match the body")]
    Mismatch,
}

fn mac(key: &str, body: &[u8]) -> HmacSha512 {
    let mut mac =
        HmacSha512::new_from_slice(key.as_bytes()).expect("HMAC takes keys of any length");
    mac.update(body);
    mac
}

/// Check the header's value against the raw body.
pub fn verify(header: &str, body: &[u8], key: &str) -> Result<(), SignatureError> {
    let header = header.trim();
    let hex_part = header
        .get(..7)
        .filter(|p| p.eq_ignore_ascii_case("sha512="))
        .map(|_| &header[7..])
        .ok_or(SignatureError::Malformed)?;
    if hex_part.len() != 128 {
        return Err(SignatureError::Malformed);
    }
    let signature = hex::decode(hex_part).map_err(|_| SignatureError::Malformed)?;
    mac(key, body)
        .verify_slice(&signature)
        .map_err(|_| SignatureError::Mismatch)
}

/// The header Authorize.Net would send for `body` (for the sandbox and tests).
pub fn sign(body: &[u8], key: &str) -> String {
    format!(
        "sha512={}",
        hex::encode_upper(mac(key, body).finalize().into_bytes())
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    // docs/payments.md#signature-test-vectors, vector 4.
    const KEY: &str = "ABCDEF0123";
    const BODY: &[u8] =
        br#"{"notificationId":"n1","eventType":"net.authorize.payment.authcapture.created"}"#;
    const HEADER: &str = "sha512=8D6F2A45774A8AB62D4C57F99DADA66FCB247495F461D5AD7076292916FC02D59B4CFDC285BDDF87A2EF49CD4F8C3E9E707E23CD949C5685BFE268753F585D27";

    #[test]
    fn authorizenet_signs_the_documented_vector() {
        assert_eq!(sign(BODY, KEY), HEADER);
        assert_eq!(verify(HEADER, BODY, KEY), Ok(()));
    }

    #[test]
    fn authorizenet_lowercase_hex_and_prefix_are_accepted() {
        assert_eq!(verify(&HEADER.to_lowercase(), BODY, KEY), Ok(()));
        let mixed = format!("SHA512={}", &HEADER[7..]);
        assert_eq!(verify(&mixed, BODY, KEY), Ok(()));
    }

    #[test]
    fn authorizenet_tampered_forged_and_malformed_signatures_are_refused() {
        let tampered =
            br#"{"notificationId":"n2","eventType":"net.authorize.payment.authcapture.created"}"#;
        assert_eq!(verify(HEADER, tampered, KEY), Err(SignatureError::Mismatch));
        assert_eq!(
            verify(HEADER, BODY, "ABCDEF0124"),
            Err(SignatureError::Mismatch)
        );
        for bad in ["", "sha512=", "sha256=00", &HEADER[7..], "sha512=zz"] {
            assert_eq!(
                verify(bad, BODY, KEY),
                Err(SignatureError::Malformed),
                "{bad}"
            );
        }
        let short = &HEADER[..HEADER.len() - 2];
        assert_eq!(verify(short, BODY, KEY), Err(SignatureError::Malformed));
    }
}
