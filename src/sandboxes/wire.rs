//! Small pieces of the providers' wire that several sandboxes speak: random ids, credentials in
//! the `Authorization` header, form fields and return URLs.

use axum::http::HeaderMap;
use base64::Engine as _;
use std::collections::HashMap;

/// `len` random lower-case hex digits (at most 32).
pub fn random_hex(len: usize) -> String {
    let mut id = uuid::Uuid::new_v4().simple().to_string();
    id.truncate(len);
    id
}

/// `len` random upper-case letters and digits (hex; at most 32).
pub fn random_upper(len: usize) -> String {
    random_hex(len).to_ascii_uppercase()
}

/// The token of an `Authorization: Bearer …` header.
pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    authorization(headers)?.strip_prefix("Bearer ")
}

/// The user and password of an `Authorization: Basic …` header.
pub fn basic(headers: &HeaderMap) -> Option<(String, String)> {
    let encoded = authorization(headers)?.strip_prefix("Basic ")?;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let decoded = String::from_utf8(decoded).ok()?;
    let (user, password) = decoded.split_once(':')?;
    Some((user.to_string(), password.to_string()))
}

/// The `Authorization` header, if it is text.
pub fn authorization(headers: &HeaderMap) -> Option<&str> {
    headers.get("authorization")?.to_str().ok()
}

/// A field of a posted form, `""` when it is missing.
pub fn field<'a>(form: &'a HashMap<String, String>, name: &str) -> &'a str {
    form.get(name).map(String::as_str).unwrap_or("")
}

/// A URL with query parameters added (after its own query, if it has one).
pub fn with_query(url: &str, params: impl serde::Serialize) -> String {
    let query = serde_urlencoded::to_string(params).unwrap_or_default();
    let separator = if url.contains('?') { '&' } else { '?' };
    format!("{url}{separator}{query}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn return_urls_keep_their_query() {
        assert_eq!(
            with_query("http://s/r/ORD-1", [("token", "A"), ("PayerID", "B")]),
            "http://s/r/ORD-1?token=A&PayerID=B"
        );
        assert_eq!(
            with_query("http://s/r?x=1", [("token", "A")]),
            "http://s/r?x=1&token=A"
        );
    }
}
