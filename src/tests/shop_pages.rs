//! The shop as a person meets it: refused forms keep what was typed and say what is
//! wrong next to each field; a cancel at the provider reads as a cancel, with Resume payment and
//! Back to cart; Try again brings the checkout back filled in; a no-JavaScript Add to cart comes
//! back to the product with a note; the checkout names what the shopper pays with.

use crate::helpers::{both_backends, spawn_app_with, Backend, Page};
use crate::pay::{address, reference_in};
use reqwest::header::LOCATION;
use reqwest::StatusCode;

/// The `<input>` or `<select>` tag of the field with this id.
fn field_tag(page: &Page, id: &str) -> String {
    page.capture(&format!(r#"(<(?:input|select) id="{id}"[^>]*>)"#))
        .unwrap_or_else(|| panic!("no field {id}: {}", page.html))
}

/// The message shown under field `id`, if any.
fn field_message(page: &Page, id: &str) -> Option<String> {
    page.capture(&format!(
        r#"<span id="{id}-error" class="field-error">([^<]+)<"#
    ))
}

both_backends! {
    async fn a_refused_checkout_keeps_every_value_and_says_what_is_wrong_next_to_each_field(app) {
        let shopper = app.browser();
        shopper.add_to_cart(1, 1).await;
        let key = shopper.checkout_key().await;
        let response = shopper
            .post_form("/checkout", "/api/place_order", &[
                ("checkout_key", key.as_str()), ("email", "rahim@example"), ("name", "Rahim Uddin"),
                ("address", "House 12, Road 5"), ("city", "  "), ("postcode", "1207"),
                ("country", "Atlantis"), ("phone", "call me"), ("provider", "stripe"),
            ])
            .await;
        let location = shopper.local(response.headers()[LOCATION].to_str().unwrap());
        assert!(location.starts_with("/checkout?"), "{location}");
        let page = shopper.get(&location).await;
        assert_eq!(page.alert().as_deref(), Some("Please correct the 4 fields marked below."));
        // Every value typed is back in its field.
        assert!(field_tag(&page, "email").contains(r#"value="rahim@example""#), "{}", field_tag(&page, "email"));
        assert!(field_tag(&page, "name").contains(r#"value="Rahim Uddin""#));
        assert!(field_tag(&page, "address").contains(r#"value="House 12, Road 5""#));
        assert!(field_tag(&page, "postcode").contains(r#"value="1207""#));
        assert!(field_tag(&page, "phone").contains(r#"value="call me""#));
        let stripe = page.capture(r#"(<input type="radio"[^>]*id="provider-stripe"[^>]*>)"#).unwrap();
        assert!(stripe.contains("checked"), "the method chosen stays chosen: {stripe}");
        // Each wrong field is marked, points at its message, and the first one takes the focus.
        for id in ["email", "city", "country", "phone"] {
            let tag = field_tag(&page, id);
            assert!(tag.contains(r#"aria-invalid="true""#), "{id}: {tag}");
            assert!(tag.contains(&format!(r#"aria-describedby="{id}-error""#)), "{id}: {tag}");
            assert!(field_message(&page, id).is_some(), "{id} has no message");
        }
        assert!(field_tag(&page, "email").contains("autofocus"));
        assert!(!field_tag(&page, "city").contains("autofocus"));
        assert_eq!(field_message(&page, "city").as_deref(), Some("Please enter your city."));
        assert_eq!(field_message(&page, "country").as_deref(), Some("Please choose your country from the list."));
        for id in ["name", "address", "postcode"] {
            assert!(!field_tag(&page, id).contains("aria-invalid"), "{id}");
        }
        assert_eq!(app.order_count().await, 0, "nothing was placed");

        // The messages are shown once; the values stay for the next visit to the checkout.
        let again = shopper.get("/checkout").await;
        assert!(again.alert().is_none() && field_message(&again, "city").is_none());
        assert!(field_tag(&again, "name").contains(r#"value="Rahim Uddin""#));

        // Corrected, the same form pays.
        let mut fields = address();
        fields.extend([("provider", "stripe"), ("checkout_key", key.as_str())]);
        let response = shopper.post_form("/checkout", "/api/place_order", &fields).await;
        let location = response.headers()[LOCATION].to_str().unwrap();
        assert!(location.contains("/sandbox/stripe/"), "{location}");
    }

    async fn the_checkout_names_what_the_shopper_pays_with_and_the_amount_on_the_button(app) {
        let shopper = app.browser();
        shopper.add_to_cart(1, 1).await;
        let checkout = shopper.get("/checkout").await;
        let total = checkout.capture(r#"data-testid="checkout-total"[^>]*>([^<]+)<"#).unwrap();
        assert!(checkout.contains(&format!(">Pay {total}</button>")), "{}", checkout.html);
        // Every card processor is configured in sandbox mode and none preferred: each is named.
        for label in ["Card (Stripe)", "Card (Square)", "Card (Braintree)", "Card (Authorize.Net)", "PayPal"] {
            assert!(checkout.contains(&format!(">{label}</label>")), "{label}: {}", checkout.html);
        }
        // The country is a list, the summary sits beside the form.
        assert!(checkout.contains(r#"<option value="Bangladesh">Bangladesh</option>"#));
        assert!(checkout.contains(r#"class="checkout-summary""#));
        shopper.set_currency("BDT").await;
        let checkout = shopper.get("/checkout").await;
        assert!(checkout.contains(">SSLCOMMERZ: bKash, Nagad, cards</label>"), "{}", checkout.html);
    }

    async fn a_refused_log_in_keeps_the_email_and_marks_the_password(app) {
        app.browser().register("grace@example.com", "hopper-1906").await.unwrap();
        let shopper = app.browser();
        let page = shopper
            .submit("/login?next=/account/orders", "/api/login", &[
                ("email", "grace@example.com"), ("password", "wrong-password"), ("next", "/account/orders"),
            ])
            .await;
        assert_eq!(page.alert().as_deref(), Some("Email or password is incorrect."));
        assert!(field_tag(&page, "email").contains(r#"value="grace@example.com""#));
        let password = field_tag(&page, "password");
        assert!(password.contains(r#"aria-invalid="true""#) && password.contains("autofocus"), "{password}");
        assert!(!password.contains("value="), "a password is never sent back: {password}");
        assert!(!page.contains("wrong-password"));
        assert!(page.contains(r#"name="next" value="/account/orders""#), "where to go after is kept");
        // Registration: the email taken is marked, the email kept.
        let page = shopper
            .submit("/register", "/api/register", &[("email", "grace@example.com"), ("password", "another-pass-1")])
            .await;
        assert_eq!(field_message(&page, "email").as_deref(), Some("An account with this email already exists. Log in instead."));
        assert!(field_tag(&page, "email").contains(r#"value="grace@example.com""#));
        let page = shopper
            .submit("/register", "/api/register", &[("email", "new@example.com"), ("password", "short")])
            .await;
        assert_eq!(field_message(&page, "password").as_deref(), Some("Password must be at least 8 characters."));
        assert!(field_tag(&page, "password").contains(r#"aria-describedby="password-error password-hint""#));
        assert!(field_tag(&page, "email").contains(r#"value="new@example.com""#));
        assert!(!field_tag(&page, "email").contains("aria-invalid"));
    }

    async fn leaving_the_providers_page_offers_resume_payment_and_back_to_cart(app) {
        let shopper = app.browser();
        shopper.add_to_cart(1, 2).await;
        let stripe_page = shopper.pay("stripe").await;
        let back = shopper.on_stripe_page(&stripe_page, "cancel", "never").await;
        assert!(back.contains("/payments/stripe/cancel/"), "{back}");
        let page = shopper.follow(&back).await;
        let reference = reference_in(&back);
        assert!(page.contains("You left the payment page before paying. Nothing has been charged."), "{}", page.html);
        assert!(!page.contains(r#"http-equiv="refresh""#), "a page with choices does not reload itself");
        // Resume payment: the same attempt, back on the provider's page.
        let resume = page.capture(r#"<a [^>]*href="([^"]+)"[^>]*>Resume payment</a>"#).expect("Resume payment");
        let response = shopper.client.get(format!("{}{resume}", shopper.base)).send().await.unwrap();
        assert!(response.status().is_redirection(), "{}", response.status());
        assert_eq!(shopper.local(response.headers()[LOCATION].to_str().unwrap()), shopper.local(&stripe_page));
        // Another visitor cannot use it.
        let stranger = app.browser().client.get(format!("{}{resume}", shopper.base)).send().await.unwrap();
        assert_eq!(stranger.status(), StatusCode::NOT_FOUND);
        // Back to cart: the order is cancelled, its lines are back, the checkout is filled in.
        let cart = shopper
            .submit(&format!("/orders/{reference}?left=1"), "/api/back_to_cart", &[("reference", reference.as_str()), ("key", "")])
            .await;
        assert_eq!(cart.line_quantity(1), Some(2), "{}", cart.html);
        assert_eq!(app.status_of(&reference).await, "cancelled");
        // A second press (a double click) puts nothing back twice.
        let again = shopper
            .submit(&format!("/orders/{reference}?left=1"), "/api/back_to_cart", &[("reference", reference.as_str()), ("key", "")])
            .await;
        assert_eq!(again.line_quantity(1), Some(2), "{}", again.html);
        let checkout = shopper.get("/checkout").await;
        assert!(field_tag(&checkout, "name").contains(r#"value="Rahim Uddin""#));
        assert!(checkout.contains(r#"<option value="Bangladesh" selected>"#), "{}", checkout.html);
        // The order page no longer offers to resume.
        let page = shopper.get(&format!("/orders/{reference}?left=1")).await;
        assert!(!page.contains("Resume payment") && page.order_status().as_deref() == Some("Cancelled"));
    }

    async fn try_again_from_the_emailed_link_brings_the_cart_and_the_details_back(app) {
        let shopper = app.browser();
        shopper.add_to_cart(1, 1).await;
        let stripe_page = shopper.pay("stripe").await;
        let reference = reference_in(&shopper.on_stripe_page(&stripe_page, "decline", "normal").await);
        app.wait_for(&reference, "failed").await;
        let link = shopper
            .get(&format!("/orders/{reference}"))
            .await
            .capture(r#"href="[^"]*(/orders/[^"]+\?key=[0-9a-f]+)""#)
            .expect("the guest link");
        // Another device: only the link (as in the failed-payment email).
        let elsewhere = app.browser();
        let key = link.split("key=").nth(1).unwrap().to_string();
        let checkout = elsewhere
            .submit(&link, "/api/try_again", &[("reference", reference.as_str()), ("key", key.as_str())])
            .await;
        assert!(field_tag(&checkout, "email").contains(r#"value="shopper@example.com""#), "{}", checkout.html);
        assert!(field_tag(&checkout, "address").contains(r#"value="House 12, Road 5""#));
        assert!(field_tag(&checkout, "phone").contains(r#"value="+880 1700 000000""#));
        assert!(checkout.contains(r#"<option value="Bangladesh" selected>"#));
        assert_eq!(elsewhere.cart().await.line_quantity(1), Some(1));
        // Pressed twice: still the order's one.
        elsewhere
            .submit(&link, "/api/try_again", &[("reference", reference.as_str()), ("key", key.as_str())])
            .await;
        assert_eq!(elsewhere.cart().await.line_quantity(1), Some(1));
    }

    async fn a_plain_form_add_to_cart_comes_back_to_the_product_with_a_note(app) {
        let shopper = app.browser();
        let response = shopper
            .post_form("/", "/api/add_to_cart", &[("product_id", "1"), ("quantity", "1")])
            .await;
        let location = response.headers()[LOCATION].to_str().unwrap().to_string();
        assert_eq!(location, "/?added=1#product-1");
        let page = shopper.get(&location).await;
        let card = page
            .capture(r#"(?s)(<article id="product-1" class="product-card">.*?</article>)"#)
            .expect("the product's card");
        assert!(card.contains("to your cart.") && card.contains(r#"<a href="/cart">View cart</a>"#), "{card}");
        assert!(card.contains(r#"href="/checkout""#));
        // Only there, only once, and never in the page another visitor is served.
        assert_eq!(page.html.matches("View cart").count(), 1);
        assert!(!shopper.get(&location).await.contains("View cart"));
        assert!(!app.browser().get("/").await.contains("View cart"));
        // From a product page, back to that page.
        let slug = page.capture(r#"<article id="product-2" class="product-card"><a href="/products/([^"]+)""#).expect("slug");
        let response = shopper
            .post_form(&format!("/products/{slug}"), "/api/add_to_cart", &[("product_id", "2"), ("quantity", "2")])
            .await;
        let location = response.headers()[LOCATION].to_str().unwrap().to_string();
        assert_eq!(location, format!("/products/{slug}?added=2"));
        assert!(shopper.get(&location).await.contains("View cart"));
        assert_eq!(shopper.cart().await.line_quantity(2), Some(2));
    }
}

/// `CARD_PROVIDERS`: one "Card" choice, the first processor in the merchant's order that can take
/// the cart; the others are neither shown nor accepted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_merchant_chooses_which_processor_takes_cards() {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let app = spawn_app_with(backend, &[("CARD_PROVIDERS", "square, stripe")]).await;
        let shopper = app.browser();
        shopper.add_to_cart(1, 1).await;
        let checkout = shopper.get("/checkout").await;
        assert!(
            checkout.offers("square")
                && !checkout.offers("stripe")
                && !checkout.offers("braintree")
        );
        assert!(
            checkout.contains(">Card</label>") && !checkout.contains("Card ("),
            "{}",
            checkout.html
        );
        let key = shopper.checkout_key().await;
        let mut fields = address();
        fields.extend([("provider", "braintree"), ("checkout_key", key.as_str())]);
        let response = shopper
            .post_form("/checkout", "/api/place_order", &fields)
            .await;
        let page = shopper
            .get(&shopper.local(response.headers()[LOCATION].to_str().unwrap()))
            .await;
        assert!(
            page.alert()
                .is_some_and(|a| a.contains("Braintree cannot take")),
            "{:?}",
            page.alert()
        );
        // Square's location takes USD only: in euros, Stripe takes the cards.
        shopper.set_currency("EUR").await;
        let checkout = shopper.get("/checkout").await;
        assert!(checkout.offers("stripe") && !checkout.offers("square"));
        assert_eq!(app.order_count().await, 0);
    }
}
