//! The shop's Content Security Policy: what a page may load, run, frame and post to.
//!
//! Why it matters here: the pages that send a shopper to a payment provider (the checkout, the
//! `go` page, Braintree's card page) are in PCI DSS scope. An injected script on them could skim
//! card data or swap the provider's form target. The policy makes the browser refuse any script
//! the shop did not put there itself:
//!
//! - **Scripts**: the shop's own files (`'self'`), inline scripts carrying this response's
//!   **nonce** (Leptos' hydration script and its resource data, see `security_headers` in the
//!   server crate), and inline scripts whose **hash** a page declares (the fixed auto-submit
//!   scripts of the hand-written pages). Never `'unsafe-inline'`. `'wasm-unsafe-eval'` lets the
//!   browser compile the app's WebAssembly, which is no `eval` of text.
//! - **Forms** (`form-action`): the shop's own origin plus exactly the origins the configured
//!   providers send the browser to ([`Configured::browser_origins`]); with every provider on the
//!   built-in sandbox that is the shop alone. Chrome checks `form-action` on every redirect that
//!   follows a form post too, which is why a provider's hosted-page origin belongs here even when
//!   the browser reaches it through a redirect from the shop's checkout.
//! - Everything else is the shop's own origin, no plugins (`object-src 'none'`), no `<base>`,
//!   and no framing by anyone (`frame-ancestors 'none'`, against clickjacking of **Pay**).
//!
//! A page that needs more (Braintree's Drop-in in live mode) says so with [`PageSources`] in its
//! response extensions; the middleware merges them into that response's policy only.
//!
//! [`Configured::browser_origins`]: crate::server::config::payments::Configured::browser_origins

use base64::Engine as _;
use sha2::{Digest, Sha256};
use std::borrow::Cow;
use std::sync::Arc;

/// This response's CSP nonce: fresh random bytes per request, in the request's extensions.
///
/// 128 bits from the operating system's generator (Leptos' own [`leptos::nonce::Nonce`]), in URL
/// safe base64, which the CSP grammar accepts as a nonce.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CspNonce(Arc<str>);

impl CspNonce {
    pub fn generate() -> CspNonce {
        CspNonce(leptos::nonce::Nonce::new().as_inner().clone())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The same value as Leptos' context type, so `HydrationScripts` and the resource scripts
    /// carry it.
    pub fn to_leptos(&self) -> leptos::nonce::Nonce {
        leptos::nonce::Nonce::from_value(self.0.clone())
    }
}

/// A CSP source expression for an inline `<script>` or `<style>` whose text is fixed:
/// `'sha256-…'` of exactly the bytes between the tags.
pub fn hash_source(inline_text: &str) -> String {
    let digest = Sha256::digest(inline_text.as_bytes());
    format!(
        "'sha256-{}'",
        base64::engine::general_purpose::STANDARD.encode(digest)
    )
}

/// The `scheme://host[:port]` of an absolute http(s) URL; `None` for a path or anything else.
pub fn origin_of(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    if !(scheme.eq_ignore_ascii_case("http") || scheme.eq_ignore_ascii_case("https")) {
        return None;
    }
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    // No user-info (`https://shop@evil`): a CSP source cannot carry one, and it would mislead.
    if authority.is_empty() || authority.contains('@') || authority.contains(char::is_whitespace) {
        return None;
    }
    Some(format!(
        "{}://{}",
        scheme.to_ascii_lowercase(),
        authority.to_ascii_lowercase()
    ))
}

/// How much of its URL a page lets the browser send on as `Referer`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Referrer {
    /// `strict-origin-when-cross-origin`: other sites see only the shop's origin.
    Default,
    /// `same-origin`: other sites see nothing at all. For pages whose URL carries a guest key
    /// and for pages that hand the shopper to a provider. (Not `no-referrer`: with it browsers
    /// send `Origin: null` on the page's own form posts, which the CSRF guard rightly refuses.)
    SameOrigin,
}

impl Referrer {
    pub fn header_value(self) -> &'static str {
        match self {
            Referrer::Default => "strict-origin-when-cross-origin",
            Referrer::SameOrigin => "same-origin",
        }
    }
}

/// What one page needs beyond the shop-wide policy. Put it in the response's extensions
/// (`(PageSources { … }, Html(…))`); the security-headers middleware reads it.
#[derive(Clone, Debug, Default)]
pub struct PageSources {
    /// Extra `script-src` sources: origins, or [`hash_source`]s of the page's fixed inline scripts.
    pub script: Vec<Cow<'static, str>>,
    /// Extra `style-src` sources (origins, hashes, or `'unsafe-inline'` where a third-party
    /// widget sets inline styles and nothing else can work).
    pub style: Vec<Cow<'static, str>>,
    pub img: Vec<Cow<'static, str>>,
    pub frame: Vec<Cow<'static, str>>,
    pub connect: Vec<Cow<'static, str>>,
    pub referrer: Option<Referrer>,
}

impl PageSources {
    /// A hand-written page: fixed inline scripts and styles allowed by hash, and `data:` images
    /// (its `<link rel="icon" href="data:,">`, which keeps browsers from asking for a favicon).
    pub fn hand_written(scripts: &[&str], styles: &[&str]) -> PageSources {
        PageSources {
            script: scripts.iter().map(|s| hash_source(s).into()).collect(),
            style: styles.iter().map(|s| hash_source(s).into()).collect(),
            img: vec!["data:".into()],
            ..PageSources::default()
        }
    }

    /// The same page, telling other sites nothing of its URL.
    pub fn same_origin_referrer(mut self) -> PageSources {
        self.referrer = Some(Referrer::SameOrigin);
        self
    }
}

/// The shop-wide parts of the policy, fixed at start-up from the settings.
#[derive(Clone, Debug)]
pub struct ShopPolicy {
    /// `form-action`: `'self'`, the shop's public origin and the providers' browser origins.
    pub form_action: Vec<String>,
    /// Extra `connect-src` origins (the development auto-reload websocket).
    pub connect: Vec<String>,
}

impl ShopPolicy {
    /// `'self'`, `PUBLIC_URL`'s origin (the sandboxes and providers send the browser back there,
    /// which may differ from the address a developer browses), and each provider's origins.
    pub fn new<'a>(
        public_url: &str,
        provider_origins: impl IntoIterator<Item = &'a String>,
    ) -> ShopPolicy {
        let mut form_action = vec!["'self'".to_string()];
        form_action.extend(origin_of(public_url));
        for origin in provider_origins {
            if !form_action.contains(origin) {
                form_action.push(origin.clone());
            }
        }
        ShopPolicy {
            form_action,
            connect: Vec::new(),
        }
    }

    /// The `Content-Security-Policy` value for one response.
    pub fn render(&self, nonce: &CspNonce, page: Option<&PageSources>) -> String {
        let empty = PageSources::default();
        let page = page.unwrap_or(&empty);
        let list = |base: &[&str], extra: &[Cow<'static, str>]| -> String {
            let mut out: Vec<&str> = base.to_vec();
            for source in extra {
                if !out.contains(&source.as_ref()) {
                    out.push(source);
                }
            }
            out.join(" ")
        };
        let nonce_source = format!("'nonce-{}'", nonce.as_str());
        let connect: Vec<Cow<'static, str>> = self
            .connect
            .iter()
            .map(|c| Cow::Owned(c.clone()))
            .chain(page.connect.iter().cloned())
            .collect();
        let form_action: Vec<&str> = self.form_action.iter().map(String::as_str).collect();
        let mut directives = vec![
            "default-src 'self'".to_string(),
            format!(
                "script-src {}",
                list(
                    &["'self'", nonce_source.as_str(), "'wasm-unsafe-eval'"],
                    &page.script
                )
            ),
            format!("style-src {}", list(&["'self'"], &page.style)),
            format!("img-src {}", list(&["'self'"], &page.img)),
            "font-src 'self'".to_string(),
            format!("connect-src {}", list(&["'self'"], &connect)),
        ];
        if page.frame.is_empty() {
            directives.push("frame-src 'none'".to_string());
        } else {
            directives.push(format!("frame-src {}", list(&[], &page.frame)));
        }
        directives.extend([
            "object-src 'none'".to_string(),
            "base-uri 'none'".to_string(),
            format!("form-action {}", form_action.join(" ")),
            "frame-ancestors 'none'".to_string(),
        ]);
        directives.join("; ")
    }

    /// The policy of a page that asks for nothing more ([`render`](Self::render) without
    /// [`PageSources`]), worked out once: only the nonce differs between two such responses.
    pub fn without_page_sources(&self) -> FixedPolicy {
        const MARK: &str = "\u{0}nonce\u{0}";
        let rendered = self.render(&CspNonce(MARK.into()), None);
        let (before, after) = rendered
            .split_once(MARK)
            .expect("the policy names the nonce once");
        FixedPolicy {
            before: before.to_string(),
            after: after.to_string(),
        }
    }
}

/// [`ShopPolicy::without_page_sources`]: the header's text before and after the nonce.
#[derive(Clone, Debug)]
pub struct FixedPolicy {
    before: String,
    after: String,
}

impl FixedPolicy {
    /// The header value for this nonce, in one allocation.
    pub fn with(&self, nonce: &CspNonce) -> String {
        let nonce = nonce.as_str();
        let mut out = String::with_capacity(self.before.len() + nonce.len() + self.after.len());
        out.push_str(&self.before);
        out.push_str(nonce);
        out.push_str(&self.after);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn directive<'a>(policy: &'a str, name: &str) -> &'a str {
        policy
            .split(';')
            .map(str::trim)
            .find(|d| d.split_whitespace().next() == Some(name))
            .unwrap_or_else(|| panic!("no {name} in {policy}"))
    }

    #[test]
    fn origins_are_scheme_and_authority_only() {
        assert_eq!(
            origin_of("https://openapi.alipay.com/gateway.do?charset=utf-8").as_deref(),
            Some("https://openapi.alipay.com")
        );
        assert_eq!(
            origin_of("http://127.0.0.1:3000").as_deref(),
            Some("http://127.0.0.1:3000")
        );
        for not_one in [
            "/sandbox/alipay/gateway.do",
            "javascript:alert(1)",
            "https://shop@evil.example/x",
            "https://",
        ] {
            assert_eq!(origin_of(not_one), None, "{not_one}");
        }
    }

    #[test]
    fn the_fixed_policy_is_the_rendered_one() {
        let mut policy = ShopPolicy::new(
            "https://shop.example.com",
            &["https://www.sandbox.paypal.com".to_string()],
        );
        policy.connect.push("ws://127.0.0.1:3001".to_string());
        let fixed = policy.without_page_sources();
        for _ in 0..3 {
            let nonce = CspNonce::generate();
            assert_eq!(fixed.with(&nonce), policy.render(&nonce, None));
        }
    }

    #[test]
    fn the_policy_has_a_nonce_and_no_unsafe_inline_script() {
        let policy = ShopPolicy::new(
            "https://shop.example.com",
            &["https://checkout.stripe.com".to_string()],
        );
        let nonce = CspNonce::generate();
        let header = policy.render(&nonce, None);
        let script = directive(&header, "script-src");
        assert!(script.contains(&format!("'nonce-{}'", nonce.as_str())));
        assert!(script.contains("'wasm-unsafe-eval'"));
        assert!(!header.contains("unsafe-inline"), "{header}");
        assert_eq!(
            directive(&header, "form-action"),
            "form-action 'self' https://shop.example.com https://checkout.stripe.com"
        );
        assert_eq!(
            directive(&header, "frame-ancestors"),
            "frame-ancestors 'none'"
        );
        assert_eq!(directive(&header, "object-src"), "object-src 'none'");
        assert_ne!(CspNonce::generate(), nonce, "a fresh nonce each time");
    }

    #[test]
    fn a_page_adds_its_own_sources_to_its_own_policy() {
        let policy = ShopPolicy::new("http://127.0.0.1:3000", &[]);
        let page = PageSources::hand_written(&["document.forms[0].submit()"], &[]);
        let header = policy.render(&CspNonce::generate(), Some(&page));
        assert!(
            directive(&header, "script-src").contains(&hash_source("document.forms[0].submit()"))
        );
        assert_eq!(directive(&header, "img-src"), "img-src 'self' data:");
        assert_eq!(directive(&header, "frame-src"), "frame-src 'none'");
        // A known vector: SHA-256 of the empty string.
        assert_eq!(
            hash_source(""),
            "'sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU='"
        );
    }
}
