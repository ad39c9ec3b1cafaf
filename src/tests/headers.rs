//! Browser-side hardening: the security headers on every kind of page, a CSP nonce that is fresh
//! per response and carried by every inline script (or a hash the page's policy lists), no
//! `'unsafe-inline'` script anywhere, HSTS only over https, and a guest link's key that reaches
//! no provider and no other site. Headers do not depend on the database, so these run on SQLite
//! (the guest-key checks also on PostgreSQL, where orders are involved).

use crate::helpers::{both_backends, spawn_app, spawn_app_with, Backend, Browser, PUBLIC_URL};
use crate::pay::reference_in;
use app::server::csp::hash_source;
use regex_lite::Regex;
use reqwest::header::HeaderMap;
use reqwest::StatusCode;

/// One response as the browser got it.
struct Fetched {
    path: String,
    status: StatusCode,
    headers: HeaderMap,
    html: String,
}

impl Fetched {
    fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .map(|v| v.to_str().unwrap())
            .unwrap_or_else(|| panic!("{}: no {name} header", self.path))
    }

    fn csp(&self) -> &str {
        self.header("content-security-policy")
    }

    /// One directive of the CSP, e.g. `script-src 'self' …`.
    fn directive(&self, name: &str) -> &str {
        self.csp()
            .split(';')
            .map(str::trim)
            .find(|d| d.split_whitespace().next() == Some(name))
            .unwrap_or_else(|| panic!("{}: no {name} in {}", self.path, self.csp()))
    }

    /// The nonce in the CSP's `script-src`.
    fn nonce(&self) -> String {
        Regex::new(r"'nonce-([A-Za-z0-9+/_=-]+)'")
            .unwrap()
            .captures(self.directive("script-src"))
            .map(|c| c[1].to_string())
            .unwrap_or_else(|| panic!("{}: no nonce in {}", self.path, self.csp()))
    }

    /// The headers every HTML page carries, whatever it is.
    fn assert_page_headers(&self) {
        let script = self.directive("script-src");
        assert!(
            !script.contains("'unsafe-inline'"),
            "{}: {script}",
            self.path
        );
        assert!(
            script.contains("'wasm-unsafe-eval'"),
            "{}: {script}",
            self.path
        );
        assert_eq!(self.directive("default-src"), "default-src 'self'");
        assert_eq!(self.directive("object-src"), "object-src 'none'");
        assert_eq!(self.directive("base-uri"), "base-uri 'none'");
        assert_eq!(self.directive("frame-ancestors"), "frame-ancestors 'none'");
        assert_eq!(self.header("x-content-type-options"), "nosniff");
        assert_eq!(self.header("x-frame-options"), "DENY");
        assert_eq!(self.header("cross-origin-opener-policy"), "same-origin");
        let permissions = self.header("permissions-policy");
        for feature in ["camera=()", "microphone=()", "geolocation=()", "payment=()"] {
            assert!(
                permissions.contains(feature),
                "{}: {permissions}",
                self.path
            );
        }
        assert!(
            self.headers.get("strict-transport-security").is_none(),
            "{}: no HSTS over plain http",
            self.path
        );
        self.assert_inline_scripts_allowed();
    }

    /// Every inline `<script>` carries this response's nonce, or its exact text's hash is in
    /// `script-src`. Every `<style>` likewise by hash.
    fn assert_inline_scripts_allowed(&self) {
        let nonce_attr = format!("nonce=\"{}\"", self.nonce());
        let script_src = self.directive("script-src");
        let tag = Regex::new(r"(?s)<script([^>]*)>(.*?)</script>").unwrap();
        for c in tag.captures_iter(&self.html) {
            let (attrs, text) = (&c[1], &c[2]);
            if attrs.contains("src=") && text.trim().is_empty() {
                continue;
            }
            assert!(
                attrs.contains(&nonce_attr) || script_src.contains(&hash_source(text)),
                "{}: an inline script the policy does not allow: <script{attrs}>{}",
                self.path,
                text.chars().take(80).collect::<String>()
            );
        }
        let style = Regex::new(r"(?s)<style([^>]*)>(.*?)</style>").unwrap();
        for c in style.captures_iter(&self.html) {
            assert!(
                self.directive("style-src").contains(&hash_source(&c[2])),
                "{}: an inline style the policy does not allow",
                self.path
            );
        }
        assert!(
            !self.html.contains(" style=\""),
            "{}: no inline style attributes (style-src has no 'unsafe-inline')",
            self.path
        );
    }
}

async fn fetch(browser: &Browser, path: &str) -> Fetched {
    let response = browser
        .client
        .get(format!("{}{path}", browser.base))
        .send()
        .await
        .unwrap();
    Fetched {
        path: path.to_string(),
        status: response.status(),
        headers: response.headers().clone(),
        html: response.text().await.unwrap(),
    }
}

/// `form-action` when every provider is on the built-in sandbox: the shop alone.
fn shop_only_form_action() -> String {
    format!("form-action 'self' {PUBLIC_URL}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_page_has_the_headers_and_its_scripts_carry_a_fresh_nonce() {
    let app = spawn_app(Backend::Sqlite).await;
    let shopper = app.browser();
    shopper.add_to_cart(1, 1).await;
    let merchant = app.merchant().await;
    let pages = [
        (&shopper, "/", StatusCode::OK),
        (&shopper, "/products/canvas-tote", StatusCode::OK),
        (&shopper, "/cart", StatusCode::OK),
        (&shopper, "/checkout", StatusCode::OK),
        (&shopper, "/login", StatusCode::OK),
        (&shopper, "/register", StatusCode::OK),
        (&shopper, "/account", StatusCode::OK),
        (&shopper, "/no-such-page", StatusCode::NOT_FOUND),
        (&shopper, "/products/no-such-thing", StatusCode::NOT_FOUND),
        (&merchant, "/account/orders", StatusCode::OK),
        (&merchant, "/admin/orders", StatusCode::OK),
        (&merchant, "/admin/products", StatusCode::OK),
    ];
    for (browser, path, status) in pages {
        let page = fetch(browser, path).await;
        assert_eq!(page.status, status, "{path}");
        page.assert_page_headers();
        assert_eq!(page.directive("form-action"), shop_only_form_action());
        assert_eq!(page.directive("frame-src"), "frame-src 'none'");
        assert_eq!(
            page.header("referrer-policy"),
            "strict-origin-when-cross-origin",
            "{path}"
        );
        // The hydration script is there, and carries the nonce.
        assert!(
            page.html.contains(&format!(
                "<script type=\"module\" nonce=\"{}\"",
                page.nonce()
            )),
            "{path}: the hydration script with the nonce"
        );
    }
    // The resources' serialised data travels in inline scripts too (after the hydration
    // script); they carry the nonce as well.
    let catalogue = fetch(&shopper, "/").await;
    let nonced = catalogue
        .html
        .matches(&format!("nonce=\"{}\"", catalogue.nonce()))
        .count();
    assert!(nonced >= 2, "hydration and resource scripts: {nonced}");
    let first = fetch(&shopper, "/").await.nonce();
    let second = fetch(&shopper, "/").await.nonce();
    assert_ne!(first, second, "a fresh nonce for every response");
    assert!(first.len() >= 22, "at least 128 bits: {first}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_streams_and_files_get_no_csp_but_nosniff() {
    let app = spawn_app(Backend::Sqlite).await;
    let shopper = app.browser();
    for path in ["/healthz", "/api/orders/ORD-000001/status"] {
        let response = fetch(&shopper, path).await;
        assert!(
            response.headers.get("content-security-policy").is_none(),
            "{path}: not a document"
        );
        assert_eq!(response.header("x-content-type-options"), "nosniff");
    }
    // A server function answering a script (JSON, not a form post).
    let response = shopper
        .client
        .post(format!("{}/api/products", shopper.base))
        .header("accept", "application/json")
        .header("content-type", "application/x-www-form-urlencoded")
        .body("")
        .send()
        .await
        .unwrap();
    assert!(response.headers().get("content-security-policy").is_none());
    assert_eq!(response.headers()["x-content-type-options"], "nosniff");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hsts_only_when_the_public_url_is_https() {
    let app = spawn_app_with(
        Backend::Sqlite,
        &[("PUBLIC_URL", "https://shop.example.test")],
    )
    .await;
    let page = fetch(&app.browser(), "/").await;
    assert_eq!(
        page.header("strict-transport-security"),
        "max-age=31536000; includeSubDomains"
    );
    assert_eq!(
        page.directive("form-action"),
        "form-action 'self' https://shop.example.test"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn form_action_allows_exactly_the_configured_providers_pages() {
    let app = spawn_app_with(
        Backend::Sqlite,
        &[
            ("STRIPE_SECRET_KEY", "sk_test_own_key"),
            ("STRIPE_WEBHOOK_SECRET", "whsec_own_secret"),
        ],
    )
    .await;
    let page = fetch(&app.browser(), "/checkout").await;
    assert_eq!(
        page.directive("form-action"),
        format!("form-action 'self' {PUBLIC_URL} https://checkout.stripe.com")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_alipay_go_page_allows_its_auto_submit_and_tells_the_gateway_nothing() {
    let app = spawn_app(Backend::Sqlite).await;
    let shopper = app.browser();
    shopper.set_currency("CNY").await;
    shopper.add_to_cart(1, 1).await;
    let go = shopper.pay("alipay").await;
    assert!(go.contains("/payments/alipay/go/ORD-"), "{go}");
    let page = fetch(&shopper, &shopper.local(&go)).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.html);
    page.assert_page_headers();
    assert!(page.html.contains("<form id=\"provider-form\""));
    assert!(page.html.contains("<script>"), "the auto-submit script");
    assert_eq!(page.header("referrer-policy"), "same-origin");
    // The built-in sandbox's gateway is on the shop's own origin.
    assert_eq!(page.directive("form-action"), shop_only_form_action());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sslcommerz_sandbox_pages_allow_their_style_and_auto_submit() {
    let app = spawn_app(Backend::Sqlite).await;
    let shopper = app.browser();
    shopper.set_currency("BDT").await;
    shopper.add_to_cart(1, 1).await;
    let gateway = shopper.pay("sslcommerz").await;
    let hosted = fetch(&shopper, &shopper.local(&gateway)).await;
    assert_eq!(hosted.status, StatusCode::OK, "{}", hosted.html);
    hosted.assert_page_headers();
    assert!(hosted.html.contains("<style>"));
    // The page it answers Pay with: a form auto-submitted back to the shop.
    let path = shopper.local(&gateway);
    let response = shopper
        .client
        .post(format!("{}{path}", shopper.base))
        .form(&[("action", "pay"), ("webhook", "never")])
        .send()
        .await
        .unwrap();
    let back = Fetched {
        path: path.clone(),
        status: response.status(),
        headers: response.headers().clone(),
        html: response.text().await.unwrap(),
    };
    assert_eq!(back.status, StatusCode::OK);
    assert!(back.html.contains("<form id=\"back\""), "{}", back.html);
    back.assert_page_headers();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn braintree_pages_load_braintree_only_with_real_keys_and_only_there() {
    // The stand-in (no keys): nothing of Braintree's is allowed.
    let sandbox = spawn_app(Backend::Sqlite).await;
    let shopper = sandbox.browser();
    shopper.add_to_cart(1, 1).await;
    let go = shopper.pay("braintree").await;
    let page = fetch(&shopper, &shopper.local(&go)).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.html);
    page.assert_page_headers();
    assert!(!page.csp().contains("braintreegateway"), "{}", page.csp());
    assert_eq!(page.header("referrer-policy"), "same-origin");

    // Keys of one's own (here talking to the first shop's sandbox): the page loads Drop-in.
    let api = format!("{}/sandbox/braintree", sandbox.base);
    let app = spawn_app_with(
        Backend::Sqlite,
        &[
            ("BRAINTREE_MERCHANT_ID", "ownmerchant"),
            ("BRAINTREE_PUBLIC_KEY", "ownpublic"),
            ("BRAINTREE_PRIVATE_KEY", "ownprivate"),
            ("BRAINTREE_API_BASE", api.as_str()),
        ],
    )
    .await;
    let shopper = app.browser();
    shopper.add_to_cart(1, 1).await;
    let go = shopper.pay("braintree").await;
    let page = fetch(&shopper, &shopper.local(&go)).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.html);
    assert!(page.html.contains("dropin.min.js"), "{}", page.html);
    page.assert_page_headers();
    let script = page.directive("script-src");
    assert!(
        script.contains("https://js.braintreegateway.com"),
        "{script}"
    );
    assert_eq!(
        page.directive("frame-src"),
        "frame-src https://assets.braintreegateway.com"
    );
    assert!(page
        .directive("connect-src")
        .contains("https://api.braintreegateway.com"));
    // Only on that page.
    let catalogue = fetch(&shopper, "/").await;
    assert!(
        !catalogue.csp().contains("braintree"),
        "{}",
        catalogue.csp()
    );
}

both_backends! {
    async fn a_guest_key_reaches_no_provider_and_no_other_site(app) {
        let shopper = app.browser();
        shopper.add_to_cart(1, 1).await;
        let hosted = shopper.pay("stripe").await;
        assert!(!hosted.contains("key="), "{hosted}");
        let back = shopper.on_stripe_page(&hosted, "pay", "never").await;
        assert!(!back.contains("key="), "the provider's return carries no key: {back}");
        let reference = reference_in(&back);
        let mine = shopper.follow(&back).await;
        let link = mine
            .capture(r#"href="([^"]+\?key=[0-9a-f]+)""#)
            .expect("a bookmarkable guest link");
        let key = link.rsplit_once("key=").unwrap().1.to_string();
        // Nothing sent to or kept for the provider holds the key.
        let stored: Vec<String> = sqlx::query_scalar(
            "SELECT COALESCE(next_step, '') FROM payment_attempts",
        )
        .fetch_all(&app.state.db.pool)
        .await
        .unwrap();
        assert!(stored.iter().all(|s| !s.contains(&key)), "{stored:?}");

        // The page opened through the guest link tells other sites nothing of its URL, and links
        // only to the shop itself.
        let stranger = app.browser();
        let page = fetch(&stranger, &stranger.local(&link)).await;
        assert_eq!(page.status, StatusCode::OK);
        assert_eq!(page.header("referrer-policy"), "same-origin");
        page.assert_page_headers();
        let external = Regex::new(r#"(?:href|action|src)="(https?://[^"]+)""#).unwrap();
        for c in external.captures_iter(&page.html) {
            assert!(c[1].starts_with(PUBLIC_URL), "{reference}: a link off the shop: {}", &c[1]);
        }
    }
}
