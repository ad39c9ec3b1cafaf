//! Product photos: upload (checked, decoded, re-encoded in a few widths, metadata and
//! appended bytes gone), served with a year's immutable caching, shown on the card and the product
//! page with `srcset` and alt text, ordered and removed; refusals say why and change nothing. And
//! the descriptions' safe Markdown, and the catalogue's pages.

use crate::helpers::{both_backends, Browser, Page, TestApp};
use image::{DynamicImage, ImageFormat, Rgb, RgbImage};
use reqwest::header::{CACHE_CONTROL, LOCATION};
use reqwest::multipart::{Form, Part};
use reqwest::StatusCode;
use sqlx::Row as _;
use std::io::Cursor;

/// Canvas Tote Bag, a demo product.
const TOTE: i64 = 1;

fn photo(width: u32, height: u32, format: ImageFormat) -> Vec<u8> {
    let image = DynamicImage::ImageRgb8(RgbImage::from_fn(width, height, |x, y| {
        Rgb([(x * 7 % 256) as u8, (y * 3 % 256) as u8, 90])
    }));
    let mut bytes = Vec::new();
    image
        .write_to(&mut Cursor::new(&mut bytes), format)
        .unwrap();
    bytes
}

async fn upload(
    merchant: &Browser,
    product: i64,
    file_name: &str,
    bytes: Vec<u8>,
    alt: &str,
) -> Page {
    let form = Form::new()
        .part("photo", Part::bytes(bytes).file_name(file_name.to_string()))
        .text("alt", alt.to_string());
    let edit = format!("/admin/products/{product}/edit");
    let response = merchant
        .post_multipart(&edit, &format!("/admin/products/{product}/photos"), form)
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let location = response.headers()[LOCATION].to_str().unwrap().to_string();
    assert_eq!(location, format!("/admin/products/{product}/edit#photos"));
    merchant.get(&edit).await
}

async fn photo_rows(app: &TestApp, product: i64) -> Vec<(i64, String, String, String)> {
    sqlx::query("SELECT id, name, widths, alt FROM product_photos WHERE product_id = $1 ORDER BY position, id")
        .bind(product)
        .fetch_all(&app.state.db.pool)
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
        .collect()
}

both_backends! {
    async fn a_merchant_adds_photos_that_shoppers_see_on_the_card_and_the_product_page(app) {
        let merchant = app.merchant().await;
        // A JPEG with something appended after its end: the stored files carry none of it.
        let mut jpeg = photo(1600, 1200, ImageFormat::Jpeg);
        jpeg.extend_from_slice(b"<?php system($_GET['c']); ?>");
        let page = upload(&merchant, TOTE, "tote.jpg", jpeg, "A canvas tote on a hook").await;
        assert_eq!(page.status().as_deref(), Some("Added the photo (1280 × 960)."), "{}", page.html);
        let page = upload(&merchant, TOTE, "tote-back.webp", photo(500, 400, ImageFormat::WebP), "The tote's back with its pocket").await;
        assert_eq!(page.status().as_deref(), Some("Added the photo (500 × 400)."));
        let rows = photo_rows(&app, TOTE).await;
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].2, "320 640 1280");
        assert_eq!(rows[1].2, "320 500");

        // The files: content-hashed names, a year's immutable caching, no payload.
        let first = format!("/media/{}-640.jpg", rows[0].1);
        let response = app.browser().client.get(format!("{}{first}", app.base)).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers()[CACHE_CONTROL], "public, max-age=31536000, immutable");
        assert_eq!(response.headers()["content-type"], "image/jpeg");
        let bytes = response.bytes().await.unwrap();
        assert!(!bytes.windows(5).any(|w| w == b"<?php"));
        let decoded = image::load_from_memory(&bytes).unwrap();
        assert_eq!((decoded.width(), decoded.height()), (640, 480));
        assert_eq!(app.browser().get("/media/nothing-here.jpg").await.status, StatusCode::NOT_FOUND);

        // The card shows the first photo in every width; the product page every photo with its alt.
        let shopper = app.browser();
        let shop = shopper.get("/").await;
        let srcset = format!("/media/{0}-320.jpg 320w, /media/{0}-640.jpg 640w, /media/{0}-1280.jpg 1280w", rows[0].1);
        assert!(shop.contains(&format!(r#"src="{first}""#)) && shop.contains(&srcset), "{}", shop.html);
        let product = shopper.get("/products/canvas-tote").await;
        assert!(product.contains(r#"alt="A canvas tote on a hook""#), "{}", product.html);
        assert!(product.contains(r#"alt="The tote&#x27;s back with its pocket""#) || product.contains(r#"alt="The tote's back with its pocket""#), "{}", product.html);

        // Move the second first: it becomes the card image.
        let edit = format!("/admin/products/{TOTE}/edit");
        let second = rows[1].0.to_string();
        let page = merchant.submit(&edit, "/api/admin/photo", &[
            ("product_id", "1"), ("photo_id", &second), ("action", "up"), ("alt", ""),
        ]).await;
        assert!(
            page.html.replace("&#x27;", "'").contains("Moved the photo first: it is the product's card image now."),
            "{}",
            page.html
        );
        assert_eq!(photo_rows(&app, TOTE).await[0].0, rows[1].0);
        assert!(shopper.get("/").await.contains(&format!(r#"src="/media/{}-500.jpg""#, rows[1].1)));

        // An empty alt text is refused next to its field; a new one is kept.
        let page = merchant.submit(&edit, "/api/admin/photo", &[
            ("product_id", "1"), ("photo_id", &second), ("action", "alt"), ("alt", "  "),
        ]).await;
        assert!(page.contains("Describe the photo for shoppers who cannot see it"), "{}", page.html);
        merchant.submit(&edit, "/api/admin/photo", &[
            ("product_id", "1"), ("photo_id", &second), ("action", "alt"), ("alt", "Back pocket"),
        ]).await;
        assert_eq!(photo_rows(&app, TOTE).await[0].3, "Back pocket");

        // Remove: the row and its files go.
        let page = merchant.submit(&edit, "/api/admin/photo", &[
            ("product_id", "1"), ("photo_id", &second), ("action", "remove"), ("alt", ""),
        ]).await;
        assert_eq!(page.status().as_deref(), Some("Removed the photo."));
        assert_eq!(photo_rows(&app, TOTE).await.len(), 1);
        assert_eq!(app.browser().get(&format!("/media/{}-500.jpg", rows[1].1)).await.status, StatusCode::NOT_FOUND);
        // Another product's photo id cannot be touched from this product.
        merchant.post_form("/admin/products/2/edit", "/api/admin/photo", &[
            ("product_id", "2"), ("photo_id", &rows[0].0.to_string()), ("action", "remove"), ("alt", ""),
        ]).await;
        assert_eq!(photo_rows(&app, TOTE).await.len(), 1);
    }

    async fn uploads_that_are_not_what_they_claim_or_too_big_are_refused_and_change_nothing(app) {
        let merchant = app.merchant().await;
        let png = photo(40, 30, ImageFormat::Png);
        let cases: Vec<(&str, Vec<u8>, &str, &str)> = vec![
            ("photo.jpg", png.clone(), "x", "“photo.jpg” is named as a JPEG photo but holds a PNG image."),
            ("notes.png", b"GIF89a not really".to_vec(), "x", "“notes.png” is named as a PNG photo but holds something else."),
            ("photo.gif", png.clone(), "x", "“photo.gif” is not a JPEG, PNG or WebP photo."),
            ("photo.png", png.clone(), " ", "Describe the photo for shoppers who cannot see it (alt text)."),
            ("cut.png", png[..png.len() / 2].to_vec(), "x", "“cut.png” could not be read as a PNG photo; it may be damaged."),
            ("big.jpg", vec![0xFF; 10 * 1024 * 1024 + 1], "x", "“big.jpg” is larger than 10 MB. Save it smaller and upload it again."),
            // Past the request's own limit: the upload is cut off, with the same message.
            ("huge.jpg", vec![0xFF; 12 * 1024 * 1024], "x", "“huge.jpg” is larger than 10 MB. Save it smaller and upload it again."),
        ];
        for (name, bytes, alt, message) in cases {
            let page = upload(&merchant, TOTE, name, bytes, alt).await;
            let shown = page.html.replace("&quot;", "\"");
            assert!(shown.contains(message), "{name}: {}", page.html);
            assert!(page.contains(r#"aria-invalid="true""#), "{name}: the field is marked");
        }
        assert!(photo_rows(&app, TOTE).await.is_empty());
        let files = std::fs::read_dir(&app.state.settings.catalogue.media_dir).map(|d| d.count()).unwrap_or(0);
        assert_eq!(files, 0, "no file was written");

        // Only a merchant can upload, and only from the shop's own pages.
        let form = || Form::new()
            .part("photo", Part::bytes(photo(40, 30, ImageFormat::Png)).file_name("a.png"))
            .text("alt", "a");
        let shopper = app.browser();
        let response = shopper.post_multipart("/", "/admin/products/1/photos", form()).await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
        let response = merchant
            .client
            .post(format!("{}/admin/products/1/photos", app.base))
            .header("origin", "https://evil.example")
            .multipart(form())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::FORBIDDEN);
        let response = merchant.post_multipart("/", "/admin/products/999/photos", form()).await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
        assert!(photo_rows(&app, TOTE).await.is_empty());
    }

    async fn a_csv_gives_a_photo_to_another_product_and_its_files_stay_while_in_use(app) {
        let merchant = app.merchant().await;
        upload(&merchant, TOTE, "tote.png", photo(700, 500, ImageFormat::Png), "Tote").await;
        let csv = merchant.client.get(format!("{}/admin/products.csv", app.base)).send().await.unwrap().text().await.unwrap();
        let tote = csv.lines().find(|l| l.starts_with("CANVAS-TOTE,")).unwrap();
        let reference = tote.rsplit(',').next().unwrap().to_string();
        let name = photo_rows(&app, TOTE).await[0].1.clone();
        assert_eq!(reference, format!("/media/{name}-700.jpg"));
        // The mug gets the same photo by the export's reference (its origin may be written too).
        let file = format!("sku,photos\nCERAMIC-MUG,http://shop.example.test{reference}\n");
        let form = Form::new()
            .part("file", Part::bytes(file.into_bytes()).file_name("photos.csv"))
            .text("mode", "import");
        merchant.post_multipart("/admin/products/import", "/admin/products/import/file", form).await;
        let page = merchant.get("/admin/products/import").await;
        assert!(page.contains("Imported “photos.csv”: 0 new, 1 updated."), "{}", page.html);
        let mug = photo_rows(&app, 2).await;
        assert_eq!(mug.len(), 1);
        assert_eq!((mug[0].1.as_str(), mug[0].3.as_str()), (name.as_str(), "Ceramic Mug"), "alt: the product's name");
        // Removing it from the tote leaves the files the mug still shows.
        let tote_photo = photo_rows(&app, TOTE).await[0].0.to_string();
        merchant.submit("/admin/products/1/edit", "/api/admin/photo", &[
            ("product_id", "1"), ("photo_id", &tote_photo), ("action", "remove"), ("alt", ""),
        ]).await;
        assert_eq!(app.browser().get(&reference).await.status, StatusCode::OK);
        assert!(app.browser().get("/products/ceramic-mug").await.contains(&reference.replace("-700", "-640")));
    }

    async fn descriptions_draw_a_safe_markdown_subset(app) {
        sqlx::query("UPDATE products SET description = $1 WHERE id = 1")
            .bind("**Strong** canvas.\n\n- two handles\n- one pocket\n\nHi <script>alert(1)</script> and [x](javascript:alert(2)) and [care](https://example.com/care)")
            .execute(&app.state.db.pool).await.unwrap();
        let page = app.browser().get("/products/canvas-tote").await;
        assert!(page.contains("<p><strong>Strong</strong> canvas.</p>"), "{}", page.html);
        assert!(page.contains("<li>two handles</li>"), "{}", page.html);
        assert!(page.contains("Hi &lt;script&gt;alert(1)&lt;/script&gt; and x and <a href=\"https://example.com/care\">care</a>"), "{}", page.html);
        assert!(!page.contains("javascript:"), "{}", page.html);
    }

    async fn the_catalogue_comes_in_pages_that_keep_the_category_and_search(app) {
        let shopper = app.browser();
        let first = shopper.get("/").await;
        let cards = |page: &Page| page.html.matches(r#"class="product-card""#).count();
        assert_eq!(cards(&first), 24);
        assert!(!first.contains(r#"rel="prev""#));
        let next = first.capture(r#"href="([^"]+)" rel="next""#).expect("a Next page link");
        let second = shopper.get(&next.replace("&amp;", "&")).await;
        assert_eq!(second.status, StatusCode::OK);
        assert_eq!(cards(&second), 2);
        assert!(second.contains("Chopstick Set") && !second.contains("Canvas Tote Bag"));
        assert!(!second.contains(r#"rel="next""#));
        let previous = second.capture(r#"href="([^"]+)" rel="prev""#).expect("a Previous page link");
        let back = shopper.get(&previous.replace("&amp;", "&")).await;
        assert_eq!(cards(&back), 24);
        assert!(back.contains("Canvas Tote Bag"));
        // A search's pages keep the search; a cursor from nowhere is the first page.
        app.exec("UPDATE products SET description = description || ' Giftable.'").await;
        let found = shopper.get("/?q=giftable").await;
        let next = found.capture(r#"href="([^"]+)" rel="next""#).expect("a Next page link");
        assert!(next.starts_with("/?q=giftable&amp;after="), "{next}");
        assert_eq!(cards(&shopper.get("/?after=junk").await), 24);
    }
}
