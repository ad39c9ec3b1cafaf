//! The plain HTTP routes of the payment path: provider webhooks, provider returns, the live
//! status stream and the status JSON.

mod events;
mod returns;
mod status;
mod webhooks;

use app::server::state::AppState;
use axum::routing::{get, post};
use axum::Router;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/webhooks/{provider}", post(webhooks::receive))
        .route(
            "/payments/stripe/return/{reference}",
            get(returns::provider_return),
        )
        .route(
            "/payments/stripe/cancel/{reference}",
            get(returns::stripe_cancel),
        )
        .route(
            "/payments/sslcommerz/return/{reference}",
            post(returns::provider_return).get(returns::provider_return),
        )
        .route("/events/orders/{reference}", get(events::order_stream))
        .route("/api/orders/{reference}/status", get(status::order_status))
}
