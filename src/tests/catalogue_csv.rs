//! The catalogue as CSV: export, a check (dry run) that lists each line's problem by
//! line number and changes nothing, then Import in one transaction; create or update by SKU.

use crate::helpers::{both_backends, Browser, Page, TestApp};
use reqwest::header::{CONTENT_TYPE, LOCATION};
use reqwest::multipart::{Form, Part};
use reqwest::StatusCode;
use sqlx::Row as _;

const HEADER: &str = "sku,name,slug,description,category,status,stock,price_usd,price_eur,price_bdt,price_cny,price_jpy,photos";

/// Send a CSV to the import form with `mode` (`check` or `import`); the import page after it.
async fn send(merchant: &Browser, csv: &str, mode: &str) -> Page {
    let form = Form::new()
        .part(
            "file",
            Part::bytes(csv.as_bytes().to_vec()).file_name("catalogue.csv"),
        )
        .text("mode", mode.to_string());
    let response = merchant
        .post_multipart(
            "/admin/products/import",
            "/admin/products/import/file",
            form,
        )
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(response.headers()[LOCATION], "/admin/products/import");
    merchant.get("/admin/products/import").await
}

async fn fingerprint(app: &TestApp) -> String {
    let rows = sqlx::query(
        "SELECT p.sku, p.name, p.slug, p.stock, p.active, COALESCE(p.category_id, 0) AS category, \
         (SELECT COUNT(*) FROM product_prices pp WHERE pp.product_id = p.id) AS prices \
         FROM products p ORDER BY p.id",
    )
    .fetch_all(&app.state.db.pool)
    .await
    .unwrap();
    let categories: i64 = sqlx::query("SELECT COUNT(*) FROM categories")
        .fetch_one(&app.state.db.pool)
        .await
        .unwrap()
        .get(0);
    let mut out = format!("categories {categories}\n");
    for r in rows {
        out.push_str(&format!(
            "{} {} {} {} {} {} {}\n",
            r.get::<String, _>(0),
            r.get::<String, _>(1),
            r.get::<String, _>(2),
            r.get::<i64, _>(3),
            r.get::<i64, _>(4),
            r.get::<i64, _>(5),
            r.get::<i64, _>(6)
        ));
    }
    out
}

both_backends! {
    async fn the_exported_catalogue_imports_back_unchanged(app) {
        let merchant = app.merchant().await;
        let response = merchant.client.get(format!("{}/admin/products.csv", app.base)).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers()[CONTENT_TYPE], "text/csv; charset=utf-8");
        let csv = response.text().await.unwrap();
        let mut lines = csv.lines();
        assert_eq!(lines.next(), Some(HEADER));
        assert_eq!(
            lines.next(),
            Some("CANVAS-TOTE,Canvas Tote Bag,canvas-tote,\"A sturdy cotton canvas tote with reinforced handles, roomy enough for a week of groceries.\",,on sale,40,18.00,15.99,2160.00,129.00,2700,")
        );
        assert_eq!(csv.lines().count(), 27);
        let before = fingerprint(&app).await;
        let page = send(&merchant, &csv, "import").await;
        assert!(page.contains("Imported “catalogue.csv”: 0 new, 26 updated."), "{}", page.html);
        assert_eq!(fingerprint(&app).await, before);
        // Only a merchant gets the file.
        assert_eq!(app.browser().get("/admin/products.csv").await.status, StatusCode::NOT_FOUND);
    }

    async fn a_checked_file_lists_every_bad_line_and_changes_nothing(app) {
        let merchant = app.merchant().await;
        let before = fingerprint(&app).await;
        let csv = format!("{HEADER}\n\
            NEW-1,Copper Kettle,,\"Boils fast.\",Kitchen,on sale,5,30.00,,,,,\n\
            NEW-2,Tin Cup,,,Kitchen,on sale,-3,4.00,,,,,\n\
            NEW-3,=HYPERLINK(\"http://evil.example\"),,,,on sale,1,4.00,,,,,\n\
            NEW-4,Clay Cup,canvas-tote,,,on sale,1,4.00,,,,,\n\
            NEW-5,Odd Cup,,,,on sale,1,,,,,,\n\
            NEW-1,Kettle Again,,,,on sale,1,1.00,,,,,\n\
            CERAMIC-MUG,Ceramic Mug,,,,sometimes,60,14.00,,,,,\n\
            NEW-6,Rice Bowl,,,,on sale,2,3.00,,,,,/media/0123456789abcdef0123-640.jpg\n");
        let page = send(&merchant, &csv, "check").await;
        let html = page.html.replace("&quot;", "\"").replace("&#x27;", "'");
        assert!(html.contains("“catalogue.csv” has 7 problems; nothing was changed."), "{html}");
        for (line, problem) in [
            (3, "SKU NEW-2: stock: Stock cannot be negative."),
            (4, "name: the cell starts like a spreadsheet formula (= + - @). Put a ' before it if it is meant as text."),
            (5, "SKU NEW-4: slug: another product (SKU CANVAS-TOTE) already has the slug canvas-tote."),
            (6, "SKU NEW-5: price_usd: Give a price in at least one currency"),
            (7, "SKU NEW-1 is on line 2 too."),
            (8, "SKU CERAMIC-MUG: status: Write on sale or hidden."),
            (9, "photos: /media/0123456789abcdef0123-640.jpg is not in this shop's media"),
        ] {
            let listed = regex_lite::Regex::new(&format!(
                r#"<th scope="row">{line}</th>\s*<td data-label="Problem">([^<]*)<"#
            ))
            .unwrap()
            .captures(&html)
            .map(|c| c[1].to_string())
            .unwrap_or_else(|| panic!("line {line} is not listed: {html}"));
            assert!(listed.starts_with(problem), "line {line}: {listed}");
        }
        assert!(!page.contains("Import these"), "no Import button for a file with problems");
        // Import now refuses it the same way: all or nothing.
        let page = send(&merchant, &csv, "import").await;
        assert!(page.contains("has 7 problems; nothing was changed."), "{}", page.html);
        assert_eq!(fingerprint(&app).await, before);
    }

    async fn the_merchants_list_comes_in_pages_and_finds_by_search(app) {
        let merchant = app.merchant().await;
        let mut csv = String::from("sku,name,stock,price_usd\n");
        for i in 1..=60 {
            csv.push_str(&format!("BULK-{i:02},Bulk Jar {i:02},3,2.00\n"));
        }
        let page = send(&merchant, &csv, "import").await;
        assert!(page.contains("60 new, 0 updated"), "{}", page.html);
        let rows = |page: &Page| page.html.matches("<th scope=\"row\">").count();
        let first = merchant.get("/admin/products").await;
        assert_eq!(rows(&first), 50);
        let next = first.capture(r#"href="([^"]+)" rel="next""#).expect("a Next page link");
        assert!(next.starts_with("/admin/products?after="), "{next}");
        let second = merchant.get(&next.replace("&amp;", "&")).await;
        assert_eq!(rows(&second), 36);
        assert!(second.contains("Bulk Jar 60") && !second.contains("Canvas Tote Bag"));
        let found = merchant.get("/admin/products?q=bulk-0").await;
        assert_eq!(rows(&found), 9, "SKUs BULK-01 … BULK-09");
        assert!(!found.contains(r#"rel="next""#));
        let none = merchant.get("/admin/products?q=nothing-like-this").await;
        assert!(none.contains("No products match “nothing-like-this”."), "{}", none.html);
    }

    async fn a_header_with_a_currency_the_shop_does_not_sell_is_refused(app) {
        let merchant = app.merchant().await;
        let before = fingerprint(&app).await;
        let page = send(&merchant, "sku,name,price_gbp,colour\nMUG-9,Mug,4.00,blue\n", "import").await;
        let html = page.html.replace("&quot;", "\"");
        assert!(html.contains("has 2 problems; nothing was changed."), "{html}");
        assert!(html.contains("The shop does not sell in GBP: price columns are price_usd, price_eur, price_bdt, price_cny, price_jpy."), "{html}");
        assert!(html.contains("Unknown column “colour”."), "{html}");
        // Not a CSV at all, and no file.
        let page = send(&merchant, "\u{0}\u{1}binary", "check").await;
        assert!(page.contains("has 1 problem") || page.contains("has 2 problems"), "{}", page.html);
        assert_eq!(fingerprint(&app).await, before);
    }

    async fn a_dry_run_then_import_creates_and_updates_by_sku(app) {
        let merchant = app.merchant().await;
        let csv = "sku,name,category,stock,price_usd,price_jpy,description\n\
            kettle-1,Copper Kettle,Kitchen,5,30.00,4500,\"- copper\n- 1.5 litres\"\n\
            CERAMIC-MUG,Ceramic Mug,kitchen,7,15.50,,\n\
            EQ-1,'=Equals Sign Mug,,1,2.00,,\n";
        let before = fingerprint(&app).await;
        let page = send(&merchant, csv, "check").await;
        assert!(page.contains("“catalogue.csv” is ready to import (3 products): 2 new, 1 updated; new categories: Kitchen. Nothing has changed yet."), "{}", page.html);
        assert_eq!(fingerprint(&app).await, before, "a check changes nothing");
        let token = page.capture(r#"name="token" value="([0-9a-f]+)""#).expect("the Import button's token");
        // Another merchant's session cannot use the token.
        let shopper = app.browser();
        assert_eq!(shopper.post_form("/", "/admin/products/import/confirm", &[("token", &token)]).await.status(), StatusCode::NOT_FOUND);
        let page = merchant.submit("/admin/products/import", "/admin/products/import/confirm", &[("token", &token)]).await;
        assert!(page.contains("Imported “catalogue.csv”: 2 new, 1 updated; new categories: Kitchen."), "{}", page.html);
        let kettle = sqlx::query("SELECT p.slug, p.stock, p.description, c.name FROM products p JOIN categories c ON c.id = p.category_id WHERE p.sku = 'KETTLE-1'")
            .fetch_one(&app.state.db.pool).await.unwrap();
        assert_eq!(kettle.get::<String, _>(0), "copper-kettle");
        assert_eq!(kettle.get::<i64, _>(1), 5);
        assert_eq!(kettle.get::<String, _>(2), "- copper\n- 1.5 litres");
        assert_eq!(kettle.get::<String, _>(3), "Kitchen");
        let mug = sqlx::query("SELECT p.stock, pp.amount_minor FROM products p JOIN product_prices pp ON pp.product_id = p.id AND pp.currency = 'USD' WHERE p.sku = 'CERAMIC-MUG'")
            .fetch_one(&app.state.db.pool).await.unwrap();
        assert_eq!((mug.get::<i64, _>(0), mug.get::<i64, _>(1)), (7, 1550));
        let eur: Option<i64> = sqlx::query_scalar("SELECT amount_minor FROM product_prices pp JOIN products p ON p.id = pp.product_id WHERE p.sku = 'CERAMIC-MUG' AND pp.currency = 'EUR'")
            .fetch_optional(&app.state.db.pool).await.unwrap();
        assert_eq!(eur, Some(1199), "a column left out keeps the product's value");
        let jpy: Option<i64> = sqlx::query_scalar("SELECT amount_minor FROM product_prices pp JOIN products p ON p.id = pp.product_id WHERE p.sku = 'CERAMIC-MUG' AND pp.currency = 'JPY'")
            .fetch_optional(&app.state.db.pool).await.unwrap();
        assert_eq!(jpy, None, "an empty price cell: not sold in that currency");
        let equals: String = sqlx::query_scalar("SELECT name FROM products WHERE sku = 'EQ-1'")
            .fetch_one(&app.state.db.pool).await.unwrap();
        assert_eq!(equals, "=Equals Sign Mug", "the ' before a formula-like value is taken off");
        // The token is used up.
        let page = merchant.submit("/admin/products/import", "/admin/products/import/confirm", &[("token", &token)]).await;
        assert!(page.contains("That checked file is no longer kept"), "{}", page.html);
        // Shoppers see the new product in its category, its description drawn.
        let shop = app.browser().get("/?category=kitchen").await;
        assert!(shop.contains("Copper Kettle") && shop.contains("Ceramic Mug"), "{}", shop.html);
        let product = app.browser().get("/products/copper-kettle").await;
        assert!(product.contains("<li>copper</li>"), "{}", product.html);
    }
}
