//! Registration, log-in (rotation, throttling, same error), cart merge, log-out and roles.

use crate::helpers::{both_backends, ADMIN_EMAIL, ADMIN_PASSWORD};
use futures_util::future::join_all;

const WRONG: &str = "Email or password is incorrect.";
const LOCKED: &str = "Too many failed log-in attempts. Try again in 15 minutes.";

both_backends! {
    async fn register_logs_in_and_shows_the_account(app) {
        let shopper = app.browser();
        let page = shopper.register("Ada@Example.com", "lovelace-1815").await.unwrap();
        assert!(page.contains("Logged in as <strong>ada@example.com</strong>"), "{}", page.html);
        assert!(page.contains(">Log out</button>"));
        let page = app.browser().register("ada@example.com", "another-pass").await.unwrap_err();
        assert_eq!(page, "An account with this email already exists. Log in instead.");
    }

    async fn registration_explains_bad_input(app) {
        let shopper = app.browser();
        assert_eq!(
            shopper.register("not-an-email", "long enough pw").await.unwrap_err(),
            "Enter an email address like name@example.com."
        );
        assert_eq!(
            shopper.register("bo@example.com", "short").await.unwrap_err(),
            "Password must be at least 8 characters."
        );
        assert!(shopper.get("/account").await.contains("You are not logged in."));
    }

    async fn unknown_email_and_wrong_password_get_the_same_answer(app) {
        app.browser().register("grace@example.com", "hopper-1906").await.unwrap();
        let shopper = app.browser();
        let wrong_password = shopper.log_in("grace@example.com", "wrong-password").await.unwrap_err();
        let unknown_email = shopper.log_in("nobody@example.com", "hopper-1906").await.unwrap_err();
        assert_eq!(wrong_password, "Email or password is incorrect.");
        assert_eq!(unknown_email, wrong_password);
        let page = shopper.log_in("GRACE@example.com", "hopper-1906").await.unwrap();
        assert!(page.contains("Logged in as <strong>grace@example.com</strong>"));
    }

    async fn log_in_rotates_the_session_id(app) {
        app.browser().register("linus@example.com", "penguin-1991").await.unwrap();
        let shopper = app.browser();
        shopper.add_to_cart(1, 1).await;
        let before = shopper.cookies();
        assert!(before.contains("storefront_session="), "{before}");
        shopper.log_in("linus@example.com", "penguin-1991").await.unwrap();
        let after = shopper.cookies();
        assert_ne!(before, after, "session id must change on log-in");
        // The pre-login id no longer opens the account.
        let old = shopper.get_with_cookie("/account", &before).await;
        assert!(old.contains("You are not logged in."));
        assert!(shopper.get("/account").await.contains("linus@example.com"));
    }

    async fn the_guest_cart_merges_into_the_saved_cart_on_log_in(app) {
        let customer = app.browser();
        customer.register("merge@example.com", "merge-pass-1").await.unwrap();
        customer.add_to_cart(1, 2).await;
        customer.submit("/", "/api/logout", &[]).await;
        assert_eq!(customer.cart().await.cart_total(), None, "logged out: guest cart is empty");

        customer.add_to_cart(1, 1).await;
        customer.add_to_cart(2, 1).await;
        customer.log_in("merge@example.com", "merge-pass-1").await.unwrap();
        let cart = customer.cart().await;
        assert_eq!(cart.line_quantity(1), Some(3));
        assert_eq!(cart.line_quantity(2), Some(1));
        assert_eq!(cart.cart_total().as_deref(), Some("$68.00"));

        // The saved cart follows the account to another browser.
        let elsewhere = app.browser();
        elsewhere.log_in("merge@example.com", "merge-pass-1").await.unwrap();
        assert_eq!(elsewhere.cart().await.cart_total().as_deref(), Some("$68.00"));
    }

    async fn merging_respects_stock(app) {
        let customer = app.browser();
        customer.register("stock@example.com", "stock-pass-1").await.unwrap();
        customer.add_to_cart(17, 2).await;
        customer.submit("/", "/api/logout", &[]).await;
        customer.add_to_cart(17, 3).await;
        customer.log_in("stock@example.com", "stock-pass-1").await.unwrap();
        assert_eq!(customer.cart().await.line_quantity(17), Some(3));
    }

    async fn repeated_failures_are_refused_for_a_while(app) {
        app.browser().register("target@example.com", "right-password").await.unwrap();
        let attacker = app.browser();
        for _ in 0..5 {
            let e = attacker.log_in("target@example.com", "guess-guess").await.unwrap_err();
            assert_eq!(e, "Email or password is incorrect.");
        }
        let refused = attacker.log_in("target@example.com", "right-password").await.unwrap_err();
        assert_eq!(refused, "Too many failed log-in attempts. Try again in 15 minutes.");
        // Another account is not locked by it.
        app.browser().register("other@example.com", "other-password").await.unwrap();
        assert!(app.browser().log_in("other@example.com", "other-password").await.is_ok());
    }

    async fn log_out_ends_the_session(app) {
        let shopper = app.browser();
        shopper.register("bye@example.com", "goodbye-pass").await.unwrap();
        let cookie = shopper.cookies();
        let page = shopper.submit("/account", "/api/logout", &[]).await;
        assert!(page.contains(">Log in</a>"));
        assert!(shopper.get("/account").await.contains("You are not logged in."));
        assert!(shopper.get_with_cookie("/account", &cookie).await.contains("You are not logged in."));
    }

    async fn only_merchants_manage_products(app) {
        let guest = app.browser();
        let page = guest.get("/admin/products").await;
        assert!(page.contains("with a merchant account"));
        let page = guest.edit_product(1, "1.00", 5, "active").await;
        assert_eq!(page.alert().as_deref(), Some("Please log in first."));

        let customer = app.browser();
        customer.register("cust@example.com", "customer-pass").await.unwrap();
        let page = customer.edit_product(1, "1.00", 5, "active").await;
        assert_eq!(page.alert().as_deref(), Some("You do not have permission to do that."));
        let page = customer.submit("/admin/products", "/api/admin/notice", &[("page", "/admin/products")]).await;
        assert_eq!(page.alert().as_deref(), Some("You do not have permission to do that."), "merchants' notices are theirs");
        assert!(customer.get("/").await.contains("$18.00"), "price unchanged");

        let merchant = app.browser();
        let page = merchant.log_in(ADMIN_EMAIL, ADMIN_PASSWORD).await.unwrap();
        assert!(page.contains("(merchant)"));
        let page = merchant.get("/admin/products").await;
        assert!(page.contains("aria-label=\"Price of Canvas Tote Bag\""));
        let page = merchant.edit_product(1, "19.99", 40, "active").await;
        assert_eq!(page.alert(), None);
        assert_eq!(page.status().as_deref(), Some("Saved Canvas Tote Bag: $19.99, 40 in stock, on sale."), "{}", page.html);
        assert!(app.browser().get("/").await.contains("$19.99"));
        let page = merchant.edit_product(1, "19.999", 40, "active").await;
        assert_eq!(page.alert().as_deref(), Some("USD amounts have at most 2 digits after the decimal point."));
        assert_eq!(page.status(), None, "a refused save says nothing was saved");
    }

    async fn parallel_guesses_never_pass_the_limit(app) {
        app.browser().register("victim@example.com", "the-right-one").await.unwrap();
        let attackers: Vec<_> = (0..40).map(|_| app.browser()).collect();
        let answers = join_all(
            attackers.iter().map(|a| a.log_in("victim@example.com", "a-wrong-guess")),
        )
        .await;
        let checked = answers.iter().filter(|a| a.as_ref().err().map(String::as_str) == Some(WRONG)).count();
        let refused = answers.iter().filter(|a| a.as_ref().err().map(String::as_str) == Some(LOCKED)).count();
        assert!(checked <= 5, "{checked} of 40 parallel guesses were checked: {answers:?}");
        assert_eq!(checked + refused, 40, "{answers:?}");
        // Now even the right password waits for the window to pass.
        let owner = app.browser();
        assert_eq!(owner.log_in("victim@example.com", "the-right-one").await.unwrap_err(), LOCKED);
        // However many arrive, argon2 runs only a few at a time.
        let peak = app::server::auth::password::peak_concurrency();
        assert!(peak <= app::server::auth::password::permits(), "{peak} hashes at once");
    }

    async fn a_success_within_the_limit_clears_the_count(app) {
        app.browser().register("forgetful@example.com", "finally-right").await.unwrap();
        let shopper = app.browser();
        for _ in 0..4 {
            assert_eq!(shopper.log_in("forgetful@example.com", "not-this-one").await.unwrap_err(), WRONG);
        }
        shopper.log_in("forgetful@example.com", "finally-right").await.unwrap();
        for _ in 0..5 {
            assert_eq!(app.browser().log_in("forgetful@example.com", "wrong-again").await.unwrap_err(), WRONG);
        }
        assert_eq!(app.browser().log_in("forgetful@example.com", "finally-right").await.unwrap_err(), LOCKED);
    }

    async fn registration_is_limited_per_address(app) {
        let shoppers: Vec<_> = (0..16).map(|_| app.browser()).collect();
        let answers = join_all(shoppers.iter().enumerate().map(|(i, s)| async move {
            s.register(&format!("new{i}@example.com"), "a-fine-password").await
        }))
        .await;
        let created = answers.iter().filter(|a| a.is_ok()).count();
        let refused: Vec<_> = answers.iter().filter_map(|a| a.as_ref().err()).collect();
        assert_eq!(created, 10, "{refused:?}");
        for message in &refused {
            assert_eq!(
                message.as_str(),
                "Too many accounts were created from your address. Try again in 60 minutes."
            );
        }
        let late = app.browser().register("late@example.com", "a-fine-password").await.unwrap_err();
        assert!(late.starts_with("Too many accounts were created"), "{late}");
        // Logging in is not limited by it.
        let made = answers.iter().position(|a| a.is_ok()).unwrap();
        assert!(app.browser().log_in(&format!("new{made}@example.com"), "a-fine-password").await.is_ok());
    }

    async fn admin_email_never_promotes_a_logged_in_customer(app) {
        // Someone registered the address before the operator named it in ADMIN_EMAIL.
        let squatter = app.browser();
        squatter.register("boss@example.com", "squatter-pass").await.unwrap();
        let bystander = app.browser();
        bystander.register("bystander@example.com", "bystander-pass").await.unwrap();
        assert!(squatter.get("/account").await.contains("boss@example.com"));

        let restarted = app
            .another_instance_with(&[("ADMIN_EMAIL", "boss@example.com"), ("ADMIN_PASSWORD", "operator-pass-1")])
            .await;

        // The squatter's session is gone on every instance and never reaches merchant pages.
        for shop in [&app, &restarted] {
            let cookie = squatter.cookies();
            let page = shop.browser().get_with_cookie("/account", &cookie).await;
            assert!(page.contains("You are not logged in."), "{}", page.html);
            let page = shop.browser().get_with_cookie("/admin/products", &cookie).await;
            assert!(!page.contains("Price of Canvas Tote Bag"));
        }
        assert_eq!(squatter.log_in("boss@example.com", "squatter-pass").await.unwrap_err(), WRONG);
        // Other accounts keep their sessions; the operator logs in as merchant.
        assert!(bystander.get("/account").await.contains("bystander@example.com"));
        let operator = restarted.browser();
        let page = operator.log_in("boss@example.com", "operator-pass-1").await.unwrap();
        assert!(page.contains("(merchant)"), "{}", page.html);
        // So on the first instance, which had the account in memory as a customer's (told
        // through NOTIFY on PostgreSQL: within moments).
        let operator = app.browser();
        operator.log_in("boss@example.com", "operator-pass-1").await.unwrap();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            let page = operator.get("/account").await;
            if page.contains("(merchant)") {
                break;
            }
            assert!(std::time::Instant::now() < deadline, "{}", page.html);
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }
}
