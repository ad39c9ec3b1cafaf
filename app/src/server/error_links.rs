//! Signed error links: the no-JavaScript error contract, made tamper-proof.
//!
//! With JavaScript off, a refused form post is redirected back to its page with the error in the
//! query string (`?__path=/api/…&__err=…`, the server-function form contract) and the page shows
//! it as an alert. Left alone, anyone could craft such a link with their own text ("Your account is
//! locked, call …") and the shop would show it as its own. So every such redirect from `/api/…`
//! gets `__sig`, an HMAC-SHA256 over the function path and the encoded error, and a page request
//! whose error does not carry a valid signature is redirected to the same page without it.
//!
//! The key is derived from `SESSION_SECRET` when set (so instances sharing it accept each other's
//! links), else drawn at random for this process.

use crate::server::config::Settings;
use argon2::password_hash::rand_core::{OsRng, RngCore};
use hmac::{Hmac, Mac};
use secrecy::ExposeSecret;
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// The query parameters of the contract.
pub const PATH_PARAM: &str = "__path";
pub const ERROR_PARAM: &str = "__err";
pub const SIGNATURE_PARAM: &str = "__sig";

/// Signs and checks error links with this process's key.
#[derive(Clone)]
pub struct ErrorLinks {
    key: [u8; 32],
}

impl std::fmt::Debug for ErrorLinks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ErrorLinks { key: <secret> }")
    }
}

impl ErrorLinks {
    pub fn from_settings(settings: &Settings) -> Self {
        let mut key = [0u8; 32];
        match &settings.session_secret {
            Some(secret) => {
                let mut mac = mac_with(secret.expose_secret().as_bytes());
                mac.update(b"storefront signed error links v1");
                key.copy_from_slice(&mac.finalize().into_bytes());
            }
            None => OsRng.fill_bytes(&mut key),
        }
        ErrorLinks { key }
    }

    fn mac(&self, path: &str, error: &str) -> HmacSha256 {
        let mut mac = mac_with(&self.key);
        mac.update(path.as_bytes());
        mac.update(b"\n");
        mac.update(error.as_bytes());
        mac
    }

    /// The signature for an error of the server function at `path`, as lowercase hex.
    pub fn sign(&self, path: &str, error: &str) -> String {
        hex::encode(self.mac(path, error).finalize().into_bytes())
    }

    /// True if `signature` was made by [`ErrorLinks::sign`] for this path and error (constant time).
    pub fn verify(&self, path: &str, error: &str, signature: &str) -> bool {
        let Ok(bytes) = hex::decode(signature) else {
            return false;
        };
        self.mac(path, error).verify_slice(&bytes).is_ok()
    }
}

fn mac_with(key: &[u8]) -> HmacSha256 {
    <HmacSha256 as Mac>::new_from_slice(key).expect("HMAC takes keys of any length")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_bind_the_path_and_the_error() {
        let links = ErrorLinks { key: [7; 32] };
        let sig = links.sign("/api/update_cart_line", "eyJJbnZhbGlkIjoiYSJ9");
        assert!(links.verify("/api/update_cart_line", "eyJJbnZhbGlkIjoiYSJ9", &sig));
        assert!(!links.verify("/api/update_cart_line", "eyJJbnZhbGlkIjoiYiJ9", &sig));
        assert!(!links.verify("/api/login", "eyJJbnZhbGlkIjoiYSJ9", &sig));
        assert!(!links.verify("/api/update_cart_line", "eyJJbnZhbGlkIjoiYSJ9", "zz"));
        let other = ErrorLinks { key: [8; 32] };
        assert!(!other.verify("/api/update_cart_line", "eyJJbnZhbGlkIjoiYSJ9", &sig));
    }
}
