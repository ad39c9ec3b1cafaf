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

/// A server function takes at most 64 KB; more is 413 (announced or streamed), never a 500.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_bodies_to_server_functions_are_413() {
    let app = crate::helpers::spawn_app(crate::helpers::Backend::Sqlite).await;
    let shopper = app.browser();
    let big = "x".repeat(1024 * 1024);
    let announced = shopper
        .post_form(
            "/",
            "/api/add_to_cart",
            &[("product_id", "1"), ("quantity", "1"), ("note", &big)],
        )
        .await;
    assert_eq!(announced.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(announced.headers()[reqwest::header::CONNECTION], "close");
    // The same from a JavaScript client (no redirect contract).
    let from_script = shopper
        .client
        .post(format!("{}/api/add_to_cart", app.base))
        .header(reqwest::header::ACCEPT, "application/json")
        .form(&[("product_id", "1"), ("quantity", "1"), ("note", &big)])
        .send()
        .await
        .unwrap();
    assert_eq!(from_script.status(), StatusCode::PAYLOAD_TOO_LARGE);
    // Past axum's own 2 MB default this used to be a 500.
    let huge = "x".repeat(3 * 1024 * 1024);
    let past_default = shopper
        .client
        .post(format!("{}/api/add_to_cart", app.base))
        .header(reqwest::header::ACCEPT, "application/json")
        .form(&[("product_id", "1"), ("quantity", "1"), ("note", &huge)])
        .send()
        .await
        .unwrap();
    assert_eq!(past_default.status(), StatusCode::PAYLOAD_TOO_LARGE);

    // 1 MB chunked, with no announced length.
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        std::iter::once(b"product_id=1&quantity=1&note=".to_vec())
            .chain((0..16).map(|_| vec![b'x'; 64 * 1024]))
            .map(Ok)
            .collect();
    let streamed = shopper
        .client
        .post(format!("{}/api/add_to_cart", app.base))
        .header(reqwest::header::ACCEPT, "text/html")
        .header(
            reqwest::header::CONTENT_TYPE,
            "application/x-www-form-urlencoded",
        )
        .body(reqwest::Body::wrap_stream(futures_util::stream::iter(
            chunks,
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(streamed.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(shopper.cart().await.cart_total(), None, "nothing added");

    // Just under the limit is an ordinary form post.
    let fine = "x".repeat(60 * 1024);
    let ok = shopper
        .post_form(
            "/",
            "/api/add_to_cart",
            &[("product_id", "1"), ("quantity", "1"), ("note", &fine)],
        )
        .await;
    assert!(ok.status().is_redirection(), "{}", ok.status());
}
