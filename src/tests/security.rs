//! Cross-site form posts and session cookie flags.

use crate::helpers::both_backends;
use reqwest::header::{ACCEPT, ORIGIN, SET_COOKIE};

both_backends! {
    async fn cross_site_form_posts_are_refused(app) {
        let shopper = app.browser();
        shopper.get("/").await;
        let response = shopper
            .client
            .post(format!("{}/api/add_to_cart", app.base))
            .header(ACCEPT, "text/html")
            .header(ORIGIN, "https://evil.example")
            .form(&[("product_id", "1"), ("quantity", "1")])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 403);
        let response = shopper
            .client
            .post(format!("{}/api/add_to_cart", app.base))
            .header("sec-fetch-site", "cross-site")
            .form(&[("product_id", "1"), ("quantity", "1")])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 403);
        assert_eq!(shopper.cart().await.cart_total(), None, "nothing added");

        // The same post from the shop's own origin goes through.
        let response = shopper
            .client
            .post(format!("{}/api/add_to_cart", app.base))
            .header(ACCEPT, "text/html")
            .header(ORIGIN, app.base.clone())
            .header("referer", format!("{}/", app.base))
            .form(&[("product_id", "1"), ("quantity", "1")])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 302);
        assert_eq!(shopper.cart().await.cart_total().as_deref(), Some("$18.00"));

        // Behind a reverse proxy the Host may differ; the configured PUBLIC_URL is accepted too.
        let response = shopper
            .client
            .post(format!("{}/api/add_to_cart", app.base))
            .header(ACCEPT, "text/html")
            .header(ORIGIN, crate::helpers::PUBLIC_URL)
            .header("referer", format!("{}/", app.base))
            .form(&[("product_id", "1"), ("quantity", "1")])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 302);
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
