//! The render cache of the catalogue and product pages (`src/page_cache.rs`): each kind of
//! catalogue change shows on the next request, the per-visitor header is never shared, and a second
//! instance on PostgreSQL drops its pages when the first one edits.
//!
//! Each test first proves the cache is in use: a price changed behind the shop's back (plain SQL,
//! which tells nobody) is *not* seen, because the page comes from the cache. Then a change made
//! through the shop is seen on the very next request.

use crate::helpers::{both_backends, TestApp};
use crate::pay::reference_in;
use std::time::{Duration, Instant};

/// Change the Ceramic Mug's dollar price without telling the shop (no cache invalidation).
async fn change_price_behind_the_shops_back(app: &TestApp, minor: i64) {
    app.exec(&format!(
        "UPDATE product_prices SET amount_minor = {minor} WHERE product_id = 2 AND currency = 'USD'"
    ))
    .await;
}

/// The catalogue and the mug's page are cached: a silent price change does not show.
async fn pages_are_cached(app: &TestApp) {
    let visitor = app.browser();
    assert!(visitor.get("/").await.contains("$14.00"));
    assert!(visitor
        .get("/products/ceramic-mug")
        .await
        .contains("$14.00"));
    change_price_behind_the_shops_back(app, 1111).await;
    assert!(
        visitor.get("/").await.contains("$14.00"),
        "the catalogue was rendered again: the cache is not in use"
    );
    let product = app.browser().get("/products/ceramic-mug").await;
    assert!(product.contains("$14.00") && !product.contains("$11.11"));
}

both_backends! {
    async fn search_and_page_views_are_cached_and_dropped_on_a_change(app) {
        let visitor = app.browser();
        let search = "/?q=ceramic";
        assert!(visitor.get(search).await.contains("$14.00"));
        assert!(visitor.get("/?after=1.1").await.contains("$14.00"));
        change_price_behind_the_shops_back(&app, 1111).await;
        assert!(visitor.get(search).await.contains("$14.00"), "a search's page is kept");
        assert!(visitor.get("/?after=1.1").await.contains("$14.00"), "a later page is kept");
        // A change through the shop drops them with the rest.
        app.merchant().await.edit_product(2, "12.00", 60, "active").await;
        assert!(visitor.get(search).await.contains("$12.00"));
        assert!(visitor.get("/?after=1.1").await.contains("$12.00"));
        // A query that is not the catalogue's own is rendered every time.
        change_price_behind_the_shops_back(&app, 1313).await;
        assert!(visitor.get("/?q=ceramic&utm_source=x").await.contains("$13.13"));
    }

    async fn a_price_edit_shows_on_the_next_request(app) {
        pages_are_cached(&app).await;
        let merchant = app.merchant().await;
        assert_eq!(merchant.edit_product(2, "15.50", 60, "active").await.alert(), None);
        let visitor = app.browser();
        let page = visitor.get("/").await;
        assert!(page.contains("$15.50") && !page.contains("$14.00"), "stale catalogue");
        assert!(visitor.get("/products/ceramic-mug").await.contains("$15.50"));
    }

    async fn a_stock_edit_shows_on_the_next_request(app) {
        pages_are_cached(&app).await;
        let merchant = app.merchant().await;
        merchant.edit_product(2, "11.11", 3, "active").await;
        let visitor = app.browser();
        assert!(visitor.get("/").await.contains("Only 3 left"));
        assert!(visitor.get("/products/ceramic-mug").await.contains("3 in stock"));
        merchant.edit_product(2, "11.11", 0, "active").await;
        let product = visitor.get("/products/ceramic-mug").await;
        assert!(product.contains("Out of stock"), "sold out by the merchant");
    }

    async fn hiding_a_product_shows_on_the_next_request(app) {
        pages_are_cached(&app).await;
        let merchant = app.merchant().await;
        merchant.edit_product(2, "11.11", 60, "hidden").await;
        let visitor = app.browser();
        assert!(!visitor.get("/").await.contains("Ceramic Mug"));
        assert_eq!(visitor.get("/products/ceramic-mug").await.status, 404);
        merchant.edit_product(2, "11.11", 60, "active").await;
        assert!(visitor.get("/").await.contains("Ceramic Mug"));
        assert_eq!(visitor.get("/products/ceramic-mug").await.status, 200);
    }

    async fn selling_out_through_an_order_and_getting_stock_back_show_at_once(app) {
        let merchant = app.merchant().await;
        merchant.edit_product(2, "14.00", 2, "active").await;
        let visitor = app.browser();
        assert!(visitor.get("/products/ceramic-mug").await.contains("2 in stock"));
        pages_are_cached(&app).await;

        // A shopper buys the last two: placing the order takes the stock.
        let shopper = app.browser();
        shopper.add_to_cart(2, 2).await;
        let hosted = shopper.pay("stripe").await;
        let product = visitor.get("/products/ceramic-mug").await;
        assert!(product.contains("Out of stock"), "stock taken by the order: {}", product.html);

        // The payment is declined: the order fails and gives its stock back.
        let back = shopper.on_stripe_page(&hosted, "decline", "normal").await;
        let reference = reference_in(&back);
        app.wait_for(&reference, "failed").await;
        assert!(visitor.get("/products/ceramic-mug").await.contains("2 in stock"));
        assert!(visitor.get("/").await.contains("Only 2 left"));
    }

    async fn visitors_never_see_each_others_header(app) {
        let euro = app.browser();
        euro.set_currency("EUR").await;
        euro.add_to_cart(1, 2).await;
        let dollar = app.browser();
        let customer = app.browser();
        customer.register("cache-reader@example.com", "a long enough password").await.unwrap();
        customer.add_to_cart(3, 1).await;
        for _ in 0..3 {
            for path in ["/", "/products/canvas-tote"] {
                let page = euro.get(path).await;
                assert!(page.contains("€15.99") && !page.contains("$18.00"), "{path}");
                assert!(page.contains("(2)"), "the euro shopper's cart count on {path}");
                assert!(page.contains("value=\"EUR\" selected"), "{path}");
                assert!(!page.contains("cache-reader@example.com"));

                let page = dollar.get(path).await;
                assert!(page.contains("$18.00") && !page.contains("€15.99"), "{path}");
                assert!(page.contains("(0)"), "an empty cart on {path}");
                assert!(page.contains("Log in") && !page.contains("cache-reader@example.com"));

                let page = customer.get(path).await;
                assert!(page.contains("cache-reader@example.com"), "{path}");
                assert!(page.contains("(1)") && page.contains("$18.00"), "{path}");
            }
        }
    }

    async fn every_cached_page_carries_its_own_nonce(app) {
        let visitor = app.browser();
        let mut nonces = Vec::new();
        for _ in 0..3 {
            let response = visitor.client.get(format!("{}/", visitor.base)).send().await.unwrap();
            let policy = response.headers()["content-security-policy"].to_str().unwrap().to_string();
            let html = response.text().await.unwrap();
            let nonce = regex_lite::Regex::new(r"'nonce-([^']+)'").unwrap().captures(&policy)
                .map(|c| c[1].to_string()).expect("a nonce in the policy");
            assert!(html.contains(&format!("nonce=\"{nonce}\"")), "the page's scripts carry the header's nonce");
            assert!(!nonces.contains(&nonce), "a nonce served twice");
            nonces.push(nonce);
        }
    }
}

#[tokio::test]
async fn another_instances_edit_drops_this_instances_pages_on_postgres() {
    let a = crate::helpers::spawn_app(crate::helpers::Backend::Postgres).await;
    let b = a.another_instance().await;
    pages_are_cached(&b).await;
    let merchant = a.merchant().await;
    assert_eq!(
        merchant
            .edit_product(2, "16.25", 60, "active")
            .await
            .alert(),
        None
    );
    // B hears of it through NOTIFY: within moments, not on a timer.
    let visitor = b.browser();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let page = visitor.get("/products/ceramic-mug").await;
        if page.contains("$16.25") {
            break;
        }
        assert!(page.contains("$14.00"), "{}", page.html);
        assert!(Instant::now() < deadline, "B still serves the old price");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(visitor.get("/").await.contains("$16.25"));
}
