//! SSLCOMMERZ's settings: `SSLCOMMERZ_STORE_ID` + `SSLCOMMERZ_STORE_PASSWORD` (both or neither) and
//! `SSLCOMMERZ_API_BASE`. Store credentials do not say whether they are live, so the host does: in
//! sandbox mode calls go to SSLCOMMERZ's sandbox, never to its production host, and in live mode
//! never to the sandbox host.

use super::Sslcommerz;
use crate::model::ProviderId;
use crate::server::config::error::{bad, ConfigError};
use crate::server::payments::kernel::Endpoint;
use crate::server::payments::kernel::Env;
use crate::server::payments::kernel::{
    base_url, hosted_pages, pair, sandbox_keys, Configured, PaymentsMode,
};
use secrecy::SecretString;
use std::sync::Arc;

pub const SANDBOX_BASE: &str = "https://sandbox.sslcommerz.com";
pub const LIVE_BASE: &str = "https://securepay.sslcommerz.com";
const LIVE_HOST: &str = "securepay.sslcommerz.com";
const SANDBOX_HOST: &str = "sandbox.sslcommerz.com";

fn host_of(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    rest.split(['/', ':']).next().unwrap_or(rest)
}

pub fn configure(env: Env<'_>, mode: PaymentsMode) -> Result<Option<Configured>, ConfigError> {
    let base = base_url("SSLCOMMERZ_API_BASE", env("SSLCOMMERZ_API_BASE"))?;
    match (mode, base.as_deref().map(host_of)) {
        (PaymentsMode::Sandbox, Some(LIVE_HOST)) => {
            return Err(bad(
                "SSLCOMMERZ_API_BASE",
                "the production host in sandbox mode: set PAYMENTS_MODE=live, or use https://sandbox.sslcommerz.com",
            ))
        }
        (PaymentsMode::Live, Some(SANDBOX_HOST)) => {
            return Err(bad(
                "SSLCOMMERZ_API_BASE",
                "the sandbox host in live mode: use https://securepay.sslcommerz.com, or PAYMENTS_MODE=sandbox",
            ))
        }
        _ => {}
    }
    let credentials = pair(env, "SSLCOMMERZ_STORE_ID", "SSLCOMMERZ_STORE_PASSWORD")?;
    let (store_id, password, endpoint) = match credentials {
        None if mode == PaymentsMode::Live => return Ok(None),
        None => (
            sandbox_keys::SSLCOMMERZ_STORE_ID.to_string(),
            sandbox_keys::SSLCOMMERZ_STORE_PASSWORD.to_string(),
            base.map_or(Endpoint::Sandbox, Endpoint::Remote),
        ),
        Some((id, password)) => {
            let root = base.unwrap_or_else(|| {
                match mode {
                    PaymentsMode::Live => LIVE_BASE,
                    PaymentsMode::Sandbox => SANDBOX_BASE,
                }
                .to_string()
            });
            (id, password, Endpoint::Remote(root))
        }
    };
    let password = SecretString::from(password);
    // SSLCOMMERZ's `GatewayPageURL` is on its API host.
    let pages = hosted_pages(&endpoint, &[]);
    Ok(Some(
        Configured::new(ProviderId::Sslcommerz, endpoint, move |ctx| {
            Arc::new(Sslcommerz::new(
                ctx.http.clone(),
                ctx.api_root.clone(),
                store_id.clone(),
                password.clone(),
            ))
        })
        .sending_browser_to(pages),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::server::config::payments::parse_for_tests as parse;

    #[test]
    fn credentials_pick_the_host_by_mode() {
        let creds = [
            ("SSLCOMMERZ_STORE_ID", "shop"),
            ("SSLCOMMERZ_STORE_PASSWORD", "pw"),
        ];
        let sandbox = parse(&creds).unwrap();
        assert_eq!(
            sandbox.get(ProviderId::Sslcommerz).unwrap().endpoint,
            Endpoint::Remote(SANDBOX_BASE.into())
        );
        let mut live_vars = creds.to_vec();
        live_vars.push(("PAYMENTS_MODE", "live"));
        let live = parse(&live_vars).unwrap();
        assert_eq!(
            live.get(ProviderId::Sslcommerz).unwrap().endpoint,
            Endpoint::Remote(LIVE_BASE.into())
        );
        assert!(live.get(ProviderId::Stripe).is_none());
        let e = parse(&[("SSLCOMMERZ_STORE_ID", "shop")]).unwrap_err();
        assert_eq!(e.var, "SSLCOMMERZ_STORE_PASSWORD");
    }

    #[test]
    fn the_production_host_refuses_sandbox_mode_and_the_other_way_round() {
        let e = parse(&[("SSLCOMMERZ_API_BASE", "https://securepay.sslcommerz.com/")]).unwrap_err();
        assert_eq!(e.var, "SSLCOMMERZ_API_BASE");
        let e = parse(&[
            ("PAYMENTS_MODE", "live"),
            ("SSLCOMMERZ_STORE_ID", "shop"),
            ("SSLCOMMERZ_STORE_PASSWORD", "pw"),
            ("SSLCOMMERZ_API_BASE", "https://sandbox.sslcommerz.com"),
        ])
        .unwrap_err();
        assert_eq!(e.var, "SSLCOMMERZ_API_BASE");
        assert_eq!(host_of("http://127.0.0.1:9/x"), "127.0.0.1");
    }
}
