//! SSLCOMMERZ's `verify_sign` on IPN and return posts: MD5 over the fields named in `verify_key`
//! plus `store_passwd = md5(store password)`, sorted by name and joined as `k=v&…` without URL
//! encoding. It only shows the post was not altered; the validation API must still confirm it.

use md5::{Digest, Md5};
use std::collections::BTreeMap;
use subtle::ConstantTimeEq;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifySignError {
    #[error("post has no verify_key or verify_sign, or verify_key names none of its fields")]
    Malformed,
    #[error("verify_sign does not match the fields")]
    Mismatch,
}

fn md5_hex(data: &[u8]) -> String {
    hex::encode(Md5::digest(data))
}

/// The `k=v&…` string that is hashed, for the fields named in `verify_key`.
fn signed_string(
    fields: &BTreeMap<String, String>,
    verify_key: &str,
    store_passwd: &str,
) -> Result<String, VerifySignError> {
    signed_string_with_hash(fields, verify_key, &md5_hex(store_passwd.as_bytes()))
}

fn signed_string_with_hash(
    fields: &BTreeMap<String, String>,
    verify_key: &str,
    passwd_hash: &str,
) -> Result<String, VerifySignError> {
    let mut signed = BTreeMap::new();
    // A name whose field was not posted is skipped, as SSLCOMMERZ's own libraries do (SSLCOMMERZ
    // lists fields it leaves out when empty, such as `value_b`). The signature then covers the
    // fields that came; the validation API stays the real check.
    for key in verify_key
        .split(',')
        .map(str::trim)
        .filter(|k| !k.is_empty())
    {
        if let Some(value) = fields.get(key) {
            signed.insert(key, value.as_str());
        }
    }
    if signed.is_empty() {
        return Err(VerifySignError::Malformed);
    }
    signed.insert("store_passwd", passwd_hash);
    Ok(signed
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&"))
}

/// Check a decoded post (field name → value) against its `verify_sign`.
pub fn verify(
    fields: &BTreeMap<String, String>,
    store_passwd: &str,
) -> Result<(), VerifySignError> {
    let verify_key = fields.get("verify_key").ok_or(VerifySignError::Malformed)?;
    let claimed = fields
        .get("verify_sign")
        .ok_or(VerifySignError::Malformed)?;
    let expected = md5_hex(signed_string(fields, verify_key, store_passwd)?.as_bytes());
    if bool::from(
        expected
            .as_bytes()
            .ct_eq(claimed.to_ascii_lowercase().as_bytes()),
    ) {
        Ok(())
    } else {
        Err(VerifySignError::Mismatch)
    }
}

/// The `verify_sign` SSLCOMMERZ would send for these fields (for the sandbox and tests).
pub fn sign(
    fields: &BTreeMap<String, String>,
    verify_key: &str,
    store_passwd: &str,
) -> Result<String, VerifySignError> {
    Ok(md5_hex(
        signed_string(fields, verify_key, store_passwd)?.as_bytes(),
    ))
}

/// The same, for a signer that keeps only `md5(store password)` (the sandbox).
pub fn sign_with_password_md5(
    fields: &BTreeMap<String, String>,
    verify_key: &str,
    passwd_md5: &str,
) -> Result<String, VerifySignError> {
    Ok(md5_hex(
        signed_string_with_hash(fields, verify_key, passwd_md5)?.as_bytes(),
    ))
}

/// `md5(store password)` as lowercase hex.
pub fn password_md5(store_passwd: &str) -> String {
    md5_hex(store_passwd.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    // docs/payments.md#signature-test-vectors, vector 5.
    const VERIFY_KEY: &str =
        "amount,bank_tran_id,card_type,currency,status,store_amount,tran_id,val_id";

    fn post() -> BTreeMap<String, String> {
        [
            ("status", "VALID"),
            ("tran_id", "T1"),
            ("val_id", "V1"),
            ("amount", "100.00"),
            ("store_amount", "97.50"),
            ("currency", "BDT"),
            ("bank_tran_id", "B1"),
            ("card_type", "VISA-Dutch Bangla"),
            ("verify_key", VERIFY_KEY),
            ("verify_sign", "7bb0a73aae0944a248e040e21c58a08d"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
    }

    #[test]
    fn builds_the_documented_string() {
        assert_eq!(
            signed_string(&post(), VERIFY_KEY, "testbox").unwrap(),
            "amount=100.00&bank_tran_id=B1&card_type=VISA-Dutch Bangla&currency=BDT&status=VALID\
             &store_amount=97.50&store_passwd=657e3a67772f5d0a73c73df116be5411&tran_id=T1&val_id=V1"
        );
        assert_eq!(
            sign(&post(), VERIFY_KEY, "testbox").unwrap(),
            "7bb0a73aae0944a248e040e21c58a08d"
        );
    }

    #[test]
    fn accepts_the_vector() {
        assert_eq!(verify(&post(), "testbox"), Ok(()));
        let mut upper = post();
        upper.insert(
            "verify_sign".into(),
            "7BB0A73AAE0944A248E040E21C58A08D".into(),
        );
        assert_eq!(verify(&upper, "testbox"), Ok(()));
    }

    #[test]
    fn refuses_altered_fields_and_the_wrong_password() {
        let mut altered = post();
        altered.insert("amount".into(), "1.00".into());
        assert_eq!(verify(&altered, "testbox"), Err(VerifySignError::Mismatch));
        assert_eq!(verify(&post(), "qwerty"), Err(VerifySignError::Mismatch));
    }

    #[test]
    fn a_named_field_that_was_not_posted_is_skipped() {
        // SSLCOMMERZ names `value_b` in verify_key but does not post it when it is empty.
        let mut fields = post();
        fields.remove("verify_sign");
        let verify_key = format!("{VERIFY_KEY},value_b");
        let sign = sign(&fields, &verify_key, "testbox").unwrap();
        assert_eq!(
            sign, "7bb0a73aae0944a248e040e21c58a08d",
            "the same string is hashed"
        );
        fields.insert("verify_key".into(), verify_key);
        fields.insert("verify_sign".into(), sign);
        assert_eq!(verify(&fields, "testbox"), Ok(()));
        // Skipping is no way around the signature: a posted field it covers cannot change.
        fields.insert("amount".into(), "1.00".into());
        assert_eq!(verify(&fields, "testbox"), Err(VerifySignError::Mismatch));
    }

    #[test]
    fn refuses_posts_missing_what_is_signed() {
        // A signed field left out changes the hashed string: the signature no longer matches.
        let mut missing = post();
        missing.remove("val_id");
        assert_eq!(verify(&missing, "testbox"), Err(VerifySignError::Mismatch));
        let mut none_posted = post();
        none_posted.insert("verify_key".into(), "value_c,value_d".into());
        assert_eq!(
            verify(&none_posted, "testbox"),
            Err(VerifySignError::Malformed)
        );
        let mut unsigned = post();
        unsigned.remove("verify_sign");
        assert_eq!(
            verify(&unsigned, "testbox"),
            Err(VerifySignError::Malformed)
        );
        let mut empty_key = post();
        empty_key.insert("verify_key".into(), String::new());
        assert_eq!(
            verify(&empty_key, "testbox"),
            Err(VerifySignError::Malformed)
        );
    }
}
