//! Square's settings: `SQUARE_ACCESS_TOKEN` + `SQUARE_LOCATION_ID` +
//! `SQUARE_WEBHOOK_SIGNATURE_KEY` (all or none), `SQUARE_WEBHOOK_URL` (the notification URL exactly
//! as entered at Square; default `{PUBLIC_URL}/webhooks/square`), `SQUARE_CURRENCY` (the location's
//! currency: USD, EUR or JPY; default USD) and `SQUARE_API_BASE`.
//!
//! Square's access tokens do not say whether they are for the sandbox (sandbox and production
//! tokens both look like `EAAA…`), so the mode and the host decide, as for
//! PayPal: with credentials, sandbox mode talks to `connect.squareupsandbox.com` and never to
//! Square's live host; live mode talks to `connect.squareup.com` and never to the sandbox host.

use super::Square;
use crate::model::{Currency, ProviderId};
use crate::server::config::error::{bad, ConfigError};
use crate::server::payments::kernel::Endpoint;
use crate::server::payments::kernel::Env;
use crate::server::payments::kernel::{
    base_url, hosted_pages, sandbox_keys, Configured, PaymentsMode,
};
use secrecy::SecretString;
use std::sync::Arc;

pub const SANDBOX_BASE: &str = "https://connect.squareupsandbox.com";
pub const LIVE_BASE: &str = "https://connect.squareup.com";

fn host_of(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    rest.split(['/', ':']).next().unwrap_or(rest)
}

fn plain(value: &str) -> bool {
    !value.trim().is_empty() && !value.chars().any(|c| c.is_whitespace() || c.is_control())
}

pub fn configure(env: Env<'_>, mode: PaymentsMode) -> Result<Option<Configured>, ConfigError> {
    let base = base_url("SQUARE_API_BASE", env("SQUARE_API_BASE"))?;
    let host = base.as_deref().map(host_of).unwrap_or("");
    match mode {
        PaymentsMode::Sandbox if host == "connect.squareup.com" => {
            return Err(bad(
                "SQUARE_API_BASE",
                "Square's live host in sandbox mode: set PAYMENTS_MODE=live, or use https://connect.squareupsandbox.com",
            ))
        }
        PaymentsMode::Live if host == "connect.squareupsandbox.com" => {
            return Err(bad(
                "SQUARE_API_BASE",
                "Square's sandbox host in live mode: use https://connect.squareup.com, or PAYMENTS_MODE=sandbox",
            ))
        }
        _ => {}
    }
    let currency = match env("SQUARE_CURRENCY").as_deref().map(str::trim) {
        None | Some("USD") => Currency::Usd,
        Some("EUR") => Currency::Eur,
        Some("JPY") => Currency::Jpy,
        Some(_) => {
            return Err(bad(
                "SQUARE_CURRENCY",
                "expected the Square location's currency: USD, EUR or JPY",
            ))
        }
    };
    let webhook_url = match env("SQUARE_WEBHOOK_URL") {
        None => None,
        Some(url)
            if (url.starts_with("https://")
                || (mode == PaymentsMode::Sandbox && url.starts_with("http://")))
                && plain(&url) =>
        {
            Some(url)
        }
        Some(_) => {
            return Err(bad(
                "SQUARE_WEBHOOK_URL",
                "expected the notification URL exactly as entered at Square, such as https://shop.example.com/webhooks/square",
            ))
        }
    };
    let token = env("SQUARE_ACCESS_TOKEN");
    let location = env("SQUARE_LOCATION_ID");
    let key = env("SQUARE_WEBHOOK_SIGNATURE_KEY");
    let (token, location, key, endpoint) = match (token, location, key) {
        (None, None, None) if mode == PaymentsMode::Live => return Ok(None),
        (None, None, None) => {
            if webhook_url.is_some() {
                return Err(bad(
                    "SQUARE_WEBHOOK_URL",
                    "only with SQUARE_ACCESS_TOKEN: the built-in sandbox signs its notifications for {PUBLIC_URL}/webhooks/square",
                ));
            }
            (
                sandbox_keys::SQUARE_ACCESS_TOKEN.to_string(),
                sandbox_keys::SQUARE_LOCATION_ID.to_string(),
                sandbox_keys::SQUARE_WEBHOOK_SIGNATURE_KEY.to_string(),
                base.map_or(Endpoint::Sandbox, Endpoint::Remote),
            )
        }
        (Some(token), Some(location), Some(key)) => {
            if !plain(&token) {
                return Err(bad(
                    "SQUARE_ACCESS_TOKEN",
                    "expected an access token such as EAAA…",
                ));
            }
            if !plain(&location) {
                return Err(bad(
                    "SQUARE_LOCATION_ID",
                    "expected a location id such as L8Y4Z3…",
                ));
            }
            if !plain(&key) {
                return Err(bad(
                    "SQUARE_WEBHOOK_SIGNATURE_KEY",
                    "expected the webhook subscription's signature key",
                ));
            }
            let root = base.unwrap_or_else(|| {
                match mode {
                    PaymentsMode::Live => LIVE_BASE,
                    PaymentsMode::Sandbox => SANDBOX_BASE,
                }
                .to_string()
            });
            (token, location, key, Endpoint::Remote(root))
        }
        (token, location, key) => {
            let missing = [
                ("SQUARE_ACCESS_TOKEN", token.is_none()),
                ("SQUARE_LOCATION_ID", location.is_none()),
                ("SQUARE_WEBHOOK_SIGNATURE_KEY", key.is_none()),
            ]
            .into_iter()
            .find(|(_, missing)| *missing)
            .map(|(var, _)| var)
            .unwrap_or("SQUARE_ACCESS_TOKEN");
            return Err(bad(
                missing,
                "required: SQUARE_ACCESS_TOKEN, SQUARE_LOCATION_ID and SQUARE_WEBHOOK_SIGNATURE_KEY come together",
            ));
        }
    };
    let token = SecretString::from(token);
    let key = SecretString::from(key);
    // Square payment links (`square.link/u/…`) and the checkout page they redirect to; Chrome
    // checks each hop of a redirect that follows a form post.
    let pages = hosted_pages(
        &endpoint,
        &[
            (
                "connect.squareup.com",
                &["https://square.link", "https://checkout.square.site"],
            ),
            (
                "connect.squareupsandbox.com",
                &[
                    "https://sandbox.square.link",
                    "https://sandbox.checkout.square.site",
                ],
            ),
        ],
    );
    Ok(Some(
        Configured::new(ProviderId::Square, endpoint, move |ctx| {
            let notification_url = webhook_url
                .clone()
                .unwrap_or_else(|| format!("{}/webhooks/square", ctx.public_url));
            Arc::new(Square::new(
                ctx.http.clone(),
                ctx.api_root.clone(),
                token.clone(),
                location.clone(),
                key.clone(),
                notification_url,
                currency,
            ))
        })
        .sending_browser_to(pages),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::config::payments::parse_for_tests as parse;

    const KEYS: [(&str, &str); 3] = [
        ("SQUARE_ACCESS_TOKEN", "EAAAsecret-token"),
        ("SQUARE_LOCATION_ID", "LOC1"),
        ("SQUARE_WEBHOOK_SIGNATURE_KEY", "sig-key-secret"),
    ];

    fn with(extra: &[(&'static str, &'static str)]) -> Vec<(&'static str, &'static str)> {
        KEYS.iter().copied().chain(extra.iter().copied()).collect()
    }

    fn endpoint(pairs: &[(&str, &str)]) -> Endpoint {
        parse(pairs)
            .unwrap()
            .get(ProviderId::Square)
            .unwrap()
            .endpoint
            .clone()
    }

    #[test]
    fn square_sandbox_by_default_and_credentials_pick_the_host_by_mode() {
        assert_eq!(endpoint(&[]), Endpoint::Sandbox);
        assert_eq!(endpoint(&with(&[])), Endpoint::Remote(SANDBOX_BASE.into()));
        assert_eq!(
            endpoint(&with(&[("PAYMENTS_MODE", "live")])),
            Endpoint::Remote(LIVE_BASE.into())
        );
        assert_eq!(
            endpoint(&[("SQUARE_API_BASE", "http://127.0.0.1:9/")]),
            Endpoint::Remote("http://127.0.0.1:9".into())
        );
        let live_without = parse(&[
            ("PAYMENTS_MODE", "live"),
            ("STRIPE_SECRET_KEY", "sk_live_x"),
            ("STRIPE_WEBHOOK_SECRET", "whsec_x"),
        ])
        .unwrap();
        assert!(live_without.get(ProviderId::Square).is_none());
    }

    #[test]
    fn square_host_must_match_the_mode_and_nothing_secret_is_shown() {
        let e = parse(&with(&[(
            "SQUARE_API_BASE",
            "https://connect.squareup.com",
        )]))
        .unwrap_err();
        assert_eq!(e.var, "SQUARE_API_BASE");
        assert!(!e.to_string().contains("EAAAsecret"));
        let e = parse(&with(&[
            ("PAYMENTS_MODE", "live"),
            ("SQUARE_API_BASE", "https://connect.squareupsandbox.com"),
        ]))
        .unwrap_err();
        assert_eq!(e.var, "SQUARE_API_BASE");
    }

    #[test]
    fn square_credentials_come_together_and_urls_are_checked() {
        let e = parse(&[("SQUARE_ACCESS_TOKEN", "x"), ("SQUARE_LOCATION_ID", "L")]).unwrap_err();
        assert_eq!(e.var, "SQUARE_WEBHOOK_SIGNATURE_KEY");
        assert!(!e.to_string().contains("x\""));
        let e = parse(&[("SQUARE_WEBHOOK_SIGNATURE_KEY", "k")]).unwrap_err();
        assert_eq!(e.var, "SQUARE_ACCESS_TOKEN");
        let e = parse(&with(&[("SQUARE_WEBHOOK_URL", "shop.example/webhooks")])).unwrap_err();
        assert_eq!(e.var, "SQUARE_WEBHOOK_URL");
        let e = parse(&with(&[
            ("PAYMENTS_MODE", "live"),
            ("SQUARE_WEBHOOK_URL", "http://shop.example/webhooks/square"),
        ]))
        .unwrap_err();
        assert_eq!(e.var, "SQUARE_WEBHOOK_URL", "Square only posts to https");
        assert!(parse(&with(&[(
            "SQUARE_WEBHOOK_URL",
            "https://proxy.example/hooks/square"
        )]))
        .is_ok());
        let e = parse(&[("SQUARE_WEBHOOK_URL", "https://proxy.example/hooks/square")]).unwrap_err();
        assert_eq!(
            e.var, "SQUARE_WEBHOOK_URL",
            "the built-in sandbox signs for PUBLIC_URL"
        );
        assert_eq!(
            parse(&[("SQUARE_CURRENCY", "BDT")]).unwrap_err().var,
            "SQUARE_CURRENCY"
        );
    }
}
