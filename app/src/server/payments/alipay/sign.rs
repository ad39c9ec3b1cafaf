//! Alipay's RSA2 (SHA256withRSA, PKCS#1 v1.5) signatures (docs/payments.md#alipay): keys
//! in PKCS#8 or PKCS#1 PEM (or the bare base64 the Alipay console shows), the sorted `k=v&…`
//! string to sign, the raw response object a gateway answer is signed over, and the shop's
//! references and amounts written Alipay's way. RustCrypto does the cryptography.

use crate::model::{Currency, Money};
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use rsa::pkcs1::{DecodeRsaPrivateKey, DecodeRsaPublicKey};
use rsa::pkcs1v15::{Signature, SigningKey, VerifyingKey};
use rsa::pkcs8::{DecodePrivateKey, DecodePublicKey};
use rsa::signature::{SignatureEncoding, Signer, Verifier};
use rsa::{RsaPrivateKey, RsaPublicKey};
use sha2::Sha256;
use std::collections::BTreeMap;

/// A private key that signs, and never prints itself.
#[derive(Clone)]
pub struct PrivateKey(SigningKey<Sha256>);

impl std::fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PrivateKey(hidden)")
    }
}

/// A public key that verifies.
#[derive(Clone)]
pub struct PublicKey(VerifyingKey<Sha256>);

impl std::fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PublicKey(RSA)")
    }
}

/// Why a key could not be read (never carries the key's text).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct KeyError(&'static str);

/// The text between PEM markers, or bare base64, as DER bytes. `\n` written as two characters
/// (as `.env` files often carry them) counts as a line break.
fn der_of(text: &str) -> Option<Vec<u8>> {
    let text = text.trim().replace("\\n", "\n");
    let body: String = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.starts_with("-----"))
        .collect();
    BASE64.decode(body.as_bytes()).ok()
}

impl PrivateKey {
    /// PKCS#8 (`BEGIN PRIVATE KEY`) or PKCS#1 (`BEGIN RSA PRIVATE KEY`) PEM, or bare base64 of
    /// either.
    pub fn parse(text: &str) -> Result<PrivateKey, KeyError> {
        let der = der_of(text).ok_or(KeyError("not PEM or base64"))?;
        let key = RsaPrivateKey::from_pkcs8_der(&der)
            .or_else(|_| RsaPrivateKey::from_pkcs1_der(&der))
            .map_err(|_| KeyError("not an RSA private key in PKCS#8 or PKCS#1"))?;
        Ok(PrivateKey(SigningKey::<Sha256>::new(key)))
    }

    /// RSA2: SHA256withRSA over the UTF-8 bytes, base64.
    pub fn sign(&self, content: &str) -> String {
        let signature: Signature = self.0.sign(content.as_bytes());
        BASE64.encode(signature.to_bytes())
    }

    /// The matching public key.
    pub fn public_key(&self) -> PublicKey {
        use rsa::signature::Keypair as _;
        PublicKey(self.0.verifying_key())
    }
}

impl PublicKey {
    /// SPKI (`BEGIN PUBLIC KEY`, what Alipay's console gives) or PKCS#1 (`BEGIN RSA PUBLIC KEY`)
    /// PEM, or bare base64 of either.
    pub fn parse(text: &str) -> Result<PublicKey, KeyError> {
        let der = der_of(text).ok_or(KeyError("not PEM or base64"))?;
        let key = RsaPublicKey::from_public_key_der(&der)
            .or_else(|_| RsaPublicKey::from_pkcs1_der(&der))
            .map_err(|_| KeyError("not an RSA public key in SPKI or PKCS#1"))?;
        Ok(PublicKey(VerifyingKey::<Sha256>::new(key)))
    }

    /// Whether this is the same RSA key as `other`, whatever encoding either was read from.
    pub fn same_key(&self, other: &PublicKey) -> bool {
        let mine: &rsa::RsaPublicKey = self.0.as_ref();
        let theirs: &rsa::RsaPublicKey = other.0.as_ref();
        mine == theirs
    }

    /// Whether `sign` (base64) is this key's RSA2 signature of `content`. The padding check
    /// inside is RustCrypto's, constant-time.
    pub fn verify(&self, content: &str, sign: &str) -> bool {
        let Ok(bytes) = BASE64.decode(sign.trim().as_bytes()) else {
            return false;
        };
        let Ok(signature) = Signature::try_from(bytes.as_slice()) else {
            return false;
        };
        self.0.verify(content.as_bytes(), &signature).is_ok()
    }
}

/// The string to sign: every parameter but those in `skip`, sorted by key (ASCII), `k=v` joined
/// with `&`, raw values.
pub fn content<'a>(params: impl IntoIterator<Item = (&'a str, &'a str)>, skip: &[&str]) -> String {
    let sorted: BTreeMap<&str, &str> = params
        .into_iter()
        .filter(|(k, _)| !skip.contains(k))
        .collect();
    sorted
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&")
}

/// Form fields as received, decoded; `None` when the body is not a form or names a field twice
/// (which value was signed would be ambiguous).
pub fn form_fields(body: &[u8]) -> Option<BTreeMap<String, String>> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(body).ok()?;
    let count = pairs.len();
    let map: BTreeMap<String, String> = pairs.into_iter().collect();
    (map.len() == count).then_some(map)
}

/// Check a notify's (or signed return's) fields: RSA2 over all fields except `sign` and
/// `sign_type`.
pub fn verify_fields(fields: &BTreeMap<String, String>, key: &PublicKey) -> bool {
    let Some(sign) = fields.get("sign") else {
        return false;
    };
    let signed = content(
        fields.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        &["sign", "sign_type"],
    );
    key.verify(&signed, sign)
}

/// The exact raw JSON text of `"<key>": {…}` in a gateway answer, from its `{` to the matching
/// `}` (what Alipay signs), and the top-level `sign`.
pub fn signed_response<'a>(raw: &'a str, key: &str) -> Option<(&'a str, Option<String>)> {
    let quoted = format!("\"{key}\"");
    let start = raw.find(&quoted)? + quoted.len();
    let rest = &raw[start..];
    let colon = rest.find(|c: char| !c.is_whitespace())?;
    if !rest[colon..].starts_with(':') {
        return None;
    }
    let after = &rest[colon + 1..];
    let open = after.find(|c: char| !c.is_whitespace())?;
    if !after[open..].starts_with('{') {
        return None;
    }
    let object = &after[open..];
    let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
    let mut end = None;
    for (i, c) in object.char_indices() {
        if in_string {
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match c {
            '"' => in_string = true,
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    end = Some(i + 1);
                    break;
                }
            }
            _ => {}
        }
    }
    let text = &object[..end?];
    let sign = serde_json::from_str::<serde_json::Value>(raw)
        .ok()
        .and_then(|v| v.get("sign").and_then(|s| s.as_str()).map(str::to_string));
    Some((text, sign))
}

/// `ORD-000123-A1-K7QX2M` as Alipay's `out_trade_no` allows it (letters, digits, `_`):
/// `ORD_000123_A1_K7QX2M`.
pub fn out_trade_no(attempt_reference: &str) -> String {
    attempt_reference.replace('-', "_")
}

/// `ORD_000123_A1_K7QX2M` (or, made before installation tags, `ORD_000123_A1`) back to the
/// shop's attempt reference; `None` for anything else.
pub fn attempt_reference(out_trade_no: &str) -> Option<String> {
    let rest = out_trade_no.strip_prefix("ORD_")?;
    let (order, attempt) = rest.split_once("_A")?;
    let (attempt, tag) = match attempt.split_once('_') {
        Some((attempt, tag)) => (attempt, Some(tag)),
        None => (attempt, None),
    };
    let digits = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_digit());
    if !(digits(order) && digits(attempt)) {
        return None;
    }
    match tag {
        None => Some(format!("ORD-{order}-A{attempt}")),
        Some(tag) if crate::server::payments::reference::is_tag(tag) => {
            Some(format!("ORD-{order}-A{attempt}-{tag}"))
        }
        Some(_) => None,
    }
}

/// A CNY amount as Alipay writes it: yuan with two decimals (`"88.00"`), from the shop's one
/// money-to-decimal conversion.
pub fn yuan(amount: Money) -> String {
    amount.to_decimal_string()
}

/// Alipay's yuan string (`"88.88"`, `"5"`, `"5.5"`) in fen; `None` if malformed or too precise.
pub fn parse_yuan(text: &str) -> Option<i64> {
    Money::parse_decimal(text, Currency::Cny)
        .ok()
        .map(|m| m.minor)
}

/// Alipay's `timestamp` and `time_expire` format, in Beijing time (UTC+8).
pub fn beijing_time(unix_secs: i64) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp(unix_secs + 8 * 3600)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::payments::alipay::keys;

    /// The same app key as `keys::SANDBOX_APP_PRIVATE_KEY`, PKCS#8-encoded.
    const APP_KEY_PKCS8: &str = "-----BEGIN PRIVATE KEY-----
MIIEvgIBADANBgkqhkiG9w0BAQEFAASCBKgwggSkAgEAAoIBAQC3NaTdGvunJ8k+
rmGET11gX31Krh/RiV4vRNMybK3TrRABTyIA63RHmAPyzF+A7+AGZo8nIxz7jxB5
az8kUCigPwMH4w1h1ncmD4C69dhClUQrpQzwGWTOVrlAyiAJp59DeKX0211m+kWO
Kee7BHJQFCqeQJCAlsjQy4WDc66hYU+967kxkHFceEvqmboXYYY9yX6TW9SQyyxZ
EjoStbfgZCd/xKM5bqMLoEUtWY9SuHIl/wueH8aR5BhF5eRkZAxizTXC4qDDaBHC
WzKD1OjfSeHPU1Mp+qrrDFWS7/S9lhvI1Yt2Ug+/Wl4aUvfjLRqdV7BiRr4cL47Y
YPw5qHQ3AgMBAAECggEAEDKy4R+d6ORiIEoZPuVbcdL14cpT76bP1Nymny2WD5u1
/HLYJH4TLLJ6hH154vPFk7TlBDm2oGEnCW0oSuTrBDWXmYHQFy3eIL3VjL7oTQUj
q7r7uI17AnYPCltOJAkva68F96IFEVhtGbAhZMFBMBmDjE4hPu7V62vxe0x/jJUt
Ku4pOAe1GL4cfQLolwDW3SmCAAVKlrJp1aea5s0DNsiN+TC3sse/4xZBiRqgBZ40
Lc7c8x2oa/eB7DWAlAeOwg9SObx52sTSHaLizhyQKEdThSZ2ZlP5kJDN9APUvNsJ
y8vCOqx8ge6qT/eVJ/S51ay9K//FxWlXYuwIl0w+AQKBgQDaN24jJtaVeVjLiwKn
4UWbGYo3leUVg6jbRbFT2yM96Ynz84geele/5WKmvVsDdn1tRLXLqgHDP/7Q0fUv
/LmS6yExVBK42vE/licxdMRMWhr93l8FvE4noqU04hF6xHT7/QWRN+y+53f6cBlC
Fu1Idqslg1iz26yl/vwQabIyNwKBgQDW7oKHH0uyK0DQFZqq3cIhVZlXuGZisfPW
Jr3PZ+61cP46jrF69vxLxgwSq+ow2odGta+leXOpSTr5RfSICD7xKa31IDsqVS6q
KNYhVDpPptUYpW1TgzoGqKBzwWFcg30gCsOVYpakA4zKV0nV10O2tKE9Iu+tEwEH
nUITIeLOAQKBgF+UAcCRxVFJCjR02Z/wko1BnYGFPQa0WSRZnTbud7wpa0wXsdov
mfmqHhCMRa35myxd+QaQmx8LC7ApFiyDlECejjZN7blb5GkGeno1+7i5irMBUDtx
5AWGPrgwAJn2LIsmouadSSvAtJNTwCxrYFjp6UKQCi0VHcTDL2J8+Rj3AoGBANVG
h6+dlneOBBp31aqHswNw9WDeUnrNKrDucJtG/tB890kUH3ltbJ2kQIamoRUpQ+Me
ltUU13i8ehCxIh16UTrtqPj8qrkvHccsDo+0DMjNO9fhD8M3DHVfDxjOY9Zxg9Av
3jR2SBUokKSYSWQw37iFNRp9eGe929+6ZL6neXABAoGBAIiIsOZhORaq2Bdj59W9
eBL+txVxzOSb5OyuMHyj3vIYRN/LK5Klc+eQ3+Z6LEDmkejbUyMh9yaFW0BUgVo1
+qPZjaRLwMQy4ihPVf8unuxOoe+tGuhMTYcV/JOwD4rqXsyBzjWnKnYOinBHFk8p
SAc0QCFtdBP2zdgtBhRayPSu
-----END PRIVATE KEY-----";

    /// The string Alipay's Node SDK signed for `alipay.trade.query`
    /// (docs/payments.md#signature-test-vectors, item 7).
    const TESTED: &str = "app_id=2021000000000001&biz_content={\"out_trade_no\":\"o1\"}&charset=utf-8&method=alipay.trade.query&sign_type=RSA2&timestamp=2026-11-22 01:29:52&version=1.0";

    #[test]
    fn the_string_to_sign_matches_the_sdks() {
        let params = [
            ("version", "1.0"),
            ("timestamp", "2026-11-22 01:29:52"),
            ("sign_type", "RSA2"),
            ("method", "alipay.trade.query"),
            ("charset", "utf-8"),
            ("biz_content", "{\"out_trade_no\":\"o1\"}"),
            ("app_id", "2021000000000001"),
            ("sign", "ignored"),
        ];
        assert_eq!(content(params, &["sign"]), TESTED);
    }

    #[test]
    fn pkcs8_and_pkcs1_encodings_sign_alike_and_verify() {
        let pkcs1 = PrivateKey::parse(keys::SANDBOX_APP_PRIVATE_KEY).unwrap();
        let pkcs8 = PrivateKey::parse(APP_KEY_PKCS8).unwrap();
        let a = pkcs1.sign(TESTED);
        assert_eq!(
            a,
            pkcs8.sign(TESTED),
            "PKCS#1 v1.5 signatures are deterministic"
        );
        let public = PublicKey::parse(keys::SANDBOX_APP_PUBLIC_KEY).unwrap();
        assert!(public.verify(TESTED, &a));
        // Bare base64 (the console's form) reads the same.
        let bare: String = APP_KEY_PKCS8
            .lines()
            .filter(|l| !l.starts_with("-----"))
            .collect();
        assert_eq!(PrivateKey::parse(&bare).unwrap().sign(TESTED), a);
        // A flipped byte in the signature or the message fails.
        let mut bytes = BASE64.decode(&a).unwrap();
        bytes[17] ^= 0x01;
        assert!(!public.verify(TESTED, &BASE64.encode(&bytes)));
        assert!(!public.verify(&TESTED.replace("o1", "o2"), &a));
        assert!(!public.verify(TESTED, "not base64!"));
        // The other pair's key does not verify it.
        let alipay = PublicKey::parse(keys::SANDBOX_ALIPAY_PUBLIC_KEY).unwrap();
        assert!(!alipay.verify(TESTED, &a));
    }

    #[test]
    fn bad_keys_are_refused_without_echoing_them() {
        for bad in [
            "",
            "-----BEGIN PRIVATE KEY-----\nnot-a-key\n-----END PRIVATE KEY-----",
            "c2VjcmV0",
        ] {
            let e = PrivateKey::parse(bad).unwrap_err();
            assert!(!e.to_string().contains("c2VjcmV0") && !e.to_string().contains("not-a-key"));
        }
        assert!(PublicKey::parse(keys::SANDBOX_APP_PRIVATE_KEY).is_err());
        assert!(format!("{:?}", PrivateKey::parse(APP_KEY_PKCS8).unwrap()).contains("hidden"));
    }

    #[test]
    fn notify_fields_are_verified_without_sign_and_sign_type() {
        let key = PrivateKey::parse(keys::SANDBOX_ALIPAY_PRIVATE_KEY).unwrap();
        let mut fields: BTreeMap<String, String> = [
            ("trade_status", "TRADE_SUCCESS"),
            ("out_trade_no", "ORD_000001_A1"),
            ("total_amount", "88.00"),
            ("subject", "Mug & tote"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let sign = key.sign(&content(
            fields.iter().map(|(k, v)| (k.as_str(), v.as_str())),
            &[],
        ));
        fields.insert("sign".into(), sign);
        fields.insert("sign_type".into(), "RSA2".into());
        let public = key.public_key();
        assert!(verify_fields(&fields, &public));
        let body = serde_urlencoded::to_string(&fields).unwrap();
        assert!(verify_fields(
            &form_fields(body.as_bytes()).unwrap(),
            &public
        ));
        fields.insert("total_amount".into(), "0.01".into());
        assert!(!verify_fields(&fields, &public));
        assert!(
            form_fields(b"a=1&a=2").is_none(),
            "a repeated field is refused"
        );
    }

    #[test]
    fn out_trade_no_maps_both_ways() {
        assert_eq!(out_trade_no("ORD-000123-A1"), "ORD_000123_A1");
        assert_eq!(
            attempt_reference("ORD_000123_A1").as_deref(),
            Some("ORD-000123-A1")
        );
        assert_eq!(
            attempt_reference("ORD_000123_A12").as_deref(),
            Some("ORD-000123-A12")
        );
        assert_eq!(out_trade_no("ORD-000123-A2-K7QX2M"), "ORD_000123_A2_K7QX2M");
        assert_eq!(
            attempt_reference("ORD_000123_A2_K7QX2M").as_deref(),
            Some("ORD-000123-A2-K7QX2M")
        );
        for bad in [
            "ORD-000123-A1",
            "ORD_000123_A1_",
            "ORD_000123_A1_k7qx2m",
            "ORD_000123_A1_K7QX2M_X",
            "ORD_000123",
            "ORD__A1",
            "ORD_12_A",
            "X_1_A1",
            "ORD_1a_A1",
        ] {
            assert_eq!(attempt_reference(bad), None, "{bad}");
        }
    }

    #[test]
    fn cny_amounts_are_yuan_with_two_decimals() {
        assert_eq!(yuan(Money::new(8_800, Currency::Cny)), "88.00");
        assert_eq!(yuan(Money::new(1, Currency::Cny)), "0.01");
        assert_eq!(
            yuan(Money::new(10_000_000_000, Currency::Cny)),
            "100000000.00"
        );
        assert_eq!(parse_yuan("88.88"), Some(8_888));
        assert_eq!(parse_yuan("5"), Some(500));
        assert_eq!(parse_yuan("0.001"), None);
        assert_eq!(parse_yuan("-1.00"), None);
    }

    #[test]
    fn the_response_object_is_taken_as_raw_text() {
        let raw = "{\"alipay_trade_query_response\" : {\"code\":\"10000\",\"msg\":\"Success\",\"subject\":\"a } \\\" {\",\"x\":{\"y\":1}},\"sign\":\"c2ln\"}";
        let (text, sign) = signed_response(raw, "alipay_trade_query_response").unwrap();
        assert_eq!(
            text,
            "{\"code\":\"10000\",\"msg\":\"Success\",\"subject\":\"a } \\\" {\",\"x\":{\"y\":1}}"
        );
        assert_eq!(sign.as_deref(), Some("c2ln"));
        assert!(signed_response(raw, "alipay_trade_refund_response").is_none());
        let (_, unsigned) = signed_response("{\"k_response\":{}}", "k_response").unwrap();
        assert_eq!(unsigned, None);
    }

    #[test]
    fn beijing_time_is_utc_plus_eight() {
        assert_eq!(beijing_time(0), "1970-01-01 08:00:00");
    }
}
