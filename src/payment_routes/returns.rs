//! Where providers send the shopper back. A return never marks an order paid by itself: it asks
//! the provider (lookup, or expiring a cancelled Stripe session) and applies what the provider
//! says, then sends the browser to the order page.

use app::server::auth::ShopSession;
use app::server::services::orders::{self, Viewer};
use app::server::state::AppState;
use axum::extract::{Path, State};
use axum::response::Redirect;
use tower_sessions::Session;

/// Order references are `ORD-` and digits; anything else goes nowhere.
fn checked(reference: &str) -> Option<&str> {
    let digits = reference.strip_prefix("ORD-")?;
    (!digits.is_empty() && digits.chars().all(|c| c.is_ascii_digit())).then_some(reference)
}

fn order_page(reference: &str) -> Redirect {
    Redirect::to(&format!("/orders/{reference}"))
}

/// The shopper is back (Stripe's `success_url` GET, SSLCOMMERZ's success / fail / cancel POST). What
/// the browser carries is not trusted: the provider is asked.
pub async fn provider_return(
    State(state): State<AppState>,
    Path(reference): Path<String>,
) -> Redirect {
    let Some(reference) = checked(&reference) else {
        return Redirect::to("/");
    };
    orders::look_up(&state, reference, false).await;
    order_page(reference)
}

/// The shopper pressed back/cancel on Stripe's page. Only the order's owner may cancel it.
pub async fn stripe_cancel(
    State(state): State<AppState>,
    session: Session,
    Path(reference): Path<String>,
) -> Redirect {
    let Some(reference) = checked(&reference) else {
        return Redirect::to("/");
    };
    let session = ShopSession(session);
    let viewer = Viewer {
        session: &session,
        key: None,
    };
    let owner = matches!(
        orders::visible(&state.db, &viewer, reference).await,
        Ok(Some(_))
    );
    orders::look_up(&state, reference, owner).await;
    order_page(reference)
}
