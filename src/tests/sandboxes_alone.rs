//! The sandboxes on a port of their own (what the `sandboxes` binary serves), with a shop that
//! reaches them as remote providers through `*_API_BASE`: the shop's database has no sandbox
//! table, the shop serves no sandbox itself, and a payment still goes through with its webhook.

use crate::helpers::{on_both_backends, spawn_app_with, Backend, TestApp, PUBLIC_URL};
use crate::pay::reference_in;
use reqwest::header::LOCATION;
use reqwest::StatusCode;
use std::sync::Arc;
use storefront::sandboxes::{mount, store, Sandbox};

/// A shop whose Stripe calls go to the sandboxes served on a port of their own, and their URL.
async fn shop_with_sandboxes_alone(backend: Backend) -> (TestApp, String) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let site_url = format!("http://{}", listener.local_addr().unwrap());
    let stripe = format!("{site_url}/sandbox/stripe");
    let app = spawn_app_with(backend, &[("STRIPE_API_BASE", &stripe)]).await;
    let sandbox = Sandbox {
        db: store::open(&store::url_beside(&app.database_url))
            .await
            .unwrap(),
        http: reqwest::Client::new(),
        shop_url: Arc::from(PUBLIC_URL),
        site_url: Arc::from(site_url.as_str()),
        webhook_root: Arc::from(app.base.as_str()),
    };
    let router: axum::Router = mount(sandbox, app::model::ProviderId::ALL);
    tokio::spawn(async move { axum::serve(listener, router).await });
    (app, site_url)
}

async fn a_shop_pays_through_sandboxes_on_a_port_of_their_own(backend: Backend) {
    let (app, site_url) = shop_with_sandboxes_alone(backend).await;
    // The shop's own schema has no sandbox table, and it mounts no sandbox for a provider
    // that is remote.
    let missing = sqlx::query("SELECT COUNT(*) FROM sandbox_objects")
        .fetch_one(&app.state.db.pool)
        .await;
    assert!(missing.is_err(), "the shop's database has a sandbox table");
    let shopper = app.browser();
    assert_eq!(
        shopper.get("/sandbox/stripe/c/pay/cs_test_x").await.status,
        StatusCode::NOT_FOUND
    );

    shopper.add_to_cart(1, 2).await;
    let page_url = shopper.pay("stripe").await;
    assert!(
        page_url.starts_with(&format!("{site_url}/sandbox/stripe/c/pay/cs_test_")),
        "{page_url}"
    );
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let page = client.get(&page_url).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    assert!(page.text().await.unwrap().contains(">Pay<"));
    let back = client
        .post(&page_url)
        .form(&[
            ("action", "pay"),
            ("webhook", "normal"),
            ("refunds", "succeed"),
        ])
        .send()
        .await
        .unwrap();
    assert!(back.status().is_redirection(), "{}", back.status());
    let back = back.headers()[LOCATION].to_str().unwrap().to_string();
    assert!(
        back.starts_with(&format!("{PUBLIC_URL}/payments/stripe/return/ORD-")),
        "{back}"
    );
    let reference = reference_in(&back);
    // Only the webhook, delivered from the other port, pays it.
    app.wait_for(&reference, "paid").await;
    assert_eq!(app.ledger_rows(&reference).await, 1);

    // The session is in the sandboxes' store, not the shop's.
    let sessions: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM sandbox_objects WHERE id LIKE 'cs_test_%'")
            .fetch_one(
                &store::open(&store::url_beside(&app.database_url))
                    .await
                    .unwrap()
                    .pool,
            )
            .await
            .unwrap();
    assert_eq!(sessions, 1);
}

on_both_backends!(a_shop_pays_through_sandboxes_on_a_port_of_their_own);

#[test]
fn the_sandboxes_store_is_beside_the_shops_database_never_in_it() {
    assert_eq!(
        store::url_beside("sqlite://data/storefront.db"),
        "sqlite://data/storefront.sandboxes.db"
    );
    assert_eq!(
        store::url_beside("sqlite:///tmp/x/shop.db?mode=rwc"),
        "sqlite:///tmp/x/shop.sandboxes.db?mode=rwc"
    );
    assert_eq!(
        store::url_beside("sqlite://shop"),
        "sqlite://shop.sandboxes"
    );
    assert_eq!(
        store::url_beside("postgres://u@db:5432/shop"),
        "postgres://u@db:5432/shop?options=-c%20search_path%3Dsandboxes"
    );
    assert_eq!(
        store::url_beside("postgres://u@db/shop?sslmode=require"),
        "postgres://u@db/shop?sslmode=require&options=-c%20search_path%3Dsandboxes"
    );
}

/// Instances starting at once on one PostgreSQL database each open the sandboxes' store: every one
/// of them must start. (On SQLite one instance serves a database file, as for the shop itself;
/// eight pools creating a new file at once can meet SQLite's lock while it switches to WAL.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stores_open_at_once_on_postgresql() {
    let id = uuid::Uuid::new_v4().simple().to_string();
    let (shop_url, name) = crate::helpers::create_postgres_database(&id).await;
    let url = store::url_beside(&shop_url);
    let opened = futures_util::future::join_all((0..8).map(|_| store::open(&url))).await;
    for result in &opened {
        assert!(result.is_ok(), "{result:?}");
    }
    drop(opened);
    crate::helpers::drop_postgres_database(&name).await;
}
