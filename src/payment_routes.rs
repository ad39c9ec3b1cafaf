//! The plain HTTP routes of the payment path: provider webhooks, the generic provider returns and
//! cancels, the page that carries a form to a provider, the live status stream and the status
//! JSON. Every route names the provider by its path segment; none names a provider in code.

mod events;
mod handoff_page;
mod returns;
mod status;
mod webhooks;

use app::server::state::AppState;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use axum::Router;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/webhooks/{provider}",
            post(webhooks::receive).layer(DefaultBodyLimit::max(webhooks::MAX_BODY)),
        )
        .route(
            "/payments/{provider}/return/{reference}",
            get(returns::provider_return).post(returns::provider_return_post),
        )
        .route(
            "/payments/{provider}/cancel/{reference}",
            get(returns::provider_cancel).post(returns::cancel_order),
        )
        .route(
            "/payments/{provider}/go/{attempt}",
            get(returns::go_to_provider),
        )
        .route("/events/orders/{reference}", get(events::order_stream))
        .route("/api/orders/{reference}/status", get(status::order_status))
}
