//! Typed settings, read once from the environment at start-up.
//!
//! Nothing else reads environment variables. A missing or malformed value stops start-up with one
//! line naming the variable and what was expected; secret values never appear in that line or in
//! `Debug` output.

pub mod catalogue;
pub mod error;
pub mod mail;
pub mod operations;
pub mod payments;

use crate::model::Email;
pub use crate::server::payments::kernel::{Endpoint, PaymentsMode};
pub use catalogue::{CatalogueSettings, DemoCatalogue};
pub(crate) use error::bad;
pub use error::ConfigError;
pub use mail::MailSettings;
pub use operations::{LogFormat, OperationsSettings, TrustedProxies};
pub use payments::PaymentSettings;
use secrecy::{ExposeSecret, SecretString};
use std::net::SocketAddr;

/// Start-up settings for one instance of the shop.
#[derive(Debug, Clone)]
pub struct Settings {
    /// `sqlite://…` or `postgres://…`; decides the backend at run time.
    pub database_url: String,
    /// Address the HTTP server listens on (`LEPTOS_SITE_ADDR`).
    pub site_addr: SocketAddr,
    /// The shop's public origin, used to build absolute links (return and webhook URLs).
    pub public_url: String,
    /// Signs the session cookie when set.
    pub session_secret: Option<SecretString>,
    /// Bootstrap merchant account, created or updated at start-up.
    pub admin: Option<AdminAccount>,
    /// `PAYMENTS_MODE` and the providers' credentials.
    pub payments: PaymentSettings,
    /// `SMTP_URL`, `MAIL_FROM`, `MAIL_DIR` and who gets the merchant's alerts.
    pub mail: MailSettings,
    /// `METRICS_TOKEN`, `TRUSTED_PROXIES`, `LOG_FORMAT`.
    pub operations: OperationsSettings,
    /// `DEMO_CATALOGUE` and `MEDIA_DIR`.
    pub catalogue: CatalogueSettings,
}

/// `ADMIN_EMAIL` + `ADMIN_PASSWORD`.
#[derive(Debug, Clone)]
pub struct AdminAccount {
    pub email: Email,
    pub password: SecretString,
}

pub const DEFAULT_DATABASE_URL: &str = "sqlite://data/storefront.db";
pub const DEFAULT_SITE_ADDR: &str = "127.0.0.1:3000";
/// A signing key for cookies must carry at least this many bytes.
pub const SESSION_SECRET_MIN_LEN: usize = 64;

impl Settings {
    /// Read the process environment (after `.env`, which `main` loads).
    pub fn from_env() -> Result<Settings, ConfigError> {
        Settings::from_lookup(|name| std::env::var(name).ok())
    }

    /// Build settings from any variable lookup; tests pass a map.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Settings, ConfigError> {
        let var = |name: &str| {
            get(name)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };

        let database_url = var("DATABASE_URL").unwrap_or_else(|| DEFAULT_DATABASE_URL.to_string());
        if !(database_url.starts_with("sqlite:")
            || database_url.starts_with("postgres://")
            || database_url.starts_with("postgresql://"))
        {
            return Err(bad(
                "DATABASE_URL",
                "expected a sqlite:// or postgres:// URL, e.g. sqlite://data/storefront.db",
            ));
        }

        let addr_text = var("LEPTOS_SITE_ADDR").unwrap_or_else(|| DEFAULT_SITE_ADDR.to_string());
        let site_addr: SocketAddr = addr_text.parse().map_err(|_| {
            bad(
                "LEPTOS_SITE_ADDR",
                format!("expected host:port such as 127.0.0.1:3000, got {addr_text:?}"),
            )
        })?;

        let public_url = match var("PUBLIC_URL") {
            Some(url) => parse_public_url(&url)?,
            None => format!("http://{site_addr}"),
        };

        let session_secret = match var("SESSION_SECRET") {
            Some(s) if s.len() < SESSION_SECRET_MIN_LEN => {
                return Err(bad(
                    "SESSION_SECRET",
                    format!("expected at least {SESSION_SECRET_MIN_LEN} characters (it signs the session cookie)"),
                ))
            }
            Some(s) => Some(SecretString::from(s)),
            None => None,
        };

        let admin = match (
            var("ADMIN_EMAIL"),
            get("ADMIN_PASSWORD").filter(|p| !p.is_empty()),
        ) {
            (None, None) => None,
            (Some(_), None) => {
                return Err(bad("ADMIN_PASSWORD", "required when ADMIN_EMAIL is set"))
            }
            (None, Some(_)) => {
                return Err(bad("ADMIN_EMAIL", "required when ADMIN_PASSWORD is set"))
            }
            (Some(email), Some(password)) => {
                let email = Email::parse(&email).map_err(|_| {
                    bad(
                        "ADMIN_EMAIL",
                        "expected an email address like owner@example.com",
                    )
                })?;
                crate::model::Password::parse(password.clone())
                    .map_err(|e| bad("ADMIN_PASSWORD", e.to_string()))?;
                Some(AdminAccount {
                    email,
                    password: SecretString::from(password),
                })
            }
        };

        let payments = PaymentSettings::from_lookup(&var)?;
        let mail = MailSettings::from_lookup(&var, admin.as_ref().map(|a| &a.email))?;

        let operations = OperationsSettings::from_lookup(&var)?;
        let catalogue = CatalogueSettings::from_lookup(&var)?;

        Ok(Settings {
            payments,
            mail,
            operations,
            catalogue,
            database_url,
            site_addr,
            public_url,
            session_secret,
            admin,
        })
    }

    /// True when the shop is served over HTTPS, so cookies get the `Secure` flag.
    pub fn is_https(&self) -> bool {
        self.public_url.starts_with("https://")
    }

    /// The session secret's bytes, for the cookie signing key.
    pub fn session_key_bytes(&self) -> Option<Vec<u8>> {
        self.session_secret
            .as_ref()
            .map(|s| s.expose_secret().as_bytes().to_vec())
    }
}

fn parse_public_url(url: &str) -> Result<String, ConfigError> {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .ok_or_else(|| {
            bad(
                "PUBLIC_URL",
                "expected an http:// or https:// origin such as https://shop.example.com",
            )
        })?;
    if rest.is_empty() || rest.contains(char::is_whitespace) {
        return Err(bad(
            "PUBLIC_URL",
            "expected an http:// or https:// origin such as https://shop.example.com",
        ));
    }
    Ok(url.trim_end_matches('/').to_string())
}

/// Load `.env` from the working directory into the environment, if the file exists.
pub fn load_dotenv() -> Result<(), dotenvy::Error> {
    match dotenvy::dotenv() {
        Ok(_) => Ok(()),
        Err(e) if e.not_found() => Ok(()),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn settings(pairs: &[(&str, &str)]) -> Result<Settings, ConfigError> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Settings::from_lookup(|k| map.get(k).cloned())
    }

    #[test]
    fn live_mode_refuses_the_sandboxes_published_keys() {
        use super::payments::sandbox_keys as k;
        let live = |pairs: &[(&'static str, &'static str)]| {
            let mut all = vec![
                ("PAYMENTS_MODE", "live"),
                ("PUBLIC_URL", "https://shop.example.com"),
            ];
            all.extend_from_slice(pairs);
            settings(&all).map(|_| ()).map_err(|e| e.var)
        };
        assert_eq!(
            live(&[
                ("SQUARE_ACCESS_TOKEN", "EAAAlive-token-1"),
                ("SQUARE_LOCATION_ID", "L8Y4Z3LIVE"),
                (
                    "SQUARE_WEBHOOK_SIGNATURE_KEY",
                    k::SQUARE_WEBHOOK_SIGNATURE_KEY
                ),
            ]),
            Err("SQUARE_WEBHOOK_SIGNATURE_KEY")
        );
        assert_eq!(
            live(&[
                ("BRAINTREE_MERCHANT_ID", "livemerchant"),
                ("BRAINTREE_PUBLIC_KEY", "livepublic"),
                ("BRAINTREE_PRIVATE_KEY", k::BRAINTREE_PRIVATE_KEY),
            ]),
            Err("BRAINTREE_PRIVATE_KEY")
        );
        assert_eq!(
            live(&[
                ("AUTHORIZENET_API_LOGIN_ID", "liveLogin1"),
                ("AUTHORIZENET_TRANSACTION_KEY", "liveTxnKey000001"),
                ("AUTHORIZENET_SIGNATURE_KEY", k::AUTHORIZENET_SIGNATURE_KEY),
            ]),
            Err("AUTHORIZENET_SIGNATURE_KEY")
        );
        // The same shapes with keys of one's own start.
        assert_eq!(
            live(&[
                ("SQUARE_ACCESS_TOKEN", "EAAAlive-token-1"),
                ("SQUARE_LOCATION_ID", "L8Y4Z3LIVE"),
                ("SQUARE_WEBHOOK_SIGNATURE_KEY", "live-signature-key"),
            ]),
            Ok(())
        );
    }

    #[test]
    fn defaults_to_sqlite_on_localhost() {
        let s = settings(&[]).unwrap();
        assert_eq!(s.database_url, DEFAULT_DATABASE_URL);
        assert_eq!(s.site_addr.to_string(), "127.0.0.1:3000");
        assert_eq!(s.public_url, "http://127.0.0.1:3000");
        assert!(s.admin.is_none());
    }

    #[test]
    fn names_the_bad_variable() {
        let e = settings(&[("DATABASE_URL", "mysql://x")]).unwrap_err();
        assert_eq!(e.var, "DATABASE_URL");
        let e = settings(&[("LEPTOS_SITE_ADDR", "nope")]).unwrap_err();
        assert_eq!(e.var, "LEPTOS_SITE_ADDR");
        let e = settings(&[("PUBLIC_URL", "shop.example.com")]).unwrap_err();
        assert_eq!(e.var, "PUBLIC_URL");
        let e = settings(&[("ADMIN_EMAIL", "a@b.co")]).unwrap_err();
        assert_eq!(e.var, "ADMIN_PASSWORD");
        let e =
            settings(&[("ADMIN_EMAIL", "nope"), ("ADMIN_PASSWORD", "long enough")]).unwrap_err();
        assert_eq!(e.var, "ADMIN_EMAIL");
        let e = settings(&[("SESSION_SECRET", "short")]).unwrap_err();
        assert_eq!(e.var, "SESSION_SECRET");
    }

    #[test]
    fn never_prints_secrets() {
        let s = settings(&[
            ("ADMIN_EMAIL", "Owner@Example.com"),
            ("ADMIN_PASSWORD", "hunter2hunter2"),
            ("SESSION_SECRET", &"k".repeat(64)),
        ])
        .unwrap();
        let dbg = format!("{s:?}");
        assert!(!dbg.contains("hunter2"), "{dbg}");
        assert!(!dbg.contains("kkkk"), "{dbg}");
        assert_eq!(s.admin.unwrap().email.as_str(), "owner@example.com");
        let e = settings(&[("ADMIN_EMAIL", "a@b.co"), ("ADMIN_PASSWORD", "pw")]).unwrap_err();
        assert!(!e.to_string().contains("pw\""), "{e}");
    }
}
