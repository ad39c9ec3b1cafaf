//! The read path's caches of a visitor's session, account and saved cart (`SessionCache`) and of a
//! cart's prices
//! (`PriceCache`), and the cart page in the render cache: each first proves it is in use (a change
//! made behind the shop's back, which tells nobody, is not seen), then that every change made
//! through the shop, on this instance or on another one sharing PostgreSQL, is seen.

use crate::helpers::{both_backends, spawn_app, Backend, Browser, Page, TestApp};
use std::time::{Duration, Instant};

/// Delete every stored session with plain SQL: nobody is told.
async fn delete_sessions_behind_the_shops_back(app: &TestApp) {
    let table = match app.state.db.backend {
        app::server::db::Backend::Sqlite => "tower_sessions",
        app::server::db::Backend::Postgres => "tower_sessions.session",
    };
    app.exec(&format!("DELETE FROM {table}")).await;
}

/// Ask for `path` until the page passes `check` (another instance hears of a change through
/// `NOTIFY`: within moments, not on a timer); fails after 10 s, with the last page.
async fn eventually(browser: &Browser, path: &str, check: impl Fn(&Page) -> bool) -> Page {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let page = browser.get(path).await;
        if check(&page) {
            return page;
        }
        assert!(Instant::now() < deadline, "never changed: {}", page.html);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

both_backends! {
    async fn a_browsing_visitors_session_is_read_from_memory_and_every_write_is_seen(app) {
        let visitor = app.browser();
        visitor.set_currency("EUR").await;
        visitor.add_to_cart(1, 2).await;
        assert!(visitor.get("/").await.contains("value=\"EUR\" selected"));
        delete_sessions_behind_the_shops_back(&app).await;
        // Still there: served from memory, not read from the database.
        let page = visitor.get("/products/ceramic-mug").await;
        assert!(page.contains("value=\"EUR\" selected") && page.contains("(2)"), "{}", page.html);
        assert!(visitor.cart().await.contains("€31.98"));

        // A write through the shop goes to the database and is read back from there.
        let other = app.browser();
        other.set_currency("JPY").await;
        assert!(other.get("/").await.contains("value=\"JPY\" selected"));
        other.set_currency("CNY").await;
        let page = other.get("/").await;
        assert!(page.contains("value=\"CNY\" selected") && !page.contains("value=\"JPY\" selected"));
        other.add_to_cart(2, 1).await;
        assert!(other.get("/").await.contains("(1)"));
        assert!(other.cart().await.contains("CN¥"));
    }

    async fn a_guests_cart_page_is_cached_for_its_cart_and_dropped_on_a_change(app) {
        let shopper = app.browser();
        shopper.add_to_cart(2, 2).await;
        assert_eq!(shopper.cart().await.cart_total().as_deref(), Some("$28.00"));
        // Behind the shop's back: the cached page (and prices) stay.
        app.exec("UPDATE product_prices SET amount_minor = 1111 WHERE product_id = 2 AND currency = 'USD'").await;
        assert_eq!(shopper.cart().await.cart_total().as_deref(), Some("$28.00"));
        // The shopper's own change is a new cart, rendered anew; its prices still come from the
        // price cache, since nobody told the shop the catalogue changed.
        shopper.update_line(2, "3").await;
        let page = shopper.cart().await;
        assert_eq!((page.line_quantity(2), page.cart_total().as_deref()), (Some(3), Some("$42.00")));
        // Told (as every change through the shop tells it), the cart is priced from the database.
        app.state.events.catalogue_changed();
        assert_eq!(shopper.cart().await.cart_total().as_deref(), Some("$33.33"));
        // Another shopper with the same cart gets their own page, never this one's header.
        let other = app.browser();
        other.set_currency("EUR").await;
        other.add_to_cart(2, 3).await;
        let page = other.cart().await;
        assert!(page.contains("value=\"EUR\" selected") && !page.contains("$33.33"), "{}", page.html);
        assert_eq!(page.line_quantity(2), Some(3));
    }

    async fn a_customers_account_and_saved_cart_are_read_from_memory_and_every_write_is_seen(app) {
        let customer = app.browser();
        customer.register("cart-cache@example.com", "a long enough password").await.unwrap();
        customer.add_to_cart(1, 1).await;
        assert_eq!(customer.cart().await.cart_total().as_deref(), Some("$18.00"));
        // Behind the shop's back: the account and the saved cart are served from memory.
        app.exec("UPDATE cart_items SET quantity = 2").await;
        app.exec("UPDATE users SET email = 'renamed@example.com' WHERE email = 'cart-cache@example.com'").await;
        let page = customer.cart().await;
        assert_eq!(page.line_quantity(1), Some(1), "{}", page.html);
        assert!(page.contains("cart-cache@example.com") && page.contains("(1)"), "{}", page.html);
        // The customer's own change is written and read back from the database.
        customer.update_line(1, "3").await;
        let page = customer.cart().await;
        assert_eq!((page.line_quantity(1), page.cart_total().as_deref()), (Some(3), Some("$54.00")));
        assert!(customer.get("/").await.contains("(3)"));
        customer.add_to_cart(2, 1).await;
        assert_eq!(customer.cart().await.cart_total().as_deref(), Some("$68.00"));
        // A catalogue change (deleting a product takes its cart lines along) reads the cart again.
        app.exec("UPDATE cart_items SET quantity = 4 WHERE product_id = 1").await;
        app.state.events.catalogue_changed();
        assert_eq!(customer.cart().await.line_quantity(1), Some(4));
        // Logging in merges a guest's cart into the saved one: seen at once.
        customer.submit("/", "/api/logout", &[]).await;
        customer.add_to_cart(3, 1).await;
        customer.log_in("renamed@example.com", "a long enough password").await.unwrap();
        let page = customer.cart().await;
        assert_eq!(
            (page.line_quantity(1), page.line_quantity(2), page.line_quantity(3)),
            (Some(4), Some(1), Some(1)),
            "{}",
            page.html
        );
        // The shop never changes an account's email, so the kept row is still the one shown.
        assert!(page.contains("cart-cache@example.com"), "{}", page.html);
        // Checkout empties the saved cart: the header and the cart page say so at once.
        customer.pay("stripe").await;
        assert!(customer.get("/").await.contains("cart-count\">(0)"));
        assert_eq!(customer.cart().await.line_quantity(1), None);
    }

    async fn logging_out_ends_the_kept_session_at_once(app) {
        let customer = app.browser();
        customer.register("kept@example.com", "a long enough password").await.unwrap();
        assert!(customer.get("/").await.contains("kept@example.com"));
        let stolen = customer.cookies();
        customer.submit("/", "/api/logout", &[]).await;
        let page = app.browser().get_with_cookie("/", &stolen).await;
        assert!(!page.contains("kept@example.com"), "{}", page.html);
    }
}

/// Two instances behind a load balancer on PostgreSQL: a visitor's writes on one are seen on the
/// other, which had the session in memory.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_instances_session_writes_are_seen_on_postgres() {
    let a = spawn_app(Backend::Postgres).await;
    let b = a.another_instance().await;
    let on_a = a.browser();
    let on_b = on_a.at(&b);
    on_a.set_currency("EUR").await;
    assert!(on_b.get("/").await.contains("value=\"EUR\" selected"));
    // B keeps it in memory now.
    assert!(on_b.get("/products/ceramic-mug").await.contains("€"));

    on_a.set_currency("JPY").await;
    eventually(&on_b, "/", |page| page.contains("value=\"JPY\" selected")).await;

    on_a.add_to_cart(2, 3).await;
    eventually(&on_b, "/", |page| page.contains("(3)")).await;
    let cart = eventually(&on_b, "/cart", |page| page.line_quantity(2) == Some(3)).await;
    assert!(cart.contains("¥"), "{}", cart.html);

    // Logged in on A, seen on B; logged out on A, and the old cookie is nobody on B.
    on_a.register("two-instances@example.com", "a long enough password")
        .await
        .unwrap();
    eventually(&on_b, "/", |page| {
        page.contains("two-instances@example.com")
    })
    .await;
    // The customer's saved cart: filled on A, seen on B, which keeps it; emptied by a checkout on
    // A, seen empty on B.
    on_a.add_to_cart(1, 2).await;
    eventually(&on_b, "/cart", |page| page.line_quantity(1) == Some(2)).await;
    on_b.update_line(1, "1").await;
    eventually(&on_a, "/cart", |page| page.line_quantity(1) == Some(1)).await;
    assert_eq!(on_b.cart().await.line_quantity(1), Some(1));
    on_a.pay("stripe").await;
    eventually(&on_b, "/", |page| page.contains("cart-count\">(0)")).await;
    eventually(&on_b, "/cart", |page| page.line_quantity(1).is_none()).await;
    let old = on_a.cookies();
    on_a.submit("/", "/api/logout", &[]).await;
    let deadline = Instant::now() + Duration::from_secs(10);
    while b
        .browser()
        .get_with_cookie("/", &old)
        .await
        .contains("two-instances@example.com")
    {
        assert!(
            Instant::now() < deadline,
            "B still serves the ended session"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A price edited on one instance reaches a guest's cart page on the other, which had the page and
/// its prices in memory.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_instances_price_edit_reaches_the_cart_on_postgres() {
    let a = spawn_app(Backend::Postgres).await;
    let b = a.another_instance().await;
    let shopper = b.browser();
    shopper.add_to_cart(2, 2).await;
    assert_eq!(shopper.cart().await.cart_total().as_deref(), Some("$28.00"));
    assert_eq!(shopper.cart().await.cart_total().as_deref(), Some("$28.00"));
    assert_eq!(
        a.merchant()
            .await
            .edit_product(2, "15.50", 60, "active")
            .await
            .alert(),
        None
    );
    let cart = eventually(&shopper, "/cart", |page| {
        page.cart_total().as_deref() == Some("$31.00")
    })
    .await;
    assert!(
        cart.contains("The price of Ceramic Mug changed from $14.00 to $15.50."),
        "{}",
        cart.html
    );
}
