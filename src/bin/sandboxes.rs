//! `sandboxes`: the seven provider sandboxes on one port, without the shop, for anyone building
//! against Stripe, PayPal, Braintree, Square, Alipay, Authorize.Net or SSLCOMMERZ (as stripe-mock
//! is for Stripe alone). Each is at `/sandbox/{provider}`, speaking that provider's protocol with
//! its published sandbox keys (`docs/sandboxes.md`).
//!
//! `cargo run --bin sandboxes`. Settings, all optional:
//! - `SANDBOXES_ADDR`: where to listen (`127.0.0.1:4100`).
//! - `SANDBOXES_DATABASE_URL`: their store (`sqlite://data/sandboxes.db`; a PostgreSQL URL works).
//! - `SANDBOXES_PUBLIC_URL`: where browsers reach this process (`http://` + the address).
//! - `SHOP_URL`: the origin of the shop under test (`http://127.0.0.1:3000`): the only place the
//!   hosted pages send a shopper back to, and where webhooks and IPNs are delivered.

use std::net::SocketAddr;
use std::sync::Arc;
use storefront::sandboxes::{mount, store, Sandbox};

fn setting(var: &str, default: &str) -> String {
    std::env::var(var)
        .ok()
        .filter(|v| !v.trim().is_empty())
        .unwrap_or_else(|| default.to_string())
}

fn origin(var: &str, value: String) -> Result<Arc<str>, String> {
    let value = value.trim_end_matches('/').to_string();
    if value.starts_with("http://") || value.starts_with("https://") {
        Ok(value.into())
    } else {
        Err(format!(
            "configuration error: {var}: expected an http(s) origin such as http://127.0.0.1:3000"
        ))
    }
}

async fn run() -> Result<(), String> {
    let addr: SocketAddr = setting("SANDBOXES_ADDR", "127.0.0.1:4100")
        .parse()
        .map_err(|_| {
            "configuration error: SANDBOXES_ADDR: expected host:port such as 127.0.0.1:4100"
        })?;
    let shop_url = origin("SHOP_URL", setting("SHOP_URL", "http://127.0.0.1:3000"))?;
    let site_url = origin(
        "SANDBOXES_PUBLIC_URL",
        setting("SANDBOXES_PUBLIC_URL", &format!("http://{addr}")),
    )?;
    let database_url = setting("SANDBOXES_DATABASE_URL", "sqlite://data/sandboxes.db");
    let db = store::open(&database_url)
        .await
        .map_err(|e| format!("cannot open SANDBOXES_DATABASE_URL: {e}"))?;
    let sandbox = Sandbox {
        db,
        http: app::server::payments::http_client(),
        webhook_root: shop_url.clone(),
        shop_url,
        site_url,
    };
    let router: axum::Router = mount(sandbox, app::model::ProviderId::ALL);
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
    println!(
        "sandboxes listening on http://{}/sandbox/{{stripe,paypal,braintree,square,alipay,authorizenet,sslcommerz}}",
        listener.local_addr().map_err(|e| e.to_string())?
    );
    axum::serve(listener, router)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
        .map_err(|e| format!("server error: {e}"))
}

#[tokio::main]
async fn main() {
    storefront::telemetry::init();
    if let Err(e) = run().await {
        eprintln!("{e}");
        std::process::exit(2);
    }
}
