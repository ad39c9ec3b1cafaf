//! The merchant's catalogue: categories, New product and Edit with every
//! field but photos, a renamed product's old address, Remove (archive when it has orders).

use crate::helpers::{both_backends, Browser, Page};
use reqwest::header::LOCATION;
use reqwest::StatusCode;
use sqlx::Row as _;

/// The product form's fields, with `changes` over a complete valid product.
fn product_fields<'a>(changes: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut fields = vec![
        ("product_id", ""),
        ("name", "Enamel Camping Mug"),
        ("slug", ""),
        (
            "description",
            "Steel with a blue enamel coat.\n\nHolds 350 ml.",
        ),
        ("sku", "mug-enamel-01"),
        ("category", ""),
        ("price_usd", "12.50"),
        ("price_eur", ""),
        ("price_bdt", "1400"),
        ("price_cny", ""),
        ("price_jpy", ""),
        ("stock", "30"),
        ("status", "active"),
    ];
    for (name, value) in changes {
        let field = fields
            .iter_mut()
            .find(|(n, _)| n == name)
            .expect("a form field");
        field.1 = value;
    }
    fields
}

async fn save(merchant: &Browser, from: &str, fields: &[(&str, &str)]) -> (String, Page) {
    let response = merchant
        .post_form(from, "/api/admin/save_product", fields)
        .await;
    assert!(response.status().is_redirection(), "{}", response.status());
    let location = merchant.local(response.headers()[LOCATION].to_str().unwrap());
    let page = merchant.get(&location).await;
    (location, page)
}

/// The `<input>`, `<select>` or `<textarea>` tag of the field with this id.
fn tag(page: &Page, id: &str) -> String {
    page.capture(&format!(r#"(<(?:input|select|textarea) id="{id}"[^>]*>)"#))
        .unwrap_or_else(|| panic!("no field {id}: {}", page.html))
}

both_backends! {
    async fn a_merchant_adds_a_category_and_a_product_that_shoppers_can_buy(app) {
        let merchant = app.merchant().await;
        let page = merchant
            .submit("/admin/categories", "/api/admin/save_category", &[
                ("category_id", ""), ("name", "Camping & Outdoors"), ("slug", ""), ("position", "2"),
            ])
            .await;
        assert_eq!(page.status().as_deref(), Some("Saved the category Camping &amp; Outdoors."), "{}", page.html);
        assert!(page.contains(r#"value="camping-outdoors""#), "the slug is made from the name");
        let category: i64 = sqlx::query("SELECT id FROM categories WHERE slug = 'camping-outdoors'")
            .fetch_one(&app.state.db.pool).await.unwrap().try_get(0).unwrap();
        let category = category.to_string();

        let form = merchant.get("/admin/products/new").await;
        assert_eq!(form.status, StatusCode::OK);
        assert!(form.contains(">Camping &amp; Outdoors</option>"), "{}", form.html);
        let (location, page) = save(&merchant, "/admin/products/new", &product_fields(&[("category", &category)])).await;
        assert_eq!(location, "/admin/products");
        assert_eq!(page.status().as_deref(), Some("Added Enamel Camping Mug to the catalogue."), "{}", page.html);
        let stored = sqlx::query("SELECT slug, sku, category_id, stock, image FROM products WHERE name = 'Enamel Camping Mug'")
            .fetch_one(&app.state.db.pool).await.unwrap();
        assert_eq!(stored.try_get::<String, _>("slug").unwrap(), "enamel-camping-mug");
        assert_eq!(stored.try_get::<String, _>("sku").unwrap(), "MUG-ENAMEL-01");
        assert_eq!(stored.try_get::<Option<i64>, _>("category_id").unwrap(), category.parse().ok());
        assert_eq!(stored.try_get::<String, _>("image").unwrap(), "/images/no-photo.svg");

        // Shoppers find it in the currencies it has a price in, and buy it at that price.
        let shopper = app.browser();
        // Added last, it is on the catalogue's second page; a search finds it.
        assert!(shopper.get("/?q=enamel").await.contains("Enamel Camping Mug"));
        let product = shopper.get("/products/enamel-camping-mug").await;
        assert_eq!(product.status, StatusCode::OK);
        assert!(product.contains("$12.50") && product.contains("Holds 350 ml."), "{}", product.html);
        shopper.set_currency("EUR").await;
        assert!(!shopper.get("/?q=enamel").await.contains("Enamel Camping Mug"), "no EUR price, not sold in EUR");
        shopper.set_currency("BDT").await;
        assert!(shopper.get("/?q=enamel").await.contains("৳1,400.00"));
    }

    async fn shoppers_browse_a_category_and_search_by_name_description_or_sku(app) {
        let merchant = app.merchant().await;
        merchant.submit("/admin/categories", "/api/admin/save_category", &[
            ("category_id", ""), ("name", "Camping"), ("slug", ""), ("position", ""),
        ]).await;
        let category: i64 = sqlx::query("SELECT id FROM categories WHERE slug = 'camping'")
            .fetch_one(&app.state.db.pool).await.unwrap().try_get(0).unwrap();
        let category = category.to_string();
        save(&merchant, "/admin/products/new", &product_fields(&[("category", &category)])).await;
        let shopper = app.browser();
        let all = shopper.get("/").await;
        assert!(all.contains(r#"<nav aria-label="Categories""#) && all.contains(r#"href="/?category=camping""#), "{}", all.html);
        let camping = shopper.get("/?category=camping").await;
        assert_eq!(camping.status, StatusCode::OK);
        assert!(camping.contains("<h1>Camping</h1>"), "{}", camping.html);
        assert!(camping.contains("Enamel Camping Mug") && !camping.contains("Canvas Tote Bag"));
        assert_eq!(shopper.get("/?category=no-such").await.status, StatusCode::NOT_FOUND);
        // Search: the name, the description, the SKU, any case; % and _ are plain characters.
        for (q, found) in [("enamel camping", true), ("BLUE ENAMEL", true), ("mug-enamel", true), ("tote", false), ("100%", false)] {
            let page = shopper.get(&format!("/?q={}", q.replace(' ', "+").replace('%', "%25"))).await;
            assert_eq!(page.contains("Enamel Camping Mug"), found, "{q}: {}", page.html);
        }
        let tote = shopper.get("/?q=tote").await;
        assert!(tote.contains("Canvas Tote Bag") && tote.contains(r#"value="tote""#));
        let none = shopper.get("/?category=camping&q=tote").await;
        assert!(none.contains("No products match “tote”."), "{}", none.html);
    }

    async fn a_refused_product_form_says_what_is_wrong_by_each_field_and_saves_nothing(app) {
        let merchant = app.merchant().await;
        let before = app.product_count().await;
        let (location, page) = save(&merchant, "/admin/products/new", &product_fields(&[
            ("slug", "canvas-tote"), ("sku", "canvas-tote"), ("price_usd", "12.345"),
            ("price_eur", "0"), ("stock", "-4"),
        ])).await;
        assert!(location.starts_with("/admin/products/new?"), "{location}");
        assert_eq!(page.alert().as_deref(), Some("Please correct the 3 fields marked below."), "{}", page.html);
        for id in ["price_usd", "price_eur", "stock"] {
            assert!(tag(&page, id).contains(r#"aria-invalid="true""#), "{id}: {}", tag(&page, id));
        }
        assert!(page.contains("Stock cannot be negative."));
        assert!(page.contains("A price in EUR must be more than zero, or left empty."));
        assert!(tag(&page, "price_usd").contains("autofocus"), "the first wrong field takes the focus");
        assert!(tag(&page, "name").contains(r#"value="Enamel Camping Mug""#), "what was typed is kept");
        assert!(page.contains(">Steel with a blue enamel coat."), "{}", page.html);
        assert_eq!(app.product_count().await, before, "nothing saved");
        // The checks that need the database follow the form's own: a valid form with a taken slug
        // and SKU names both.
        let (_, page) = save(&merchant, "/admin/products/new", &product_fields(&[("slug", "canvas-tote"), ("sku", "Canvas-Tote")])).await;
        assert!(page.contains("Another product already has the slug canvas-tote."), "{}", page.html);
        assert!(tag(&page, "slug").contains(r#"aria-invalid="true""#));
        assert!(page.contains("Another product already has the SKU CANVAS-TOTE."));
        assert_eq!(app.product_count().await, before, "nothing saved");
    }

    async fn a_renamed_product_keeps_its_old_address(app) {
        let merchant = app.merchant().await;
        let edit = merchant.get("/admin/products/1/edit").await;
        assert!(tag(&edit, "slug").contains(r#"value="canvas-tote""#), "{}", edit.html);
        assert!(tag(&edit, "price_usd").contains(r#"value="18.00""#));
        let (_, page) = save(&merchant, "/admin/products/1/edit", &product_fields(&[
            ("product_id", "1"), ("name", "Canvas Tote Bag"), ("slug", "canvas-tote-bag"), ("sku", "CANVAS-TOTE"),
            ("price_usd", "18.00"),
        ])).await;
        assert_eq!(page.status().as_deref(), Some("Saved Canvas Tote Bag."), "{}", page.html);
        let shopper = app.browser();
        let response = shopper.client.get(format!("{}/products/canvas-tote", shopper.base)).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::MOVED_PERMANENTLY);
        assert_eq!(response.headers()[LOCATION], "/products/canvas-tote-bag");
        assert_eq!(shopper.get("/products/canvas-tote-bag").await.status, StatusCode::OK);
        assert_eq!(shopper.get("/products/no-such-thing").await.status, StatusCode::NOT_FOUND);
        // Renamed back: the first address is the page again, the second redirects.
        save(&merchant, "/admin/products/1/edit", &product_fields(&[
            ("product_id", "1"), ("name", "Canvas Tote Bag"), ("slug", "canvas-tote"), ("sku", "CANVAS-TOTE"),
        ])).await;
        assert_eq!(shopper.get("/products/canvas-tote").await.status, StatusCode::OK);
        let response = shopper.client.get(format!("{}/products/canvas-tote-bag", shopper.base)).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::MOVED_PERMANENTLY);
    }

    async fn remove_archives_a_product_with_orders_and_deletes_one_without(app) {
        let shopper = app.browser();
        shopper.add_to_cart(1, 1).await;
        shopper.pay("stripe").await;
        let merchant = app.merchant().await;
        let page = merchant.submit("/admin/products", "/api/admin/remove_product", &[("product_id", "1")]).await;
        assert!(page.status().is_some_and(|s| s.starts_with("Archived Canvas Tote Bag")), "{:?}", page.status());
        assert!(!page.contains("Price of Canvas Tote Bag"), "gone from the list");
        assert!(!app.browser().get("/").await.contains("Canvas Tote Bag"), "gone from the shop");
        assert_eq!(app.browser().get("/products/canvas-tote").await.status, StatusCode::NOT_FOUND);
        let order = shopper.get("/orders/ORD-000001").await;
        assert!(order.contains("1 × Canvas Tote Bag") && order.contains("$18.00"), "the order keeps its line");
        assert_eq!(merchant.get("/admin/products/1/edit").await.status, StatusCode::NOT_FOUND);
        let before = app.product_count().await;
        let page = merchant.submit("/admin/products", "/api/admin/remove_product", &[("product_id", "2")]).await;
        assert_eq!(page.status().as_deref(), Some("Deleted Ceramic Mug."));
        assert_eq!(app.product_count().await, before - 1);
    }

    async fn only_merchants_edit_the_catalogue(app) {
        let customer = app.browser();
        customer.register("buyer@example.com", "a-long-password-1").await.unwrap();
        let response = customer.post_form("/admin/products/new", "/api/admin/save_product", &product_fields(&[])).await;
        let page = customer.get(&customer.local(response.headers()[LOCATION].to_str().unwrap())).await;
        assert!(page.contains("You do not have permission to do that."), "{}", page.html);
        let before = app.product_count().await;
        customer.post_form("/admin/products", "/api/admin/remove_product", &[("product_id", "2")]).await;
        customer.post_form("/admin/categories", "/api/admin/save_category", &[("category_id", ""), ("name", "X"), ("slug", ""), ("position", "")]).await;
        assert_eq!(app.product_count().await, before);
        let categories: i64 = sqlx::query("SELECT COUNT(*) FROM categories").fetch_one(&app.state.db.pool).await.unwrap().try_get(0).unwrap();
        assert_eq!(categories, 0);
        assert!(app.browser().get("/admin/products/new").await.contains("Not allowed"));
    }
}
