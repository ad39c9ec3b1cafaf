//! Alipay's settings (docs/operating.md#payments): `ALIPAY_APP_ID`, `ALIPAY_APP_PRIVATE_KEY` (PEM) and
//! `ALIPAY_PUBLIC_KEY` (PEM), all three or none, and `ALIPAY_GATEWAY`, the full `…/gateway.do`
//! URL. Like Stripe's: sandbox mode without keys uses the built-in sandbox and its fixed public
//! test keys; with keys it talks to Alipay's own sandbox gateway, never the production one. Live
//! mode needs the keys, defaults to the production gateway and refuses Alipay's sandbox hosts and
//! the built-in sandbox's published keys. A key that does not read is a start-up error naming
//! its variable; the key itself is never printed.

use super::keys;
use super::sign::{PrivateKey, PublicKey};
use super::{Alipay, GATEWAY_PATH};
use crate::model::ProviderId;
use crate::server::config::error::{bad, ConfigError};
use crate::server::payments::kernel::Endpoint;
use crate::server::payments::kernel::Env;
use crate::server::payments::kernel::{base_url, Configured, PaymentsMode};
use std::sync::Arc;

pub const LIVE_GATEWAY: &str = "https://openapi.alipay.com/gateway.do";
pub const SANDBOX_GATEWAY: &str = "https://openapi-sandbox.dl.alipaydev.com/gateway.do";
/// Alipay's cashier pages, where the gateway sends the shopper on.
const LIVE_CASHIER: &str = "https://excashier.alipay.com";
const SANDBOX_CASHIER: &str = "https://excashier-sandbox.dl.alipaydev.com";
const LIVE_HOST: &str = "openapi.alipay.com";
const SANDBOX_HOSTS: [&str; 2] = ["openapi-sandbox.dl.alipaydev.com", "openapi.alipaydev.com"];

fn host_of(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    rest.split(['/', ':', '?']).next().unwrap_or(rest)
}

pub fn configure(env: Env<'_>, mode: PaymentsMode) -> Result<Option<Configured>, ConfigError> {
    let gateway = base_url("ALIPAY_GATEWAY", env("ALIPAY_GATEWAY"))?;
    if let Some(g) = &gateway {
        let host = host_of(g);
        match mode {
            PaymentsMode::Sandbox if host == LIVE_HOST => {
                return Err(bad(
                    "ALIPAY_GATEWAY",
                    "the production gateway in sandbox mode: set PAYMENTS_MODE=live, or use https://openapi-sandbox.dl.alipaydev.com/gateway.do",
                ))
            }
            PaymentsMode::Live if SANDBOX_HOSTS.contains(&host) => {
                return Err(bad(
                    "ALIPAY_GATEWAY",
                    "Alipay's sandbox gateway in live mode: use https://openapi.alipay.com/gateway.do, or PAYMENTS_MODE=sandbox",
                ))
            }
            _ => {}
        }
    }
    let vars = [
        "ALIPAY_APP_ID",
        "ALIPAY_APP_PRIVATE_KEY",
        "ALIPAY_PUBLIC_KEY",
    ];
    let values: Vec<Option<String>> = vars
        .iter()
        .map(|v| env(v).filter(|s| !s.trim().is_empty()))
        .collect();
    if values.iter().any(Option::is_some) {
        if let Some(i) = values.iter().position(Option::is_none) {
            return Err(bad(
                vars[i],
                "required when any of ALIPAY_APP_ID, ALIPAY_APP_PRIVATE_KEY, ALIPAY_PUBLIC_KEY is set",
            ));
        }
    }
    let (app_id, private_pem, public_pem, endpoint) = match values.as_slice() {
        [Some(id), Some(private), Some(public)] => {
            let gateway = gateway.unwrap_or_else(|| {
                match mode {
                    PaymentsMode::Live => LIVE_GATEWAY,
                    PaymentsMode::Sandbox => SANDBOX_GATEWAY,
                }
                .to_string()
            });
            (
                id.trim().to_string(),
                private.clone(),
                public.clone(),
                Endpoint::Remote(gateway),
            )
        }
        _ if mode == PaymentsMode::Live => return Ok(None),
        _ => (
            keys::SANDBOX_APP_ID.to_string(),
            keys::SANDBOX_APP_PRIVATE_KEY.to_string(),
            keys::SANDBOX_ALIPAY_PUBLIC_KEY.to_string(),
            gateway.map_or(Endpoint::Sandbox, Endpoint::Remote),
        ),
    };
    if !app_id.chars().all(|c| c.is_ascii_digit()) {
        return Err(bad("ALIPAY_APP_ID", "expected the app's numeric APPID"));
    }
    let app_key = PrivateKey::parse(&private_pem).map_err(|e| {
        bad(
            "ALIPAY_APP_PRIVATE_KEY",
            format!("expected an RSA private key in PEM (PKCS#8 or PKCS#1) or bare base64 ({e})"),
        )
    })?;
    let alipay_key = PublicKey::parse(&public_pem).map_err(|e| {
        bad(
            "ALIPAY_PUBLIC_KEY",
            format!("expected Alipay's RSA public key in PEM or bare base64 ({e})"),
        )
    })?;
    // The sandbox's key pairs are published (`/sandbox/alipay/keys`, and in the source): in live
    // mode either one, in any encoding, would let anyone sign requests as the shop or notifies as
    // Alipay.
    if mode == PaymentsMode::Live {
        let published: Vec<PublicKey> = [
            keys::SANDBOX_APP_PUBLIC_KEY,
            keys::SANDBOX_ALIPAY_PUBLIC_KEY,
        ]
        .iter()
        .filter_map(|pem| PublicKey::parse(pem).ok())
        .collect();
        let is_published = |key: &PublicKey| published.iter().any(|p| p.same_key(key));
        if is_published(&app_key.public_key()) {
            return Err(bad(
                "ALIPAY_APP_PRIVATE_KEY",
                "one of the built-in sandbox's published test keys in live mode: use your app's own key",
            ));
        }
        if is_published(&alipay_key) {
            return Err(bad(
                "ALIPAY_PUBLIC_KEY",
                "one of the built-in sandbox's published test keys in live mode: use the Alipay public key your app's console shows",
            ));
        }
    }
    // The browser posts the page.pay form: to the built-in sandbox on the shop's own origin (a
    // path, whatever PUBLIC_URL is), or to the configured gateway.
    let browser_gateway = match &endpoint {
        Endpoint::Sandbox => format!("/sandbox/alipay{GATEWAY_PATH}"),
        Endpoint::Remote(g) => g.clone(),
    };
    let sandboxed = endpoint == Endpoint::Sandbox;
    // The form goes to the gateway, which forwards the shopper to Alipay's cashier.
    let mut browser_urls = vec![browser_gateway.clone()];
    match host_of(&browser_gateway) {
        LIVE_HOST => browser_urls.push(LIVE_CASHIER.to_string()),
        host if SANDBOX_HOSTS.contains(&host) => browser_urls.push(SANDBOX_CASHIER.to_string()),
        _ => {}
    }
    Ok(Some(
        Configured::new(ProviderId::Alipay, endpoint, move |ctx| {
            // For the built-in sandbox the root is `{internal}/sandbox/alipay`; otherwise it is
            // the full gateway URL already.
            let gateway = if sandboxed {
                format!("{}{GATEWAY_PATH}", ctx.api_root)
            } else {
                ctx.api_root.clone()
            };
            Arc::new(Alipay::new(
                ctx.http.clone(),
                gateway,
                browser_gateway.clone(),
                app_id.clone(),
                app_key.clone(),
                alipay_key.clone(),
            ))
        })
        .sending_browser_to(browser_urls),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::config::payments::parse_for_tests as parse;

    /// A key pair of the tests' own (not one of the sandbox's published pairs): stands for a
    /// merchant's app key and for the Alipay key of its console. Test-only, never used to sign
    /// anything real.
    const OWN_APP_PRIVATE_KEY: &str = "-----BEGIN PRIVATE KEY-----
MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQCtY+1UlvGToHRv
bjuVu+yPkWmY73Xr6DAcUaLkoJJOmhmKp66wJjRRthRgDRKoUKp0DKxO4e6jx8R9
/GGF8KLiXuS/tBiJcBgO88K6geLuAjX6Iu/Uq6LtxKJeKDcWw8rsJ2PLGFsqCc9E
6JbwYQZI2Pugl9e9/MM+qF0PT4SgmUUYVWpici6jMsTsQ8DhXpkT+rjgc0/rz5x7
N1Mfy9gMzaI1PqZOf7Ojjf17YmW/Sius53FKPfQcu3Iy6uAZNLbPQopjDjuyc1zJ
kZEFz8AadC4blPbmL4FzwGI/mhTBVVLGu0O54v0lEu6b7kxYcFVNJGQUA00SfhUS
PrZfW+blAgMBAAECggEAGlTJB2YO1LTyybNLUC9kOt9B0oxW85bkq4BIRQEPhulH
BLP3Rt/eZSRKDtYdZbsuT4ZXKnmMFIozUFCh/MWw7sCra2NtsH154ddp1IoCDNQA
H3brxfe0u/f3EmZ4Czh7mgZXVNHjkkxAEj5iIaoSWsC84cP9aug2PE80Jq2UPhEY
hWKOjyAAlfyU7Uz1p6kYyV2ThWcyZYqg5/sS49bdeEm55XrFq2eEaVodWEc3NvK7
J3VxN/YaUoXkmJ7GZ4Gs/ooGxrOrkt+DtUwCzLghKw/yLCxU4OuxSqf7HV78Quv4
GEHWCaI/fdc+7HYzMYo9d6enje40LvR3MyEPbEj8QQKBgQDeEXnK10eilk84L4kR
dX5yXA+ALHFceVKs3bEFI6dmbgUiZMM4h/rSpqTEpL3gFZqJVkQYYTeV0wcKwXoK
ZmAdasuwCr7mW33bbjXrdLrNBIJc2DxftZCXzfnmrwzP+waeSb/cw2lj48rDKBAP
b8pWaV6Wddn6VUatlrnsV44aRQKBgQDH4lfgKnmV/gRi5zMQ8aZx5HkiOPXAPbfk
gCM2l8SRvkmvJph9tLBUDzl7p5HL6zOtIwlyapD9nudlLeKAHRY0HmI3Mjd7V9TP
cP9g+P0H49kD5OTkESkjYofRBH3ym4aI24neqWdsNpNMI+G+uPLGs8wz38jwc1nx
9JYZT2q0IQKBgGAuT4LkRRmNYphiNkrCida8OtZ36U11GrLWfhJMw/dgVYb0/3zf
oGpWVOz6sWZ51OoA3BN3H90bfmRRMiuI9b4oADqqHM6m99bvYBkwAKxFdLUDzvph
KFQnmUIptTHrdo1eQeQ7Gs1x3uMx2erlr0xH7Pjb6GI9RxRuQO61aU3FAoGAPBV5
vNSHv+KfhutgmlNJaSr4jqT4mlTzFii+bQap+/VrSM8dP4w1BM+ew+DXHqkQ25aQ
nGgUNWiyveNRFpmntvr7IwRhUR5Rxhl9arTtupVvApCnjTbrWsufb+EdyvOdOT5k
7x2VDR5KoLSYgzAtKjWZyG4YhM7n1qdjBzCsLoECgYEAnpGVnlybyhCHEFNlgKE+
JFD7ytnBX2WRsBmnde5dDM+USrmC2bDIXOENBPQAtC7SYtyVDS53K/luIefJ9o38
EM65iMoMUmRqGf214oGLtE179jZu7B4y5pzlKxFg8IlAxLAuJIEsQNEfuo7N7fCK
Nzb/eI2DFCz24xa7/U6aA3s=
-----END PRIVATE KEY-----";
    const OWN_ALIPAY_PUBLIC_KEY: &str = "-----BEGIN PUBLIC KEY-----
MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEArWPtVJbxk6B0b247lbvs
j5FpmO916+gwHFGi5KCSTpoZiqeusCY0UbYUYA0SqFCqdAysTuHuo8fEffxhhfCi
4l7kv7QYiXAYDvPCuoHi7gI1+iLv1Kui7cSiXig3FsPK7CdjyxhbKgnPROiW8GEG
SNj7oJfXvfzDPqhdD0+EoJlFGFVqYnIuozLE7EPA4V6ZE/q44HNP68+cezdTH8vY
DM2iNT6mTn+zo439e2Jlv0orrOdxSj30HLtyMurgGTS2z0KKYw47snNcyZGRBc/A
GnQuG5T25i+Bc8BiP5oUwVVSxrtDueL9JRLum+5MWHBVTSRkFANNEn4VEj62X1vm
5QIDAQAB
-----END PUBLIC KEY-----";

    fn with_keys(extra: &[(&'static str, &'static str)]) -> Vec<(&'static str, &'static str)> {
        let mut vars = vec![
            ("ALIPAY_APP_ID", "2021000000000099"),
            ("ALIPAY_APP_PRIVATE_KEY", OWN_APP_PRIVATE_KEY),
            ("ALIPAY_PUBLIC_KEY", OWN_ALIPAY_PUBLIC_KEY),
        ];
        vars.extend_from_slice(extra);
        vars
    }

    #[test]
    fn without_keys_the_built_in_sandbox_and_with_keys_the_gateway_by_mode() {
        let p = parse(&[]).unwrap();
        assert_eq!(
            p.get(ProviderId::Alipay).unwrap().endpoint,
            Endpoint::Sandbox
        );
        let p = parse(&with_keys(&[])).unwrap();
        assert_eq!(
            p.get(ProviderId::Alipay).unwrap().endpoint,
            Endpoint::Remote(SANDBOX_GATEWAY.into())
        );
        let p = parse(&with_keys(&[("PAYMENTS_MODE", "live")])).unwrap();
        assert_eq!(
            p.get(ProviderId::Alipay).unwrap().endpoint,
            Endpoint::Remote(LIVE_GATEWAY.into())
        );
        let p = parse(&[
            ("PAYMENTS_MODE", "live"),
            ("STRIPE_SECRET_KEY", "sk_live_x"),
            ("STRIPE_WEBHOOK_SECRET", "whsec_x"),
        ])
        .unwrap();
        assert!(
            p.get(ProviderId::Alipay).is_none(),
            "live mode without keys: not offered"
        );
    }

    #[test]
    fn the_browser_goes_to_the_gateway_and_its_cashier() {
        let p = parse(&with_keys(&[])).unwrap();
        assert_eq!(
            p.get(ProviderId::Alipay).unwrap().browser_origins,
            [
                "https://openapi-sandbox.dl.alipaydev.com",
                "https://excashier-sandbox.dl.alipaydev.com"
            ]
        );
        let p = parse(&[]).unwrap();
        assert!(p
            .get(ProviderId::Alipay)
            .unwrap()
            .browser_origins
            .is_empty());
    }

    #[test]
    fn gateways_and_keys_must_fit_the_mode() {
        let e = parse(&[("ALIPAY_GATEWAY", LIVE_GATEWAY)]).unwrap_err();
        assert_eq!(e.var, "ALIPAY_GATEWAY");
        let e = parse(&with_keys(&[
            ("PAYMENTS_MODE", "live"),
            ("ALIPAY_GATEWAY", SANDBOX_GATEWAY),
        ]))
        .unwrap_err();
        assert_eq!(e.var, "ALIPAY_GATEWAY");
        let e = parse(&[
            ("PAYMENTS_MODE", "live"),
            ("ALIPAY_APP_ID", "2021000000000099"),
            ("ALIPAY_APP_PRIVATE_KEY", keys::SANDBOX_APP_PRIVATE_KEY),
            ("ALIPAY_PUBLIC_KEY", keys::SANDBOX_ALIPAY_PUBLIC_KEY),
        ])
        .unwrap_err();
        assert_eq!(e.var, "ALIPAY_APP_PRIVATE_KEY");
        // Alipay's published sandbox key as "Alipay's public key", in PEM or bare base64: anyone
        // holding its private half (it is in the source) could sign notifies.
        let bare: String = keys::SANDBOX_ALIPAY_PUBLIC_KEY
            .lines()
            .filter(|l| !l.starts_with("-----"))
            .collect();
        for published in [
            keys::SANDBOX_ALIPAY_PUBLIC_KEY,
            keys::SANDBOX_APP_PUBLIC_KEY,
            bare.as_str(),
        ] {
            let e = parse(&[
                ("PAYMENTS_MODE", "live"),
                ("ALIPAY_APP_ID", "2021000000000099"),
                ("ALIPAY_APP_PRIVATE_KEY", OWN_APP_PRIVATE_KEY),
                ("ALIPAY_PUBLIC_KEY", published),
            ])
            .unwrap_err();
            assert_eq!(e.var, "ALIPAY_PUBLIC_KEY");
        }
        // The sandbox's other private key as the app key.
        let e = parse(&[
            ("PAYMENTS_MODE", "live"),
            ("ALIPAY_APP_ID", "2021000000000099"),
            ("ALIPAY_APP_PRIVATE_KEY", keys::SANDBOX_ALIPAY_PRIVATE_KEY),
            ("ALIPAY_PUBLIC_KEY", OWN_ALIPAY_PUBLIC_KEY),
        ])
        .unwrap_err();
        assert_eq!(e.var, "ALIPAY_APP_PRIVATE_KEY");
        let e = parse(&[("ALIPAY_APP_ID", "2021000000000099")]).unwrap_err();
        assert_eq!(e.var, "ALIPAY_APP_PRIVATE_KEY");
        assert_eq!(
            parse(&[("ALIPAY_GATEWAY", "gateway.do")]).unwrap_err().var,
            "ALIPAY_GATEWAY"
        );
    }

    #[test]
    fn a_bad_pem_names_its_variable_and_never_prints_the_key() {
        let secret = "-----BEGIN PRIVATE KEY-----\nTOPSECRETbutbroken\n-----END PRIVATE KEY-----";
        let e = parse(&[
            ("ALIPAY_APP_ID", "2021000000000099"),
            ("ALIPAY_APP_PRIVATE_KEY", secret),
            ("ALIPAY_PUBLIC_KEY", keys::SANDBOX_ALIPAY_PUBLIC_KEY),
        ])
        .unwrap_err();
        assert_eq!(e.var, "ALIPAY_APP_PRIVATE_KEY");
        assert!(!e.to_string().contains("TOPSECRET"), "{e}");
        let e = parse(&[
            ("ALIPAY_APP_ID", "2021000000000099"),
            ("ALIPAY_APP_PRIVATE_KEY", keys::SANDBOX_ALIPAY_PRIVATE_KEY),
            ("ALIPAY_PUBLIC_KEY", "MIIBroken"),
        ])
        .unwrap_err();
        assert_eq!(e.var, "ALIPAY_PUBLIC_KEY");
        // PKCS#1 private keys and bare base64 are accepted too.
        let bare: String = keys::SANDBOX_APP_PUBLIC_KEY
            .lines()
            .filter(|l| !l.starts_with("-----"))
            .collect();
        let vars = [
            ("ALIPAY_APP_ID", "2021000000000099"),
            ("ALIPAY_APP_PRIVATE_KEY", keys::SANDBOX_APP_PRIVATE_KEY),
            ("ALIPAY_PUBLIC_KEY", bare.as_str()),
        ];
        assert!(parse(&vars).is_ok());
    }
}
