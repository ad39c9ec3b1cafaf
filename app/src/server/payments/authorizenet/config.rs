//! Authorize.Net's settings: `AUTHORIZENET_API_LOGIN_ID` + `AUTHORIZENET_TRANSACTION_KEY` +
//! `AUTHORIZENET_SIGNATURE_KEY` (all or none), `AUTHORIZENET_API_BASE` and
//! `AUTHORIZENET_FORM_URL`. Authorize.Net's credentials do not say whether they are live, so the
//! mode and the hosts do (as for PayPal): with credentials, sandbox mode talks to
//! `apitest.authorize.net` and posts the shopper to `test.authorize.net`, live mode to
//! `api.authorize.net` and `accept.authorize.net`, and neither mode accepts the other's hosts.

use super::{AuthorizeNet, API_PATH, FORM_PATH};
use crate::model::ProviderId;
use crate::server::config::error::{bad, ConfigError};
use crate::server::payments::kernel::Endpoint;
use crate::server::payments::kernel::Env;
use crate::server::payments::kernel::{base_url, pair, sandbox_keys, Configured, PaymentsMode};
use secrecy::SecretString;
use std::sync::Arc;

pub const SANDBOX_BASE: &str = "https://apitest.authorize.net";
pub const LIVE_BASE: &str = "https://api.authorize.net";
pub const SANDBOX_FORM: &str = "https://test.authorize.net/payment/payment";
pub const LIVE_FORM: &str = "https://accept.authorize.net/payment/payment";
const LIVE_HOSTS: &[&str] = &[
    "api.authorize.net",
    "api2.authorize.net",
    "accept.authorize.net",
];
const SANDBOX_HOSTS: &[&str] = &["apitest.authorize.net", "test.authorize.net"];

fn host_of(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    rest.split(['/', ':', '?']).next().unwrap_or(rest)
}

/// Refuse a host of the other mode.
fn check_host(var: &'static str, url: Option<&str>, mode: PaymentsMode) -> Result<(), ConfigError> {
    let host = url.map(host_of).unwrap_or("");
    match mode {
        PaymentsMode::Sandbox if LIVE_HOSTS.contains(&host) => Err(bad(
            var,
            "an Authorize.Net production host in sandbox mode: set PAYMENTS_MODE=live, or use the sandbox (apitest.authorize.net / test.authorize.net)",
        )),
        PaymentsMode::Live if SANDBOX_HOSTS.contains(&host) => Err(bad(
            var,
            "an Authorize.Net sandbox host in live mode: use api.authorize.net / accept.authorize.net, or PAYMENTS_MODE=sandbox",
        )),
        _ => Ok(()),
    }
}

pub fn configure(env: Env<'_>, mode: PaymentsMode) -> Result<Option<Configured>, ConfigError> {
    let base = base_url("AUTHORIZENET_API_BASE", env("AUTHORIZENET_API_BASE"))?;
    check_host("AUTHORIZENET_API_BASE", base.as_deref(), mode)?;
    let form_url = match env("AUTHORIZENET_FORM_URL") {
        None => None,
        Some(v) if v.starts_with("http://") || v.starts_with("https://") => Some(v),
        Some(_) => {
            return Err(bad(
                "AUTHORIZENET_FORM_URL",
                "expected the hosted form's full http(s) URL, such as https://test.authorize.net/payment/payment",
            ))
        }
    };
    check_host("AUTHORIZENET_FORM_URL", form_url.as_deref(), mode)?;
    let credentials = pair(
        env,
        "AUTHORIZENET_API_LOGIN_ID",
        "AUTHORIZENET_TRANSACTION_KEY",
    )?;
    let signature_key = env("AUTHORIZENET_SIGNATURE_KEY");
    let (login, transaction_key, signature_key, endpoint) = match (credentials, signature_key) {
        (None, Some(_)) => {
            return Err(bad(
                "AUTHORIZENET_API_LOGIN_ID",
                "required (with AUTHORIZENET_TRANSACTION_KEY) when AUTHORIZENET_SIGNATURE_KEY is set",
            ))
        }
        (Some(_), None) => {
            return Err(bad(
                "AUTHORIZENET_SIGNATURE_KEY",
                "required when AUTHORIZENET_API_LOGIN_ID is set: the Signature Key from the Merchant Interface (webhooks are signed with it)",
            ))
        }
        (None, None) if mode == PaymentsMode::Live => return Ok(None),
        (None, None) => (
            sandbox_keys::AUTHORIZENET_API_LOGIN_ID.to_string(),
            sandbox_keys::AUTHORIZENET_TRANSACTION_KEY.to_string(),
            sandbox_keys::AUTHORIZENET_SIGNATURE_KEY.to_string(),
            base.clone().map_or(Endpoint::Sandbox, Endpoint::Remote),
        ),
        (Some((login, key)), Some(signature_key)) => {
            if login.trim().is_empty() || login.len() > 25 || login.chars().any(char::is_whitespace)
            {
                return Err(bad(
                    "AUTHORIZENET_API_LOGIN_ID",
                    "expected the API Login ID (up to 25 characters, no spaces)",
                ));
            }
            if key.trim().is_empty() || key.len() > 16 || key.chars().any(char::is_whitespace) {
                return Err(bad(
                    "AUTHORIZENET_TRANSACTION_KEY",
                    "expected the 16-character Transaction Key",
                ));
            }
            if signature_key.is_empty() || !signature_key.chars().all(|c| c.is_ascii_hexdigit())
            {
                return Err(bad(
                    "AUTHORIZENET_SIGNATURE_KEY",
                    "expected the Signature Key as shown in the Merchant Interface (128 hexadecimal characters)",
                ));
            }
            let root = base.clone().unwrap_or_else(|| {
                match mode {
                    PaymentsMode::Live => LIVE_BASE,
                    PaymentsMode::Sandbox => SANDBOX_BASE,
                }
                .to_string()
            });
            (login, key, signature_key, Endpoint::Remote(root))
        }
    };
    // Where the browser posts the token: the configured form, else the overridden API base
    // (a self-hosted sandbox serves both), else Authorize.Net's form host for the mode, or the
    // built-in sandbox's form on the shop's own origin.
    let form = match (form_url, &base, &endpoint) {
        (Some(url), _, _) => url,
        (None, Some(base), _) => format!("{base}{FORM_PATH}"),
        (None, None, Endpoint::Sandbox) => format!("/sandbox/authorizenet{FORM_PATH}"),
        (None, None, Endpoint::Remote(_)) => match mode {
            PaymentsMode::Live => LIVE_FORM.to_string(),
            PaymentsMode::Sandbox => SANDBOX_FORM.to_string(),
        },
    };
    let transaction_key = SecretString::from(transaction_key);
    let signature_key = SecretString::from(signature_key);
    // The browser posts the token to the hosted form (a path for the built-in sandbox).
    let browser_url = form.clone();
    Ok(Some(
        Configured::new(ProviderId::AuthorizeNet, endpoint, move |ctx| {
            Arc::new(AuthorizeNet::new(
                ctx.http.clone(),
                format!("{}{API_PATH}", ctx.api_root),
                form.clone(),
                login.clone(),
                transaction_key.clone(),
                signature_key.clone(),
            ))
        })
        .sending_browser_to([browser_url]),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::config::payments::parse_for_tests as parse;

    fn with_keys(extra: &[(&'static str, &'static str)]) -> Vec<(&'static str, &'static str)> {
        let mut vars = vec![
            ("AUTHORIZENET_API_LOGIN_ID", "5KP3u95bQpv"),
            ("AUTHORIZENET_TRANSACTION_KEY", "346HZ32z3fP4hTG2"),
            ("AUTHORIZENET_SIGNATURE_KEY", "ABCDEF0123"),
        ];
        vars.extend_from_slice(extra);
        vars
    }

    #[test]
    fn authorizenet_without_keys_uses_the_sandbox_and_with_keys_the_api_by_mode() {
        let p = parse(&[]).unwrap();
        assert_eq!(
            p.get(ProviderId::AuthorizeNet).unwrap().endpoint,
            Endpoint::Sandbox
        );
        let p = parse(&with_keys(&[])).unwrap();
        assert_eq!(
            p.get(ProviderId::AuthorizeNet).unwrap().endpoint,
            Endpoint::Remote(SANDBOX_BASE.into())
        );
        let p = parse(&with_keys(&[("PAYMENTS_MODE", "live")])).unwrap();
        assert_eq!(
            p.get(ProviderId::AuthorizeNet).unwrap().endpoint,
            Endpoint::Remote(LIVE_BASE.into())
        );
        let p = parse(&[
            ("PAYMENTS_MODE", "live"),
            ("STRIPE_SECRET_KEY", "sk_live_x"),
            ("STRIPE_WEBHOOK_SECRET", "whsec_x"),
        ])
        .unwrap();
        assert!(
            p.get(ProviderId::AuthorizeNet).is_none(),
            "live without keys: not offered"
        );
    }

    #[test]
    fn authorizenet_hosts_must_match_the_mode_and_keys_come_together() {
        let e = parse(&with_keys(&[(
            "AUTHORIZENET_API_BASE",
            "https://api.authorize.net",
        )]))
        .unwrap_err();
        assert_eq!(e.var, "AUTHORIZENET_API_BASE");
        let e = parse(&with_keys(&[
            ("PAYMENTS_MODE", "live"),
            (
                "AUTHORIZENET_FORM_URL",
                "https://test.authorize.net/payment/payment",
            ),
        ]))
        .unwrap_err();
        assert_eq!(e.var, "AUTHORIZENET_FORM_URL");
        let e = parse(&[("AUTHORIZENET_API_LOGIN_ID", "x")]).unwrap_err();
        assert_eq!(e.var, "AUTHORIZENET_TRANSACTION_KEY");
        let e = parse(&[
            ("AUTHORIZENET_API_LOGIN_ID", "x"),
            ("AUTHORIZENET_TRANSACTION_KEY", "y"),
        ])
        .unwrap_err();
        assert_eq!(e.var, "AUTHORIZENET_SIGNATURE_KEY");
        let e = parse(&with_keys(&[("AUTHORIZENET_SIGNATURE_KEY", "not hex")])).unwrap_err();
        assert_eq!(e.var, "AUTHORIZENET_SIGNATURE_KEY");
        assert!(
            !e.to_string().contains("not hex"),
            "no secret in the message"
        );
    }
}
