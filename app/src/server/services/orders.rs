//! Reading orders: who may see one, the order page's view, the status JSON, and the status lookup
//! a return from the provider triggers.

use super::order_views::{refund_view, status_json};
use super::payment_updates;
use crate::model::{
    Money, OrderLineView, OrderStatus, OrderStatusJson, OrderView, ProviderId, Role,
};
use crate::server::auth::ShopSession;
use crate::server::db::attempts;
use crate::server::db::attempts::AttemptRow;
use crate::server::db::orders::{self, OrderRow};
use crate::server::db::{self, now_ms, Db};
use crate::server::error::{ServerError, ServerResult};
use crate::server::payments::attempt::AttemptState;
use crate::server::payments::{AttemptRef, Outcome};
use crate::server::services::capture_claims::STALE_AFTER_MS;
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

/// The order page's view.
pub async fn view(
    state: &AppState,
    viewer: &Viewer<'_>,
    order: &OrderRow,
) -> ServerResult<OrderView> {
    let mut conn = state.db.pool.acquire().await?;
    let lines = line_views(&mut conn, order).await?;
    let latest = attempts::latest_attempt(&mut conn, order.id).await?;
    let provider = latest.as_ref().map(|a| a.provider);
    let resume_url = latest
        .as_ref()
        .filter(|a| {
            order.status == OrderStatus::AwaitingPayment
                && a.state == AttemptState::Open
                && a.next_step.is_some()
        })
        .map(|a| resume_link(a, viewer.key));
    let failure_reason = match (order.status, provider) {
        (OrderStatus::Failed, Some(id)) => attempts::failure_kind(&mut conn, order.id)
            .await?
            .and_then(|kind| state.payments.get(id)?.failure_reason(&kind)),
        _ => None,
    };
    let refunds = db::admin_orders::refunds(&mut conn, order.id)
        .await?
        .into_iter()
        .map(|r| refund_view(r, false))
        .collect::<ServerResult<Vec<_>>>()?;
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
        status: order.status,
        email: order.email.clone(),
        lines,
        total: order.total(),
        provider,
        guest_link,
        refunds,
        failure_reason,
        resume_url,
    })
}

/// The way back to an open attempt's payment page: the shop's hand-off page, which sends the
/// browser on to the provider (or back to the order once the attempt can no longer be paid).
fn resume_link(attempt: &AttemptRow, key: Option<&str>) -> String {
    let path = format!(
        "/payments/{}/go/{}",
        attempt.provider.as_str(),
        attempt.reference
    );
    match key.filter(|k| !k.is_empty() && k.chars().all(|c| c.is_ascii_alphanumeric())) {
        Some(key) => format!("{path}?key={key}"),
        None => path,
    }
}

/// `GET /api/orders/{reference}/status` and the first message of the live stream.
pub async fn status(db: &Db, order: &OrderRow) -> ServerResult<OrderStatusJson> {
    let mut conn = db.pool.acquire().await?;
    let provider = attempts::latest_attempt(&mut conn, order.id)
        .await?
        .map(|a| a.provider.as_str().to_string());
    Ok(status_json(order, order.status, provider))
}

/// The order, and its newest attempt if it is `provider`'s and still awaiting payment.
async fn awaiting_attempt(
    db: &Db,
    provider: ProviderId,
    reference: &str,
) -> ServerResult<Option<(OrderRow, AttemptRow)>> {
    let mut conn = db.pool.acquire().await?;
    let Some(order) = orders::by_reference(&mut conn, reference).await? else {
        return Ok(None);
    };
    if order.status != OrderStatus::AwaitingPayment {
        return Ok(None);
    }
    let attempt = attempts::latest_attempt(&mut conn, order.id)
        .await?
        .filter(|a| a.provider == provider);
    Ok(attempt.map(|a| (order, a)))
}

/// The shopper is back from the provider (`/payments/{provider}/return/{reference}`, or its
/// cancel URL): the provider completes the return its way (a lookup, or PayPal's capture) and the
/// answer is applied. What the browser carries is never proof of anything. Errors are logged; the
/// page shows what is known.
pub async fn returned(
    state: &AppState,
    provider: ProviderId,
    reference: &str,
    params: &[(String, String)],
    posted: bool,
) {
    if let Err(e) = try_returned(state, provider, reference, params, posted).await {
        tracing::warn!(order = reference, error = %e, "status lookup after the return failed");
    }
}

async fn try_returned(
    state: &AppState,
    provider_id: ProviderId,
    reference: &str,
    params: &[(String, String)],
    posted: bool,
) -> ServerResult<()> {
    let Some(provider) = state.payments.get(provider_id) else {
        return Ok(());
    };
    let Some((_, attempt)) = awaiting_attempt(&state.db, provider_id, reference).await? else {
        return Ok(());
    };
    let Some(session_id) = attempt.provider_session_id.as_deref() else {
        return Ok(());
    };
    // Anyone may open a return link, again and again: one lookup per attempt at a time, and (for a
    // link, not a posted return) none sooner than a few seconds after the last; the rest show the
    // stored state (the order page follows the status live).
    let lookups = &state.limits.lookups;
    let slot = if posted {
        lookups.begin_posted(&attempt.reference).await
    } else {
        lookups.begin(&attempt.reference, true)
    };
    let Some(_slot) = slot else {
        tracing::debug!(
            order = reference,
            "return lookup skipped: one was made just now"
        );
        return Ok(());
    };
    let at = AttemptRef {
        reference: &attempt.reference,
        session_id: Some(session_id),
    };
    let update = provider
        .complete_return(at, params)
        .await
        .map_err(|e| ServerError::Internal(e.to_string()))?;
    let applied = payment_updates::apply(&state.db, &state.events, &update).await?;
    tracing::info!(order = reference, outcome = %applied.describe(), "status lookup after the return");
    Ok(())
}

/// The shopper (or a merchant) cancels an unpaid order: its open attempt becomes `cancelling` under
/// the order's lock (so a payment landing at the same moment wins or loses cleanly), the provider
/// closes the session where it can, and its answer is applied like any other.
pub async fn cancel(
    state: &AppState,
    provider_id: ProviderId,
    order: &OrderRow,
) -> ServerResult<()> {
    let Some(provider) = state.payments.get(provider_id) else {
        return Err(ServerError::invalid(format!(
            "{} is not available.",
            provider_id.label()
        )));
    };
    let Some((_, attempt)) = awaiting_attempt(&state.db, provider_id, &order.reference).await?
    else {
        return Err(ServerError::invalid(format!(
            "Order {} can no longer be cancelled.",
            order.reference
        )));
    };
    // Decided under the order's lock, like every payment update: a payment landing at the same
    // moment is applied entirely before or entirely after this.
    let began = {
        let mut tx = state.db.begin_write().await?;
        let locked = orders::lock(&mut tx, order.id).await?;
        let latest = attempts::latest_attempt(&mut tx, order.id).await?;
        let open = locked.is_some_and(|o| o.status == OrderStatus::AwaitingPayment)
            && latest.is_some_and(|a| a.id == attempt.id && a.state == AttemptState::Open);
        if open {
            // A capture (PayPal) or a sale (Braintree) claimed a moment ago may be taking the
            // money: cancelling under it would charge a cancelled order. Once the attempt is
            // `cancelling` no new claim can be made.
            let stale_before = now_ms() - STALE_AFTER_MS;
            if !attempts::no_capture_in_flight(&mut tx, attempt.id, stale_before).await? {
                return Err(ServerError::invalid(format!(
                    "{} is taking the payment for order {} right now, so it cannot be cancelled yet. Reload the page in a minute to see how it ended.",
                    provider_id.label(),
                    order.reference
                )));
            }
            attempts::set_attempt_state(&mut tx, attempt.id, AttemptState::Cancelling, None)
                .await?;
            tx.commit().await?;
        }
        open
    };
    if !began && attempt.state != AttemptState::Cancelling {
        return Err(ServerError::invalid(format!(
            "Order {} can no longer be cancelled.",
            order.reference
        )));
    }
    let at = AttemptRef {
        reference: &attempt.reference,
        session_id: attempt.provider_session_id.as_deref(),
    };
    let update = provider.cancel(at).await.map_err(|e| {
        tracing::warn!(order = %order.reference, error = %e, "cancel at the provider failed");
        ServerError::invalid(format!(
            "{} Please try again in a moment.",
            e.shopper_message(provider_id)
        ))
    })?;
    let applied = payment_updates::apply(&state.db, &state.events, &update).await?;
    tracing::info!(order = %order.reference, outcome = %applied.describe(), "cancel");
    if update.outcome == Outcome::Pending {
        // The provider did not close the session (SSLCOMMERZ has no such call; a PayPal order
        // the shopper approved is about to be captured): nothing changes, and the attempt is
        // open again, so the return, the webhook and the reconciler settle it as before.
        let mut tx = state.db.begin_write().await?;
        orders::lock(&mut tx, order.id).await?;
        if attempts::latest_attempt(&mut tx, order.id)
            .await?
            .is_some_and(|a| a.id == attempt.id && a.state == AttemptState::Cancelling)
        {
            attempts::set_attempt_state(&mut tx, attempt.id, AttemptState::Open, None).await?;
        }
        tx.commit().await?;
        return Err(ServerError::invalid(format!(
            "{} could not close order {}'s payment session: it may already be paid.",
            provider_id.label(),
            order.reference
        )));
    }
    Ok(())
}

/// Put an unpaid order's lines back into the cart (in the order's currency), skipping what can no
/// longer be bought, so the shopper can check out again.
pub async fn refill_cart(
    state: &AppState,
    cart: &super::cart::Cart<'_>,
    order: &OrderRow,
) -> ServerResult<()> {
    let status = order.status;
    if !status.releases_stock() {
        return Err(ServerError::invalid(format!(
            "Order {} is {}; there is nothing to try again.",
            order.reference,
            status.label().to_lowercase()
        )));
    }
    let currency = order.currency;
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
        match cart.put_back(line.product_id, quantity, currency).await {
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

/// The order and attempt behind a hand-off link (`/payments/{provider}/go/{attempt}`), if the
/// attempt exists and is `provider`'s.
pub async fn handoff(
    db: &Db,
    provider: ProviderId,
    attempt_reference: &str,
) -> ServerResult<Option<(OrderRow, AttemptRow)>> {
    let mut conn = db.pool.acquire().await?;
    let Some(attempt) = attempts::attempt_by_reference(&mut conn, attempt_reference)
        .await?
        .filter(|a| a.provider == provider)
    else {
        return Ok(None);
    };
    let order = orders::by_id(&mut conn, attempt.order_id).await?;
    Ok(order.map(|o| (o, attempt)))
}

/// [`line_views`] on a connection of its own.
pub async fn lines_of(db: &Db, order: &OrderRow) -> ServerResult<Vec<OrderLineView>> {
    let mut conn = db.pool.acquire().await?;
    line_views(&mut conn, order).await
}

/// An order's lines as the pages show them.
pub async fn line_views(
    conn: &mut sqlx::AnyConnection,
    order: &OrderRow,
) -> ServerResult<Vec<OrderLineView>> {
    let currency = order.currency;
    Ok(orders::lines(conn, order.id)
        .await?
        .into_iter()
        .map(|l| OrderLineView {
            name: l.name,
            quantity: l.quantity,
            unit_price: Money::new(l.unit_minor, currency),
            line_total: Money::new(l.line_minor, currency),
        })
        .collect())
}
