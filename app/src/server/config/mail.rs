//! Mail settings: where the outbox worker sends emails (`SMTP_URL`, or `.eml` files under
//! `MAIL_DIR` when no SMTP server is configured), who they come from (`MAIL_FROM`) and who gets the
//! merchant's alerts (`MERCHANT_EMAIL`, else `ADMIN_EMAIL`).
//!
//! The SMTP URL may carry a password, so it is kept as a secret and never printed; a bad one is
//! reported by variable name only.

use super::{bad, ConfigError};
use crate::model::Email;
use lettre::message::Mailbox;
use secrecy::{ExposeSecret, SecretString};
use std::path::PathBuf;

pub const DEFAULT_MAIL_FROM: &str = "Storefront <shop@localhost>";
pub const DEFAULT_MAIL_DIR: &str = "data/mail/";

/// How the shop sends email.
#[derive(Debug, Clone)]
pub struct MailSettings {
    /// The SMTP server; `None` writes each message as an `.eml` file under `dir`.
    pub smtp: Option<SmtpSettings>,
    /// The `From:` of every message.
    pub from: Mailbox,
    /// Where messages go without SMTP (created when the first one is written).
    pub dir: PathBuf,
    /// Who gets the merchant's alerts (an order needs review); `None` when neither
    /// `MERCHANT_EMAIL` nor `ADMIN_EMAIL` is set.
    pub merchant: Option<Email>,
}

/// `SMTP_URL` and, optionally, credentials given apart from it.
#[derive(Debug, Clone)]
pub struct SmtpSettings {
    /// `smtp://[user:password@]host[:port]` (STARTTLS when the server offers it, or always with
    /// `?tls=required`) or `smtps://…` (TLS from the first byte).
    pub url: SecretString,
    /// `SMTP_USERNAME` + `SMTP_PASSWORD`: they win over credentials in the URL.
    pub credentials: Option<(String, SecretString)>,
}

impl SmtpSettings {
    /// The URL's scheme and host (no credentials), for log lines.
    pub fn describe(&self) -> String {
        let url = self.url.expose_secret();
        let (scheme, rest) = url.split_once("://").unwrap_or(("smtp", url));
        let host = rest.rsplit_once('@').map_or(rest, |(_, host)| host);
        let host = host.split(['/', '?']).next().unwrap_or(host);
        format!("{scheme}://{host}")
    }
}

impl MailSettings {
    /// Read the mail variables; `admin_email` is the fallback for the merchant's alerts.
    pub fn from_lookup(
        var: &dyn Fn(&str) -> Option<String>,
        admin_email: Option<&Email>,
    ) -> Result<MailSettings, ConfigError> {
        let credentials = match (var("SMTP_USERNAME"), var("SMTP_PASSWORD")) {
            (None, None) => None,
            (Some(user), Some(password)) => Some((user, SecretString::from(password))),
            (Some(_), None) => {
                return Err(bad("SMTP_PASSWORD", "required when SMTP_USERNAME is set"))
            }
            (None, Some(_)) => {
                return Err(bad("SMTP_USERNAME", "required when SMTP_PASSWORD is set"))
            }
        };
        let smtp = match var("SMTP_URL") {
            Some(url) => {
                check_smtp_url(&url)?;
                Some(SmtpSettings {
                    url: SecretString::from(url),
                    credentials,
                })
            }
            None if credentials.is_some() => {
                return Err(bad(
                    "SMTP_URL",
                    "required when SMTP_USERNAME and SMTP_PASSWORD are set",
                ))
            }
            None => None,
        };
        let from_text = var("MAIL_FROM").unwrap_or_else(|| DEFAULT_MAIL_FROM.to_string());
        let from: Mailbox = from_text.parse().map_err(|_| {
            bad(
                "MAIL_FROM",
                format!("expected an address like \"Shop <shop@example.com>\", got {from_text:?}"),
            )
        })?;
        let dir = PathBuf::from(var("MAIL_DIR").unwrap_or_else(|| DEFAULT_MAIL_DIR.to_string()));
        let merchant = match var("MERCHANT_EMAIL") {
            Some(text) => Some(Email::parse(&text).map_err(|_| {
                bad(
                    "MERCHANT_EMAIL",
                    "expected an email address like owner@example.com",
                )
            })?),
            None => admin_email.cloned(),
        };
        Ok(MailSettings {
            smtp,
            from,
            dir,
            merchant,
        })
    }
}

/// The scheme, a host, and what lettre makes of it (the TLS mode, a port); the URL itself is never
/// echoed since it may hold a password.
fn check_smtp_url(url: &str) -> Result<(), ConfigError> {
    const EXPECTED: &str = "expected smtp://[user:password@]host[:port] or smtps://…";
    if !(url.starts_with("smtp://") || url.starts_with("smtps://")) {
        return Err(bad("SMTP_URL", EXPECTED));
    }
    lettre::AsyncSmtpTransport::<lettre::Tokio1Executor>::from_url(url)
        .map(|_| ())
        .map_err(|_| bad("SMTP_URL", EXPECTED))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn mail(pairs: &[(&str, &str)]) -> Result<MailSettings, ConfigError> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let admin = Email::parse("owner@example.com").ok();
        MailSettings::from_lookup(&|k| map.get(k).cloned(), admin.as_ref())
    }

    #[test]
    fn defaults_write_files_from_the_shop() {
        let m = mail(&[]).unwrap();
        assert!(m.smtp.is_none());
        assert_eq!(m.dir, PathBuf::from("data/mail/"));
        assert_eq!(m.from.email.to_string(), "shop@localhost");
        assert_eq!(m.merchant.unwrap().as_str(), "owner@example.com");
    }

    #[test]
    fn names_the_bad_variable_without_echoing_secrets() {
        let e = mail(&[("SMTP_URL", "http://user:s3cret@mail.example.com")]).unwrap_err();
        assert_eq!(e.var, "SMTP_URL");
        assert!(!e.to_string().contains("s3cret"), "{e}");
        let e = mail(&[("SMTP_URL", "smtp://")]).unwrap_err();
        assert_eq!(e.var, "SMTP_URL");
        let e = mail(&[("MAIL_FROM", "not an address")]).unwrap_err();
        assert_eq!(e.var, "MAIL_FROM");
        let e = mail(&[("MERCHANT_EMAIL", "nope")]).unwrap_err();
        assert_eq!(e.var, "MERCHANT_EMAIL");
        let e = mail(&[("SMTP_URL", "smtp://h"), ("SMTP_USERNAME", "u")]).unwrap_err();
        assert_eq!(e.var, "SMTP_PASSWORD");
        let e = mail(&[("SMTP_USERNAME", "u"), ("SMTP_PASSWORD", "p")]).unwrap_err();
        assert_eq!(e.var, "SMTP_URL");
    }

    #[test]
    fn keeps_the_password_out_of_debug_and_descriptions() {
        let m = mail(&[
            ("SMTP_URL", "smtps://user:s3cret@mail.example.com:465"),
            ("MAIL_FROM", "Shop <orders@example.com>"),
            ("MERCHANT_EMAIL", "Alerts@Example.com"),
        ])
        .unwrap();
        let smtp = m.smtp.as_ref().unwrap();
        assert_eq!(smtp.describe(), "smtps://mail.example.com:465");
        assert!(!format!("{m:?}").contains("s3cret"));
        assert_eq!(m.merchant.unwrap().as_str(), "alerts@example.com");
        let m = mail(&[
            ("SMTP_URL", "smtp://mail.example.com:587"),
            ("SMTP_USERNAME", "user"),
            ("SMTP_PASSWORD", "hunter2hunter2"),
        ])
        .unwrap();
        assert!(!format!("{m:?}").contains("hunter2"));
    }
}
