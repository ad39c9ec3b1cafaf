//! Cross-site form posts and session cookie flags.

use crate::helpers::{both_backends, Browser, TestApp};
use reqwest::header::{ORIGIN, REFERER, SET_COOKIE};
use reqwest::StatusCode;

/// Post an add-to-cart form (one Canvas Tote Bag) with extra headers; returns the status.
async fn add_with_headers(
    app: &TestApp,
    shopper: &Browser,
    headers: &[(&str, &str)],
) -> StatusCode {
    let mut request = shopper
        .client
        .post(format!("{}/api/add_to_cart", app.base))
        .header(reqwest::header::ACCEPT, "text/html")
        .form(&[("product_id", "1"), ("quantity", "1")]);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request.send().await.unwrap().status()
}

both_backends! {
    async fn cross_site_form_posts_are_refused(app) {
        let shopper = app.browser();
        shopper.get("/").await;
        let referer = format!("{}/", app.base);
        let refused = [
            vec![(ORIGIN.as_str(), "https://evil.example")],
            vec![("sec-fetch-site", "cross-site")],
            vec![(ORIGIN.as_str(), "null")],
        ];
        for headers in &refused {
            assert_eq!(add_with_headers(&app, &shopper, headers).await, 403, "{headers:?}");
        }
        assert_eq!(shopper.cart().await.cart_total(), None, "nothing added");

        // The same post from the shop's own origin goes through.
        let own = [(ORIGIN.as_str(), app.base.as_str()), (REFERER.as_str(), referer.as_str())];
        assert_eq!(add_with_headers(&app, &shopper, &own).await, 302);
        assert_eq!(shopper.cart().await.cart_total().as_deref(), Some("$18.00"));

        // Behind a reverse proxy the Host may differ; the configured PUBLIC_URL is accepted too.
        let proxied = [(ORIGIN.as_str(), crate::helpers::PUBLIC_URL), (REFERER.as_str(), referer.as_str())];
        assert_eq!(add_with_headers(&app, &shopper, &proxied).await, 302);
        assert_eq!(shopper.cart().await.cart_total().as_deref(), Some("$36.00"));
    }

    async fn the_session_cookie_is_http_only_and_lax(app) {
        let shopper = app.browser();
        let response = shopper
            .post_form("/", "/api/add_to_cart", &[("product_id", "1"), ("quantity", "1")])
            .await;
        let cookie = response.headers()[SET_COOKIE].to_str().unwrap().to_string();
        assert!(cookie.starts_with("storefront_session="), "{cookie}");
        assert!(cookie.contains("HttpOnly"), "{cookie}");
        assert!(cookie.contains("SameSite=Lax"), "{cookie}");
    }
}
