//! Where a built message goes: an SMTP server (`SMTP_URL`), or an `.eml` file under `MAIL_DIR` so
//! a shop without mail set up still shows its receipts to whoever runs it.

use crate::server::config::mail::{MailSettings, SmtpSettings};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use secrecy::ExposeSecret;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// lettre's timeout for each SMTP command (connect, each reply). A whole send is bounded by the
/// worker too (`outbox::SEND_TIMEOUT`), and the claim's lease is far longer than either.
pub const SMTP_COMMAND_TIMEOUT: Duration = Duration::from_secs(10);

/// A configured way out.
#[derive(Clone)]
pub enum Mailer {
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    Files(PathBuf),
}

impl Mailer {
    pub fn from_settings(settings: &MailSettings) -> Result<Mailer, String> {
        match &settings.smtp {
            Some(smtp) => smtp_transport(smtp).map(Mailer::Smtp),
            None => Ok(Mailer::Files(settings.dir.clone())),
        }
    }

    /// Deliver `message`; `name` (the outbox id, kind and order) names its file in the file
    /// transport, so sending the same row again overwrites rather than adds. The error is short and
    /// holds no credentials: it is stored on the row and shown to the merchant.
    pub async fn send(&self, message: &Message, name: &str) -> Result<(), String> {
        match self {
            Mailer::Smtp(transport) => transport
                .send(message.clone())
                .await
                .map(|_| ())
                .map_err(|e| short(&e.to_string())),
            Mailer::Files(dir) => {
                let dir = dir.clone();
                let path = dir.join(format!("{}.eml", file_safe(name)));
                let bytes = message.formatted();
                tokio::task::spawn_blocking(move || write_eml(&dir, &path, &bytes))
                    .await
                    .map_err(|e| short(&format!("file writer stopped: {e}")))?
            }
        }
    }
}

/// lettre reads host, port, TLS mode and credentials from the URL. Its plain `smtp://` never
/// upgrades; ours asks for STARTTLS whenever the server offers it, and insists on it when there
/// are credentials to send (else someone on the path could strip the offer and read the password).
/// An explicit `?tls=` wins.
fn smtp_transport(smtp: &SmtpSettings) -> Result<AsyncSmtpTransport<Tokio1Executor>, String> {
    let url = smtp.url.expose_secret();
    let invalid = |_| "SMTP_URL is not a valid smtp:// or smtps:// URL".to_string();
    let mut builder = AsyncSmtpTransport::<Tokio1Executor>::from_url(url).map_err(invalid)?;
    if url.starts_with("smtp://") && !url.contains("tls=") {
        let host = smtp_host(url).ok_or("SMTP_URL has no host")?;
        let tls = TlsParameters::new(host).map_err(|e| short(&format!("TLS set-up: {e}")))?;
        let authenticated = smtp.credentials.is_some() || has_userinfo(url);
        builder = builder.tls(if authenticated {
            Tls::Required(tls)
        } else {
            Tls::Opportunistic(tls)
        });
    }
    if let Some((user, password)) = &smtp.credentials {
        builder = builder.credentials(Credentials::new(
            user.clone(),
            password.expose_secret().to_string(),
        ));
    }
    Ok(builder.timeout(Some(SMTP_COMMAND_TIMEOUT)).build())
}

/// Whether `scheme://user[:pass]@host…` carries credentials.
fn has_userinfo(url: &str) -> bool {
    url.split_once("://")
        .map(|(_, rest)| rest.split(['/', '?']).next().unwrap_or("").contains('@'))
        .unwrap_or(false)
}

/// The host of `smtp://[user:pass@]host[:port][/…][?…]` (bracketed IPv6 kept whole).
fn smtp_host(url: &str) -> Option<String> {
    let rest = url.split_once("://")?.1;
    let authority = rest.split(['/', '?']).next()?;
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = if host_port.starts_with('[') {
        host_port.split_inclusive(']').next()?
    } else {
        host_port.split(':').next()?
    };
    (!host.is_empty()).then(|| host.trim_matches(['[', ']']).to_string())
}

/// Write through a temporary name and rename, so a reader never sees half a message.
fn write_eml(dir: &Path, path: &Path, bytes: &[u8]) -> Result<(), String> {
    let fail = |what: &str, e: std::io::Error| short(&format!("{what} {}: {e}", dir.display()));
    std::fs::create_dir_all(dir).map_err(|e| fail("cannot create", e))?;
    let partial = path.with_extension("eml.partial");
    std::fs::write(&partial, bytes).map_err(|e| fail("cannot write to", e))?;
    std::fs::rename(&partial, path).map_err(|e| fail("cannot write to", e))
}

fn file_safe(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// At most a line of error text.
pub fn short(text: &str) -> String {
    const MAX: usize = 300;
    let line = text.replace(['\r', '\n'], " ");
    match line.char_indices().nth(MAX) {
        Some((cut, _)) => format!("{}…", &line[..cut]),
        None => line,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_host_without_credentials() {
        assert_eq!(
            smtp_host("smtp://u:p@mail.example.com:587").as_deref(),
            Some("mail.example.com")
        );
        assert_eq!(
            smtp_host("smtp://mail.example.com").as_deref(),
            Some("mail.example.com")
        );
        assert_eq!(smtp_host("smtp://[::1]:25/x").as_deref(), Some("::1"));
        assert_eq!(smtp_host("smtp://").as_deref(), None);
    }

    #[test]
    fn names_files_safely_and_keeps_errors_short() {
        assert_eq!(
            file_safe("12-refund_email-ORD-000001"),
            "12-refund_email-ORD-000001"
        );
        assert_eq!(file_safe("../x y"), "___x_y");
        assert_eq!(short("a\r\nb"), "a  b");
        assert_eq!(short(&"x".repeat(400)).chars().count(), 301);
    }
}
