//! A live shop starts empty: the demo catalogue is loaded on a database's first start
//! in sandbox mode, or when DEMO_CATALOGUE=yes asks for it, never into a live shop by surprise.

use crate::helpers::{on_both_backends, spawn_app_with, Backend};
use sqlx::Row as _;

const LIVE: [(&str, &str); 3] = [
    ("PAYMENTS_MODE", "live"),
    ("STRIPE_SECRET_KEY", "sk_live_real_looking"),
    ("STRIPE_WEBHOOK_SECRET", "whsec_real_looking"),
];

async fn a_live_shop_starts_empty_and_stays_empty_in_sandbox_mode_later(backend: Backend) {
    let live = spawn_app_with(backend, &LIVE).await;
    assert_eq!(live.product_count().await, 0);
    let shop = live.browser().get("/").await;
    assert_eq!(shop.status, 200);
    assert!(
        shop.contains("No products are for sale here right now."),
        "{}",
        shop.html
    );
    // The same database started in sandbox mode later (to try a payment) gets no demo products.
    let sandbox = live.another_instance().await;
    assert_eq!(sandbox.product_count().await, 0);
    // Asked for, the demo is loaded into the empty catalogue, once.
    let asked = live
        .another_instance_with(&[("DEMO_CATALOGUE", "yes")])
        .await;
    assert_eq!(asked.product_count().await, 26);
    let again = live
        .another_instance_with(&[("DEMO_CATALOGUE", "yes")])
        .await;
    assert_eq!(again.product_count().await, 26, "loaded once");
    // A new product after the demo's explicit ids gets the next id (PostgreSQL's sequence too).
    let merchant = again.merchant().await;
    let saved = merchant
        .post_form(
            "/admin/products/new",
            "/api/admin/save_product",
            &[
                ("product_id", ""),
                ("name", "Brass Bell"),
                ("slug", ""),
                ("description", ""),
                ("sku", "BELL-1"),
                ("category", ""),
                ("price_usd", "9"),
                ("price_eur", ""),
                ("price_bdt", ""),
                ("price_cny", ""),
                ("price_jpy", ""),
                ("stock", "3"),
                ("status", "active"),
            ],
        )
        .await;
    assert!(saved.status().is_redirection(), "{}", saved.status());
    let id: i64 = sqlx::query("SELECT id FROM products WHERE sku = 'BELL-1'")
        .fetch_one(&again.state.db.pool)
        .await
        .unwrap()
        .try_get(0)
        .unwrap();
    assert_eq!(id, 27);
}

async fn a_sandbox_shop_gets_the_demo_once_and_never_back_once_emptied(backend: Backend) {
    let sandbox = spawn_app_with(backend, &[]).await;
    assert_eq!(sandbox.product_count().await, 26);
    assert_eq!(
        sandbox.state.settings.catalogue.demo,
        app::server::config::DemoCatalogue::Auto
    );
    sandbox.exec("DELETE FROM product_prices").await;
    sandbox.exec("DELETE FROM products").await;
    let restarted = sandbox.another_instance().await;
    assert_eq!(
        restarted.product_count().await,
        0,
        "the merchant emptied it"
    );
    let refused = spawn_app_with(backend, &[("DEMO_CATALOGUE", "no")]).await;
    assert_eq!(refused.product_count().await, 0);
}

/// A database made before the demo left the migrations recorded the old seed migration's
/// checksum; it still starts (and keeps its products).
async fn a_database_that_ran_the_old_seed_still_starts(backend: Backend) {
    let old = spawn_app_with(backend, &[]).await;
    let old_checksum = match backend {
        Backend::Sqlite => "f67e2c20abdf0d285aa11b46a8c892408e21af2cb9be7a02fa590a128a5490df13d53f484fba52f50bc9f10fae3941ea",
        Backend::Postgres => "8177b8ddf5e2e7a86800da2e4d58ad4c81593e13bcb79e74ba8b16cb51a9288df3b00c02e80269e2519f98f1c18ff174",
    };
    let sql = match backend {
        Backend::Sqlite => {
            format!("UPDATE _sqlx_migrations SET checksum = X'{old_checksum}' WHERE version = 3")
        }
        Backend::Postgres => format!(
            "UPDATE _sqlx_migrations SET checksum = '\\x{old_checksum}'::bytea WHERE version = 3"
        ),
    };
    old.exec(&sql).await;
    let restarted = old.another_instance().await;
    assert_eq!(restarted.product_count().await, 26);
    // Any other change to a recorded migration is still refused.
    old.exec(&sql.replace(&old_checksum[..8], "00000000")).await;
    let settings = app::server::config::Settings::from_lookup(|k| match k {
        "DATABASE_URL" => Some(old.database_url.clone()),
        "LEPTOS_SITE_ADDR" => Some("127.0.0.1:0".into()),
        _ => None,
    })
    .unwrap();
    assert!(storefront::startup::Application::build(settings)
        .await
        .is_err());
}

on_both_backends!(
    a_live_shop_starts_empty_and_stays_empty_in_sandbox_mode_later,
    a_sandbox_shop_gets_the_demo_once_and_never_back_once_emptied,
    a_database_that_ran_the_old_seed_still_starts,
);
