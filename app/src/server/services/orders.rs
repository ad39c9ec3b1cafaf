//! Reading orders: who may see one, the order page's view, the status JSON, and the status lookup
//! a return from the provider triggers.

use super::payment_updates::{self, status_json};
use crate::model::{
    Currency, Money, OrderLineView, OrderStatus, OrderStatusJson, OrderView, ProviderId, Role,
};
use crate::server::auth::ShopSession;
use crate::server::db::orders::{self, OrderRow};
use crate::server::db::{self, Db};
use crate::server::error::{ServerError, ServerResult};
use crate::server::state::AppState;
use subtle::ConstantTimeEq;

/// Whoever asks: their session and the `key` of a guest link, if they followed one.
pub struct Viewer<'a> {
    pub session: &'a ShopSession,
    pub key: Option<&'a str>,
}

/// Whether the viewer may see the order: its customer, the session that placed it, the holder of
/// its guest link, or a merchant.
pub async fn may_view(db: &Db, viewer: &Viewer<'_>, order: &OrderRow) -> ServerResult<bool> {
    if let Some(key) = viewer.key {
        if !key.is_empty() && bool::from(key.as_bytes().ct_eq(order.guest_token.as_bytes())) {
            return Ok(true);
        }
    }
    if viewer
        .session
        .placed_orders()
        .await?
        .contains(&order.reference)
    {
        return Ok(true);
    }
    let Some(user_id) = viewer.session.user_id().await? else {
        return Ok(false);
    };
    if order.user_id == Some(user_id) {
        return Ok(true);
    }
    let mut conn = db.pool.acquire().await?;
    Ok(db::users::by_id(&mut conn, user_id)
        .await?
        .is_some_and(|u| u.role == Role::Merchant))
}

/// The order if the viewer may see it; `None` for both "no such order" and "not yours".
pub async fn visible(
    db: &Db,
    viewer: &Viewer<'_>,
    reference: &str,
) -> ServerResult<Option<OrderRow>> {
    let order = {
        let mut conn = db.pool.acquire().await?;
        orders::by_reference(&mut conn, reference).await?
    };
    match order {
        Some(order) if may_view(db, viewer, &order).await? => Ok(Some(order)),
        _ => Ok(None),
    }
}

/// The order if the viewer may see it, else the "Not found" refusal.
pub async fn require_visible(
    db: &Db,
    viewer: &Viewer<'_>,
    reference: &str,
) -> ServerResult<OrderRow> {
    visible(db, viewer, reference)
        .await?
        .ok_or(ServerError::User(crate::error::AppError::NotFound))
}

fn currency_of(order: &OrderRow) -> ServerResult<Currency> {
    order.currency.parse().map_err(|_| {
        ServerError::Internal(format!(
            "order {} has currency {:?}",
            order.reference, order.currency
        ))
    })
}

fn status_of(order: &OrderRow) -> ServerResult<OrderStatus> {
    OrderStatus::parse(&order.status).ok_or_else(|| {
        ServerError::Internal(format!(
            "order {} has status {:?}",
            order.reference, order.status
        ))
    })
}

/// The order page's view.
pub async fn view(
    state: &AppState,
    viewer: &Viewer<'_>,
    order: &OrderRow,
) -> ServerResult<OrderView> {
    let currency = currency_of(order)?;
    let mut conn = state.db.pool.acquire().await?;
    let lines = orders::lines(&mut conn, order.id)
        .await?
        .into_iter()
        .map(|l| OrderLineView {
            name: l.name,
            quantity: l.quantity,
            unit_price: Money::new(l.unit_minor, currency),
            line_total: Money::new(l.line_minor, currency),
        })
        .collect();
    let provider = orders::latest_attempt(&mut conn, order.id)
        .await?
        .and_then(|a| ProviderId::parse(&a.provider));
    // The bookmarkable link is for the guest who placed the order (not for a merchant looking).
    let is_placer = viewer
        .session
        .placed_orders()
        .await?
        .contains(&order.reference)
        || viewer.key.is_some();
    let guest_link = (order.user_id.is_none() && is_placer).then(|| {
        format!(
            "{}/orders/{}?key={}",
            state.settings.public_url, order.reference, order.guest_token
        )
    });
    Ok(OrderView {
        reference: order.reference.clone(),
        status: status_of(order)?,
        email: order.email.clone(),
        lines,
        total: Money::new(order.total_minor, currency),
        provider,
        guest_link,
    })
}

/// `GET /api/orders/{reference}/status` and the first message of the live stream.
pub async fn status(db: &Db, order: &OrderRow) -> ServerResult<OrderStatusJson> {
    let mut conn = db.pool.acquire().await?;
    let provider = orders::latest_attempt(&mut conn, order.id)
        .await?
        .map(|a| a.provider);
    Ok(status_json(order, status_of(order)?, provider))
}

/// The shopper is back from the provider: ask the provider (never the browser) what happened
/// to the latest attempt and apply the answer. Errors are logged; the page shows what is known.
pub async fn look_up(state: &AppState, reference: &str, cancelled: bool) {
    if let Err(e) = try_look_up(state, reference, cancelled).await {
        tracing::warn!(order = reference, error = %e, "status lookup after the return failed");
    }
}

async fn try_look_up(state: &AppState, reference: &str, cancelled: bool) -> ServerResult<()> {
    let (order, attempt) = {
        let mut conn = state.db.pool.acquire().await?;
        let Some(order) = orders::by_reference(&mut conn, reference).await? else {
            return Ok(());
        };
        let Some(attempt) = orders::latest_attempt(&mut conn, order.id).await? else {
            return Ok(());
        };
        (order, attempt)
    };
    if status_of(&order)? != OrderStatus::AwaitingPayment {
        return Ok(());
    }
    let (Some(provider), Some(session_id)) = (
        ProviderId::parse(&attempt.provider).and_then(|p| state.payments.get(p)),
        attempt.provider_session_id.as_deref(),
    ) else {
        return Ok(());
    };
    let update = if cancelled {
        if attempt.state == "open" {
            let mut conn = state.db.pool.acquire().await?;
            orders::set_attempt_state(&mut conn, attempt.id, "cancelling", None).await?;
        }
        provider.cancel(&attempt.reference, session_id).await
    } else {
        provider.lookup(&attempt.reference, session_id).await
    }
    .map_err(|e| ServerError::Internal(e.to_string()))?;
    let applied = payment_updates::apply(&state.db, &state.events, &update).await?;
    tracing::info!(order = reference, outcome = %applied.describe(), "status lookup after the return");
    Ok(())
}

/// Put an unpaid order's lines back into the cart (in the order's currency), skipping what can no
/// longer be bought, so the shopper can check out again.
pub async fn refill_cart(
    state: &AppState,
    cart: &super::cart::Cart<'_>,
    order: &OrderRow,
) -> ServerResult<()> {
    let status = status_of(order)?;
    if !status.releases_stock() {
        return Err(ServerError::invalid(format!(
            "Order {} is {}; there is nothing to try again.",
            order.reference,
            status.label().to_lowercase()
        )));
    }
    let currency = currency_of(order)?;
    cart.session.set_currency(currency).await?;
    let lines = {
        let mut conn = state.db.pool.acquire().await?;
        orders::lines(&mut conn, order.id).await?
    };
    let mut added = 0;
    for line in lines {
        let Ok(quantity) = crate::model::Quantity::parse(&line.quantity.to_string()) else {
            continue;
        };
        match cart.add(line.product_id, quantity, currency).await {
            Ok(_) => added += 1,
            Err(ServerError::User(e)) => {
                tracing::info!(order = %order.reference, reason = %e, "line not put back")
            }
            Err(e) => return Err(e),
        }
    }
    if added == 0 {
        return Err(ServerError::invalid(
            "None of this order's products can be bought right now.",
        ));
    }
    Ok(())
}
