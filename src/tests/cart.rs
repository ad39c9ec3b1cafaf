//! The cart over plain form posts: add, update, remove, limits, and re-pricing.

use crate::helpers::both_backends;
use reqwest::header::LOCATION;

// Seeded products used below: 1 Canvas Tote $18.00 (stock 40), 2 Ceramic Mug $14.00 (stock 60),
// 17 Soy Scented Candle $24.00 (stock 3), 21 1000-Piece Puzzle (stock 0).

both_backends! {
    async fn a_form_post_redirects_back_to_the_page_it_came_from(app) {
        let shopper = app.browser();
        let response = shopper
            .post_form("/products/canvas-tote", "/api/add_to_cart", &[("product_id", "1"), ("quantity", "2")])
            .await;
        assert_eq!(response.status(), 302);
        let location = shopper.local(response.headers()[LOCATION].to_str().unwrap());
        assert!(location.starts_with("/products/canvas-tote"), "{location}");
        assert!(!location.contains("__err"), "{location}");
        let cart = shopper.cart().await;
        assert_eq!(cart.line_quantity(1), Some(2));
        assert_eq!(cart.cart_total().as_deref(), Some("$36.00"));
        assert!(shopper.get("/").await.contains("<span class=\"cart-count\">(2)</span>"));
    }

    async fn add_two_products_change_a_quantity_and_total_is_right(app) {
        let shopper = app.browser();
        shopper.add_to_cart(1, 1).await;
        shopper.add_to_cart(2, 1).await;
        assert_eq!(shopper.cart().await.cart_total().as_deref(), Some("$32.00"));
        let cart = shopper.update_line(2, "3").await;
        assert_eq!(cart.alert(), None);
        assert_eq!(cart.line_quantity(2), Some(3));
        assert_eq!(cart.cart_total().as_deref(), Some("$60.00"));
        let cart = shopper.submit("/cart", "/api/remove_from_cart", &[("product_id", "1")]).await;
        assert_eq!(cart.line_quantity(1), None);
        assert_eq!(cart.cart_total().as_deref(), Some("$42.00"));
    }

    async fn bad_quantities_are_refused_on_the_page_and_change_nothing(app) {
        let shopper = app.browser();
        shopper.add_to_cart(2, 2).await;
        for (input, message) in [
            ("0", "Quantity must be at least 1."),
            ("100", "Quantity can be at most 99."),
            ("two", "Quantity must be a whole number from 1 to 99."),
        ] {
            let page = shopper.update_line(2, input).await;
            assert_eq!(page.status, 200);
            assert_eq!(page.alert().as_deref(), Some(message), "input {input:?}");
            assert_eq!(page.line_quantity(2), Some(2));
        }
        let page = shopper.update_line(1, "1").await;
        assert_eq!(page.alert().as_deref(), Some("That product is not in your cart."));
    }

    async fn unknown_and_unavailable_products_are_refused_clearly(app) {
        let shopper = app.browser();
        let page = shopper.add_to_cart(9999, 1).await;
        assert_eq!(page.status, 200);
        assert_eq!(page.alert().as_deref(), Some("That product is no longer available."));
        let page = shopper.submit("/", "/api/add_to_cart", &[("product_id", "abc"), ("quantity", "1")]).await;
        assert_eq!(page.alert().as_deref(), Some("Unknown product."));
        let page = shopper.add_to_cart(21, 1).await;
        assert_eq!(page.alert().as_deref(), Some("1000-Piece Puzzle is out of stock."));
        assert_eq!(shopper.cart().await.cart_total(), None, "cart still empty");
    }

    async fn quantities_never_exceed_stock(app) {
        let shopper = app.browser();
        let page = shopper.add_to_cart(17, 4).await;
        assert_eq!(page.alert().as_deref(), Some("Only 3 of Soy Scented Candle left in stock."));
        assert_eq!(shopper.add_to_cart(17, 2).await.alert(), None);
        let page = shopper.add_to_cart(17, 2).await;
        assert_eq!(
            page.alert().as_deref(),
            Some("Only 3 of Soy Scented Candle left in stock (you already have 2 in your cart).")
        );
        let page = shopper.update_line(17, "5").await;
        assert_eq!(page.alert().as_deref(), Some("Only 3 of Soy Scented Candle left in stock."));
        assert_eq!(page.line_quantity(17), Some(2));
    }

    async fn at_most_ninety_nine_of_one_product(app) {
        app.exec("UPDATE products SET stock = 500 WHERE id = 2").await;
        let shopper = app.browser();
        assert_eq!(shopper.add_to_cart(2, 99).await.alert(), None);
        let page = shopper.add_to_cart(2, 1).await;
        assert_eq!(page.alert().as_deref(), Some("You can have at most 99 of Ceramic Mug in your cart."));
        assert_eq!(shopper.cart().await.line_quantity(2), Some(99));
    }

    async fn the_cart_is_repriced_when_the_merchant_changes_a_price(app) {
        let shopper = app.browser();
        shopper.add_to_cart(2, 2).await;
        assert_eq!(shopper.cart().await.cart_total().as_deref(), Some("$28.00"));

        let merchant = app.merchant().await;
        assert_eq!(merchant.edit_product(2, "15.50", 60, "active").await.alert(), None);

        let cart = shopper.cart().await;
        assert_eq!(cart.cart_total().as_deref(), Some("$31.00"));
        assert!(cart.contains("The price of Ceramic Mug changed from $14.00 to $15.50."));
        // The notice is shown once.
        assert!(!shopper.cart().await.contains("changed from"));
    }

    async fn stock_falling_below_the_cart_lowers_the_quantity_with_a_notice(app) {
        let shopper = app.browser();
        shopper.add_to_cart(1, 5).await;
        app.exec_catalogue("UPDATE products SET stock = 2 WHERE id = 1").await;
        let cart = shopper.cart().await;
        assert_eq!(cart.line_quantity(1), Some(2));
        assert_eq!(cart.cart_total().as_deref(), Some("$36.00"));
        assert!(cart.contains("Only 2 of Canvas Tote Bag left in stock; we lowered the quantity in your cart."));

        app.exec_catalogue("UPDATE products SET active = 0 WHERE id = 1").await;
        let cart = shopper.cart().await;
        assert!(cart.contains("Canvas Tote Bag is no longer available and was removed from your cart."));
        assert!(cart.contains("Your cart is empty."));
    }

    async fn each_shopper_has_their_own_cart(app) {
        let alice = app.browser();
        let bob = app.browser();
        alice.add_to_cart(1, 1).await;
        bob.add_to_cart(2, 4).await;
        assert_eq!(alice.cart().await.cart_total().as_deref(), Some("$18.00"));
        assert_eq!(bob.cart().await.cart_total().as_deref(), Some("$56.00"));
    }

    async fn prices_follow_the_currency(app) {
        let shopper = app.browser();
        shopper.add_to_cart(1, 2).await;
        shopper.set_currency("JPY").await;
        assert_eq!(shopper.cart().await.cart_total().as_deref(), Some("¥5,400"));
        shopper.set_currency("CNY").await;
        assert_eq!(shopper.cart().await.cart_total().as_deref(), Some("CN¥258.00"));
    }
}
