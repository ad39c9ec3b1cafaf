//! Catalogue pages, currencies, 404s and health.

use crate::helpers::both_backends;

both_backends! {
    async fn catalogue_lists_every_seeded_product(app) {
        let page = app.browser().get("/").await;
        assert_eq!(page.status, 200);
        let buttons = page.html.matches(">Add to cart</button>").count();
        assert!(buttons >= 24, "expected at least 24 products, saw {buttons}");
        assert!(page.contains("Canvas Tote Bag"));
        assert!(page.contains("$18.00"));
        assert!(page.contains("<label for=\"currency\">Currency</label>"));
        assert!(page.contains(">Cart<"));
    }

    async fn the_chosen_currency_is_remembered_and_formatted(app) {
        let shopper = app.browser();
        let page = shopper.set_currency("JPY").await;
        assert!(page.contains("¥2,700"), "JPY has no minor unit");
        assert!(!page.contains("$18.00"));
        let page = shopper.get("/products/canvas-tote").await;
        assert!(page.contains("¥2,700"));
        let page = shopper.set_currency("BDT").await;
        assert!(page.contains("৳2,160.00"));
        let page = shopper.set_currency("EUR").await;
        assert!(page.contains("€15.99"));
        // Another shopper still sees dollars.
        assert!(app.browser().get("/").await.contains("$18.00"));
    }

    async fn an_unknown_currency_is_refused_with_a_message(app) {
        let shopper = app.browser();
        let page = shopper.set_currency("GBP").await;
        assert_eq!(page.alert().as_deref(), Some("Unsupported currency \"GBP\": pick one of USD, EUR, BDT, CNY, JPY."));
        assert!(page.contains("$18.00"), "currency unchanged");
    }

    async fn product_page_and_not_found_pages(app) {
        let shopper = app.browser();
        let page = shopper.get("/products/ceramic-mug").await;
        assert_eq!(page.status, 200);
        assert!(page.contains("<h1>Ceramic Mug</h1>"));
        assert!(page.contains("350 ml stoneware mug"));
        assert!(page.contains("<label for=\"quantity\">Quantity</label>"));

        let page = shopper.get("/products/no-such-thing").await;
        assert_eq!(page.status, 404);
        assert!(page.contains("Page not found"));

        let page = shopper.get("/no/such/page").await;
        assert_eq!(page.status, 404);
        assert!(page.contains("Page not found"));
    }

    async fn a_hidden_product_disappears_from_the_shop(app) {
        let merchant = app.merchant().await;
        let page = merchant.edit_product(2, "14.00", 60, "hidden").await;
        assert_eq!(page.alert(), None);
        let shopper = app.browser();
        assert!(!shopper.get("/").await.contains("Ceramic Mug"));
        assert_eq!(shopper.get("/products/ceramic-mug").await.status, 404);
    }

    async fn health_reports_the_database(app) {
        let response = reqwest::get(format!("{}/healthz", app.base)).await.unwrap();
        assert_eq!(response.status(), 200);
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(body["database"], "ok");
    }
}

const TEST_MODE: &str = r#"<p role="note" class="test-mode">Test mode: no real money is taken<span class="wide-only"> (payments go to the built-in sandboxes)</span>.</p>"#;

/// Sandbox mode (the default) says so on every page, inside the header; live mode does not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sandbox_mode_shows_the_test_mode_banner_on_every_page() {
    use crate::helpers::{spawn_app, spawn_app_with, Backend};
    let sandbox = spawn_app(Backend::Sqlite).await;
    let shopper = sandbox.browser();
    for path in [
        "/",
        "/products/canvas-tote",
        "/cart",
        "/login",
        "/no-such-page",
    ] {
        let page = shopper.get(path).await;
        assert!(page.contains(TEST_MODE), "{path}: {}", page.html);
        let header = page
            .capture(r#"(?s)<header class="site-header">(.*?)</header>"#)
            .unwrap();
        assert!(
            header.contains(TEST_MODE),
            "{path}: the banner is in the header"
        );
    }

    let live = spawn_app_with(
        Backend::Sqlite,
        &[
            ("PAYMENTS_MODE", "live"),
            ("STRIPE_SECRET_KEY", "sk_live_real_looking"),
            ("STRIPE_WEBHOOK_SECRET", "whsec_real_looking"),
        ],
    )
    .await;
    for path in ["/", "/cart"] {
        let page = live.browser().get(path).await;
        assert_eq!(page.status, 200);
        assert!(!page.contains("Test mode"), "{path}: {}", page.html);
    }
}
