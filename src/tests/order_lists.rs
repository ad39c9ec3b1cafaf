//! The order lists: a customer's transaction history (`/account/orders`), the merchant's list
//! (`/admin/orders`), its CSV export and the lists' live streams. Orders that are not about paying
//! are written straight into the database (`seed`) so each test can set up many quickly.
//! Products: 1 Canvas Tote Bag, 2 Ceramic Mug, 3 Linen Apron.

use crate::helpers::{both_backends, Browser, Page, TestApp};
use crate::pay::{reference_in, stripe_event};
use futures_util::StreamExt;
use regex_lite::Regex;
use reqwest::header::{CONTENT_DISPOSITION, LOCATION};
use reqwest::StatusCode;
use sqlx::Row as _;
use std::collections::BTreeSet;
use std::time::Duration;

/// 2026-03-15 12:00 UTC, in ms.
const MID_MARCH: i64 = 1_773_576_000_000;
const DAY: i64 = 86_400_000;
const PASSWORD: &str = "a-long-password-1";

/// An order as the database holds it, made without the checkout.
#[derive(Clone)]
struct Seed<'a> {
    user: Option<i64>,
    email: &'a str,
    name: &'a str,
    currency: &'a str,
    total: i64,
    status: &'a str,
    provider: &'a str,
    created_at: i64,
    product: i64,
    session_id: Option<&'a str>,
}

impl Default for Seed<'_> {
    fn default() -> Self {
        Seed {
            user: None,
            email: "guest@example.com",
            name: "Guest Shopper",
            currency: "USD",
            total: 1800,
            status: "paid",
            provider: "stripe",
            created_at: MID_MARCH,
            product: 1,
            session_id: None,
        }
    }
}

/// Write the order, its one line and one attempt; its reference.
async fn seed(app: &TestApp, s: &Seed<'_>) -> String {
    let pool = &app.state.db.pool;
    let id: i64 = sqlx::query(
        "INSERT INTO orders (idempotency_key, user_id, guest_token, email, name, address, currency, \
         total_minor, status, created_at, updated_at, provider) \
         VALUES ($1, $2, 'token', $3, $4, '{}', $5, $6, $7, $8, $8, $9) RETURNING id",
    )
    .bind(uuid::Uuid::new_v4().to_string())
    .bind(s.user)
    .bind(s.email)
    .bind(s.name)
    .bind(s.currency)
    .bind(s.total)
    .bind(s.status)
    .bind(s.created_at)
    .bind(s.provider)
    .fetch_one(pool)
    .await
    .unwrap()
    .get("id");
    let reference = format!("ORD-{id:06}");
    sqlx::query("UPDATE orders SET reference = $1 WHERE id = $2")
        .bind(&reference)
        .bind(id)
        .execute(pool)
        .await
        .unwrap();
    sqlx::query(
        "INSERT INTO order_lines (order_id, product_id, name, unit_minor, quantity, line_minor) \
         SELECT $1, id, name, $2, 1, $2 FROM products WHERE id = $3",
    )
    .bind(id)
    .bind(s.total)
    .bind(s.product)
    .execute(pool)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO payment_attempts (order_id, reference, provider, state, provider_session_id, \
         created_at, updated_at) VALUES ($1, $2, $3, 'new', $4, $5, $5)",
    )
    .bind(id)
    .bind(format!("{reference}-A1"))
    .bind(s.provider)
    .bind(s.session_id)
    .bind(s.created_at)
    .execute(pool)
    .await
    .unwrap();
    reference
}

/// A logged-in customer and their account id.
async fn customer(app: &TestApp, email: &str) -> (Browser, i64) {
    let browser = app.browser();
    browser.register(email, PASSWORD).await.expect("registers");
    let id: i64 = sqlx::query("SELECT id FROM users WHERE email = $1")
        .bind(email)
        .fetch_one(&app.state.db.pool)
        .await
        .unwrap()
        .get("id");
    (browser, id)
}

/// The references listed in the page's table (links to the order), in page order.
fn listed(page: &Page) -> Vec<String> {
    Regex::new(r#"<a href="/(?:admin/)?orders/(ORD-\d+)">"#)
        .unwrap()
        .captures_iter(&page.html)
        .map(|c| c[1].to_string())
        .collect()
}

fn one(reference: &str) -> BTreeSet<String> {
    BTreeSet::from([reference.to_string()])
}

fn set(refs: &[String]) -> BTreeSet<String> {
    refs.iter().cloned().collect()
}

/// The href of the link with this text (`Older`, `Newer`, `Export CSV`), unescaped.
fn link(page: &Page, text: &str) -> Option<String> {
    Regex::new(&format!(r#"<a href="([^"]*)"[^>]*>{text}</a>"#))
        .unwrap()
        .captures(&page.html)
        .map(|c| c[1].replace("&amp;", "&"))
}

both_backends! {
    async fn a_customer_sees_only_their_own_orders(app) {
        let (alice, alice_id) = customer(&app, "alice@example.com").await;
        let (_, bob_id) = customer(&app, "bob@example.com").await;
        let mut mine = Vec::new();
        for i in 0..3 {
            mine.push(seed(&app, &Seed { user: Some(alice_id), created_at: MID_MARCH + i, ..Seed::default() }).await);
        }
        let bobs = seed(&app, &Seed { user: Some(bob_id), ..Seed::default() }).await;
        let guests = seed(&app, &Seed::default()).await;
        let page = alice.get("/account/orders").await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.html);
        mine.reverse();
        assert_eq!(listed(&page), mine, "newest first, only hers");
        assert!(!page.contains(&bobs) && !page.contains(&guests));
        for column in ["Reference", "Date", "Items", "Total", "Payment method", "Status"] {
            assert!(page.contains(&format!(r#"<th scope="col">{column}</th>"#)), "{column}");
        }
        assert!(page.contains("1 × Canvas Tote Bag") && page.contains("$18.00") && page.contains(">Paid<"));
        assert!(page.contains(r#"<a href="/account/orders">Orders</a>"#), "the header links the history");
        assert!(page.contains(">Filter<") && page.contains(r#"<label for="filter-status">Status</label>"#));
        // Her order's page links back; someone else's order is not hers to see.
        let order = alice.get(&format!("/orders/{}", mine[0])).await;
        assert!(order.contains("Back to your orders"), "{}", order.html);
        assert_eq!(alice.get(&format!("/orders/{bobs}")).await.status, StatusCode::NOT_FOUND);
        // A new customer has a clear empty state.
        let (carol, _) = customer(&app, "carol@example.com").await;
        assert!(carol.get("/account/orders").await.contains("You have no orders yet."));
    }

    async fn guests_log_in_and_come_back_to_the_history(app) {
        customer(&app, "dora@example.com").await;
        let guest = app.browser();
        let response = guest
            .client
            .get(format!("{}/account/orders?status=paid", guest.base))
            .header(reqwest::header::ACCEPT, "text/html")
            .send()
            .await
            .unwrap();
        assert!(response.status().is_redirection(), "{}", response.status());
        let location = response.headers()[LOCATION].to_str().unwrap().to_string();
        assert_eq!(location, "/login?next=%2Faccount%2Forders%3Fstatus%3Dpaid");
        let login = guest.get(&location).await;
        assert!(login.contains(r#"name="next" value="/account/orders?status=paid""#), "{}", login.html);
        let back = guest
            .post_form(&location, "/api/login", &[("email", "dora@example.com"), ("password", PASSWORD), ("next", "/account/orders?status=paid")])
            .await;
        assert_eq!(back.headers()[LOCATION].to_str().unwrap(), "/account/orders?status=paid");
        assert_eq!(guest.get("/account/orders?status=paid").await.status, StatusCode::OK);
        // Somewhere else is never a place to go back to.
        for evil in ["//evil.example", "https://evil.example/", "/\\evil.example"] {
            let other = app.browser();
            let response = other
                .post_form("/login", "/api/login", &[("email", "dora@example.com"), ("password", PASSWORD), ("next", evil)])
                .await;
            assert_eq!(response.headers()[LOCATION].to_str().unwrap(), "/account", "{evil}");
        }
        // No next: the account page, as before.
        let plain = app.browser();
        let page = plain.log_in("dora@example.com", PASSWORD).await.unwrap();
        assert_eq!(page.status, StatusCode::OK);
        // The live stream is the owner's only.
        assert_eq!(app.browser().get("/events/account/orders").await.status, StatusCode::NOT_FOUND);
    }

    async fn each_filter_and_the_search_narrow_the_history(app) {
        let (eve, eve_id) = customer(&app, "eve@example.com").await;
        let mine = |s: Seed<'static>| Seed { user: Some(eve_id), ..s };
        let paid_tote = seed(&app, &mine(Seed::default())).await;
        let failed_mug = seed(&app, &mine(Seed { status: "failed", product: 2, created_at: MID_MARCH + DAY, ..Seed::default() })).await;
        let bdt_ssl = seed(&app, &mine(Seed { provider: "sslcommerz", currency: "BDT", total: 216000, created_at: MID_MARCH + 2 * DAY, ..Seed::default() })).await;
        let refunded = seed(&app, &mine(Seed { status: "partially_refunded", product: 3, created_at: MID_MARCH - 20 * DAY, ..Seed::default() })).await;
        let q = |query: &str| format!("/account/orders?{query}");
        let refs = |page: Page| set(&listed(&page));
        assert_eq!(refs(eve.get(&q("status=paid")).await), set(&[paid_tote.clone(), bdt_ssl.clone()]));
        assert_eq!(refs(eve.get(&q("status=failed")).await), one(&failed_mug));
        let partly = eve.get(&q("status=partially_refunded")).await;
        assert!(partly.contains(">Partially refunded<"), "the label");
        assert_eq!(refs(partly), one(&refunded));
        assert_eq!(refs(eve.get(&q("provider=sslcommerz")).await), one(&bdt_ssl));
        assert_eq!(refs(eve.get(&q("from=2026-03-16&to=2026-03-16")).await), one(&failed_mug), "To is inclusive");
        assert_eq!(refs(eve.get(&q("from=2026-03-15")).await), set(&[paid_tote.clone(), failed_mug.clone(), bdt_ssl.clone()]));
        assert_eq!(refs(eve.get(&q("to=2026-03-01")).await), one(&refunded));
        assert_eq!(refs(eve.get(&q(&format!("q={failed_mug}"))).await), one(&failed_mug));
        let digits = failed_mug.trim_start_matches("ORD-").trim_start_matches('0').to_string();
        assert_eq!(refs(eve.get(&q(&format!("q={}", digits))).await), one(&failed_mug));
        assert_eq!(refs(eve.get(&q(&format!("q={}", failed_mug.to_lowercase()))).await), one(&failed_mug));
        assert_eq!(refs(eve.get(&q("q=mug")).await), one(&failed_mug), "a product name");
        assert_eq!(refs(eve.get(&q("q=Linen+Apron&status=partially_refunded")).await), one(&refunded));
        let none = eve.get(&q("q=nothing-like-this")).await;
        assert!(listed(&none).is_empty() && none.contains("No orders match these filters."));
        // Another customer's reference finds nothing.
        let others = seed(&app, &Seed::default()).await;
        assert!(listed(&eve.get(&q(&format!("q={others}"))).await).is_empty());
        // Bad input: a clear message on the page, not an error page.
        for bad in ["from=2026-02-30", "to=yesterday", "status=shipped", "provider=bitcoin", "from=2026-03-10&to=2026-03-01", "before=abc"] {
            let page = eve.get(&q(bad)).await;
            assert_eq!(page.status, StatusCode::OK, "{bad}");
            assert!(page.alert().is_some(), "{bad}: {}", page.html);
            assert!(listed(&page).is_empty(), "{bad}");
        }
        assert!(eve.get(&q("from=2026-02-30")).await.alert().unwrap().contains("YYYY-MM-DD"));
        // Odd text is bound, never SQL.
        assert_eq!(eve.get(&q("q=%27%3B+DROP+TABLE+orders%3B--")).await.status, StatusCode::OK);
        assert_eq!(refs(eve.get(&q("")).await).len(), 4);
    }

    async fn pagination_is_stable_while_new_orders_arrive(app) {
        let (fay, fay_id) = customer(&app, "fay@example.com").await;
        let mut refs = Vec::new();
        for i in 0..45 {
            refs.push(seed(&app, &Seed { user: Some(fay_id), created_at: MID_MARCH + i, ..Seed::default() }).await);
        }
        refs.reverse();
        let first = fay.get("/account/orders?status=paid").await;
        assert_eq!(listed(&first), refs[..20].to_vec());
        assert!(link(&first, "Newer").is_none());
        let older = link(&first, "Older").expect("an Older link");
        assert!(older.contains("status=paid") && older.contains("before="), "keeps the filters: {older}");
        // New orders arrive while she reads page 1.
        for _ in 0..5 {
            seed(&app, &Seed { user: Some(fay_id), created_at: MID_MARCH + 1000, ..Seed::default() }).await;
        }
        let second = fay.get(&older).await;
        assert_eq!(listed(&second), refs[20..40].to_vec(), "page 2 continues exactly");
        let third = fay.get(&link(&second, "Older").unwrap()).await;
        assert_eq!(listed(&third), refs[40..].to_vec());
        assert!(link(&third, "Older").is_none());
        let back = fay.get(&link(&second, "Newer").unwrap()).await;
        assert_eq!(listed(&back), refs[..20].to_vec(), "Newer goes back to the same page 1");
        assert!(link(&back, "Newer").is_some(), "the new orders lie beyond");
        assert_eq!(listed(&fay.get("/account/orders").await).len(), 20);
    }

    async fn the_admin_list_filters_searches_and_totals(app) {
        let merchant = app.merchant().await;
        let (_, gus_id) = customer(&app, "gus@example.com").await;
        let usd = seed(&app, &Seed { user: Some(gus_id), email: "gus@example.com", ..Seed::default() }).await;
        let bdt = seed(&app, &Seed { currency: "BDT", total: 216000, provider: "sslcommerz", session_id: Some("SSLCZ_TEST_abc"), ..Seed::default() }).await;
        let jpy = seed(&app, &Seed { currency: "JPY", total: 2500, status: "awaiting_payment", product: 2, session_id: Some("cs_test_jpy"), ..Seed::default() }).await;
        let page = merchant.get("/admin/orders").await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.html);
        assert_eq!(listed(&page), vec![jpy.clone(), bdt.clone(), usd.clone()]);
        assert!(page.contains(&format!(r#"href="/admin/orders/{usd}""#)));
        assert!(page.contains(r#"<label for="filter-currency">Currency</label>"#));
        assert!(page.contains(">Refresh<") && page.contains(">Export CSV<"));
        let refs = |page: Page| set(&listed(&page));
        assert_eq!(refs(merchant.get("/admin/orders?currency=BDT").await), one(&bdt));
        assert_eq!(refs(merchant.get("/admin/orders?status=awaiting_payment").await), one(&jpy));
        assert_eq!(refs(merchant.get("/admin/orders?provider=sslcommerz").await), one(&bdt));
        assert_eq!(refs(merchant.get("/admin/orders?q=GUS%40example.com").await), one(&usd), "by email");
        assert_eq!(refs(merchant.get("/admin/orders?q=SSLCZ_TEST_abc").await), one(&bdt), "by provider id");
        assert_eq!(refs(merchant.get("/admin/orders?q=cs_test_jpy").await), one(&jpy));
        assert_eq!(refs(merchant.get("/admin/orders?q=mug").await), one(&jpy));
        assert_eq!(refs(merchant.get(&format!("/admin/orders?q={bdt}")).await), one(&bdt));
        assert!(merchant.get("/admin/orders?currency=XYZ").await.alert().is_some());
        // Totals per currency for the filtered set.
        let paid = merchant.get("/admin/orders?status=paid").await;
        assert_eq!(paid.capture(r#"data-testid="total-USD"[^>]*>([^<]+)<"#).as_deref(), Some("$18.00"));
        assert!(paid.capture(r#"data-testid="total-BDT"[^>]*>([^<]+)<"#).is_some());
        assert!(paid.capture(r#"data-testid="total-JPY"[^>]*>([^<]+)<"#).is_none(), "the JPY order is not paid");
        let csv = link(&paid, "Export CSV").expect("an Export CSV link");
        assert_eq!(csv, "/admin/orders.csv?status=paid");
    }

    async fn guests_and_customers_are_refused_everything_admin(app) {
        let secret = seed(&app, &Seed { email: "hidden@example.com", ..Seed::default() }).await;
        let guest = app.browser();
        let (shopper, _) = customer(&app, "ivy@example.com").await;
        for who in [&guest, &shopper] {
            let page = who.get("/admin/orders").await;
            assert_eq!(page.status, StatusCode::NOT_FOUND);
            assert!(!page.contains(&secret) && !page.contains("hidden@example.com"));
            let response = who.post_form("/admin/orders", "/api/admin/orders", &[("query[status]", "")]).await;
            assert_ne!(response.status(), StatusCode::OK);
            let body = response.text().await.unwrap();
            assert!(!body.contains(&secret) && !body.contains("hidden@example.com"), "{body}");
            let csv = who.get("/admin/orders.csv").await;
            assert_eq!(csv.status, StatusCode::NOT_FOUND);
            assert!(!csv.contains(&secret));
            assert_eq!(who.get("/events/admin/orders").await.status, StatusCode::NOT_FOUND);
        }
        // A customer's history server function is theirs only, and a guest has none.
        let response = guest.post_form("/account/orders", "/api/account/orders", &[("query[status]", "")]).await;
        assert_ne!(response.status(), StatusCode::OK);
        assert!(!response.text().await.unwrap().contains(&secret));
        let merchant = app.merchant().await;
        let response = merchant.post_form("/admin/orders", "/api/admin/orders", &[("query[status]", "")]).await;
        assert!(response.text().await.unwrap().contains(&secret), "a merchant gets the data");
    }

    async fn the_csv_quotes_guards_and_streams_the_filtered_orders(app) {
        let merchant = app.merchant().await;
        let quoted = seed(&app, &Seed { name: "Doe, \"Jo\"", session_id: Some("cs_test_q"), ..Seed::default() }).await;
        let formula = seed(&app, &Seed { name: "=HYPERLINK(\"http://x\")", email: "@sneaky@example.com", status: "failed", ..Seed::default() }).await;
        let yen = seed(&app, &Seed { currency: "JPY", total: 2500, ..Seed::default() }).await;
        sqlx::query("UPDATE orders SET refunded_minor = 500 WHERE reference = $1").bind(&quoted).execute(&app.state.db.pool).await.unwrap();
        let response = merchant.client.get(format!("{}/admin/orders.csv", app.base)).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers()[CONTENT_DISPOSITION], "attachment; filename=\"orders.csv\"");
        assert!(response.headers()["content-type"].to_str().unwrap().starts_with("text/csv"));
        let body = response.text().await.unwrap();
        let lines: Vec<&str> = body.lines().collect();
        assert_eq!(lines[0], "reference,created,email,name,status,provider,provider_id,currency,total,refunded,lines");
        assert_eq!(lines.len(), 4, "{body}");
        assert!(lines[1].starts_with(&format!("{yen},2026-03-15T12:00:00Z,")), "{}", lines[1]);
        assert!(lines[1].ends_with(",JPY,2500,0,1"), "JPY has no decimals: {}", lines[1]);
        assert_eq!(lines[3], format!("{quoted},2026-03-15T12:00:00Z,guest@example.com,\"Doe, \"\"Jo\"\"\",paid,stripe,cs_test_q,USD,18.00,5.00,1"));
        assert!(lines[2].contains(",'@sneaky@example.com,\"'=HYPERLINK(\"\"http://x\"\")\",failed,"), "{}", lines[2]);
        let failed = merchant.get("/admin/orders.csv?status=failed").await.html;
        assert_eq!(failed.lines().count(), 2);
        assert!(failed.contains(&formula) && !failed.contains(&quoted));
        let bad = merchant.get("/admin/orders.csv?from=never").await;
        assert_eq!(bad.status, StatusCode::BAD_REQUEST);
        assert!(bad.contains("YYYY-MM-DD"));
    }

    async fn a_webhook_reaches_the_history_and_the_admin_streams(app) {
        let merchant = app.merchant().await;
        let (buyer, _) = customer(&app, "jon@example.com").await;
        let (other, _) = customer(&app, "kim@example.com").await;
        let open = |browser: &Browser, path: &str| {
            let request = browser.client.get(format!("{}{path}", app.base));
            async move {
                let response = request.send().await.unwrap();
                assert_eq!(response.status(), StatusCode::OK);
                assert!(response.headers()["content-type"].to_str().unwrap().starts_with("text/event-stream"));
                response.bytes_stream()
            }
        };
        let mut admin = open(&merchant, "/events/admin/orders").await;
        let mut history = open(&buyer, "/events/account/orders").await;
        let mut others = open(&other, "/events/account/orders").await;
        buyer.add_to_cart(1, 1).await;
        let page = buyer.pay("stripe").await;
        let reference = reference_in(&buyer.on_stripe_page(&page, "pay", "never").await);
        async fn read_until<S, B, E>(stream: &mut S, seen: &mut String, needle: &str)
        where
            S: futures_util::Stream<Item = Result<B, E>> + Unpin,
            B: AsRef<[u8]>,
            E: std::fmt::Debug,
        {
            while !seen.contains(needle) {
                let chunk = tokio::time::timeout(Duration::from_secs(10), stream.next())
                    .await
                    .unwrap_or_else(|_| panic!("{needle} in time; saw {seen}"));
                seen.push_str(std::str::from_utf8(chunk.unwrap().unwrap().as_ref()).unwrap());
            }
        }
        let mut admin_seen = String::new();
        read_until(&mut admin, &mut admin_seen, &reference).await;
        assert!(admin_seen.contains("awaiting_payment"), "the new order appears: {admin_seen}");
        let (attempt, session) = app.attempt_of(&reference).await;
        let event = stripe_event("checkout.session.completed", &attempt, &session, "paid", 1800, "usd");
        assert_eq!(app.stripe_event(&event).await, StatusCode::OK);
        read_until(&mut admin, &mut admin_seen, "\"paid\"").await;
        let mut history_seen = String::new();
        read_until(&mut history, &mut history_seen, "\"paid\"").await;
        assert!(history_seen.contains(&reference) && history_seen.contains("event: status"), "{history_seen}");
        // Someone else's stream says nothing about it.
        let nothing = tokio::time::timeout(Duration::from_millis(800), others.next()).await;
        assert!(nothing.is_err(), "another customer saw {:?}", nothing);
        let page = buyer.get("/account/orders").await;
        assert_eq!(listed(&page), vec![reference.clone()]);
        assert!(page.contains(">Paid<"));
    }
}
