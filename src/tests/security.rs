//! Cross-site form posts and session cookie flags.

use crate::helpers::{both_backends, Browser, TestApp};
use reqwest::header::{LOCATION, ORIGIN, REFERER, SET_COOKIE};
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

/// Standard base64 with the URL-safe alphabet and padding, as the server-function contract
/// encodes `__err` (enough for a test; the app never needs to encode one itself).
fn base64_url(bytes: &[u8]) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | (*b as u32) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

const PHISHING: &str = "Your account is locked, call +1 555 0100";

both_backends! {
    async fn crafted_error_links_are_not_shown(app) {
        let shopper = app.browser();
        shopper.add_to_cart(1, 1).await;
        let err = base64_url(format!(r#"{{"Invalid":"{PHISHING}"}}"#).as_bytes());
        for query in [
            format!("__path=/api/update_cart_line&__err={err}"),
            format!("__path=/api/update_cart_line&__err={err}&__sig={}", "ab".repeat(32)),
            format!("x=1&__err={err}&__path=/api/update_cart_line"),
            format!("error={}", PHISHING.replace(' ', "+")),
        ] {
            let first = shopper.client.get(format!("{}/cart?{query}", app.base)).send().await.unwrap();
            let status = first.status();
            let location = first.headers().get(LOCATION).map(|l| l.to_str().unwrap().to_string());
            let body = first.text().await.unwrap();
            assert!(!body.contains("call +1"), "{query}: {body}");
            let page = match location {
                Some(to) => {
                    assert_eq!(status, StatusCode::SEE_OTHER, "{query}");
                    assert!(!to.contains("__err") && !to.contains("__path"), "{to}");
                    shopper.get(&to).await
                }
                None => crate::helpers::Page { status, html: body },
            };
            assert_eq!(page.status, 200, "{query}");
            assert_eq!(page.alert(), None, "{query}");
            assert!(!page.html.contains("call +1"), "{query}");
            assert_eq!(page.line_quantity(1), Some(1), "the cart still renders");
        }
    }

    async fn the_shops_own_refusals_still_show_without_javascript(app) {
        let shopper = app.browser();
        shopper.add_to_cart(1, 1).await;
        let response = shopper
            .post_form("/cart", "/api/update_cart_line", &[("product_id", "1"), ("quantity", "0")])
            .await;
        let location = response.headers()[LOCATION].to_str().unwrap().to_string();
        assert!(location.contains("__sig="), "{location}");
        let page = shopper.get(&shopper.local(&location)).await;
        assert_eq!(page.status, 200);
        assert_eq!(page.alert().as_deref(), Some("Quantity must be at least 1."));

        // A second refusal posted from the error page shows the new message, not the old one.
        let again = shopper
            .submit(&shopper.local(&location), "/api/update_cart_line", &[("product_id", "1"), ("quantity", "100")])
            .await;
        assert_eq!(again.status, 200);
        assert_eq!(again.alert().as_deref(), Some("Quantity can be at most 99."));

        // The signature covers the message: another text under it is dropped.
        let forged_err = base64_url(format!(r#"{{"Invalid":"{PHISHING}"}}"#).as_bytes());
        let real_err = location.split("__err=").nth(1).unwrap().split('&').next().unwrap().to_string();
        let forged = shopper.local(&location).replace(&real_err, &forged_err);
        let page = shopper.get(&forged).await;
        assert_eq!(page.status, StatusCode::SEE_OTHER);
        assert!(!page.html.contains("call +1"));

        // A later successful post from the error page leaves no stale signature behind.
        let response = shopper
            .post_form(&shopper.local(&location), "/api/update_cart_line", &[("product_id", "1"), ("quantity", "2")])
            .await;
        let next = response.headers()[LOCATION].to_str().unwrap();
        assert!(!next.contains("__err") && !next.contains("__sig"), "{next}");
        assert_eq!(shopper.get(&shopper.local(next)).await.line_quantity(1), Some(2));
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
        .await;
    match past_default {
        Ok(response) => assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE),
        // The server answered 413 and closed the connection while the client was still
        // writing the body (a race on a busy machine): the client sees a broken pipe instead.
        Err(e) => assert!(e.is_request(), "{e:?}"),
    }

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
