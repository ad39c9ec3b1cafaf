//! The merchant's order page (`/admin/orders/{reference}`): reading the order with its attempts,
//! refunds and timeline (a handful of queries, none per row), and the merchant's two actions on
//! it: **Accept as paid** for an order under review, and **Look up now**, which asks the provider
//! about each open attempt and applies the answer the way the reconciler does. The callers
//! (server functions) check the merchant role first.

use super::order_views::{refund_view, status_json};
use super::payment_updates;
use super::refunds;
use super::timeline::{mask_card_numbers, shown_headers, shown_payload};
use crate::error::AppError;
use crate::model::{
    AdminAttemptView, AdminOrderView, Currency, CurrentUser, DeliveryEntry, DeliveryOutcome,
    EmailEntry, EmailStatus, LedgerEntry, Money, OrderStatus, ProviderId, TimelineItem,
};
use crate::server::context::Ctx;
use crate::server::db::admin_orders as db;
use crate::server::db::attempts;
use crate::server::db::ledger;
use crate::server::db::ledger::NewEvent;
use crate::server::db::orders::{self, OrderRow};
use crate::server::db::outbox;
use crate::server::error::{ServerError, ServerResult};
use crate::server::payments::attempt::AttemptState;
use crate::server::payments::{AttemptRef, Customer, Source};
use crate::server::state::AppState;

/// The most inbox deliveries one order's timeline lists.
const MAX_DELIVERIES: i64 = 200;

/// The logged-in merchant; anyone else is refused with a 403 (the page and every server function
/// of the merchant's order pages call this first).
pub async fn merchant_only(ctx: &Ctx) -> ServerResult<CurrentUser> {
    let refused = ctx.require_merchant().await;
    if let Err(ServerError::User(AppError::Unauthorized | AppError::Forbidden)) = &refused {
        crate::server::http::set_status(axum::http::StatusCode::FORBIDDEN);
    }
    refused
}

/// The order or "Not found".
async fn order(state: &AppState, reference: &str) -> ServerResult<OrderRow> {
    let mut conn = state.db.pool.acquire().await?;
    orders::by_reference(&mut conn, reference)
        .await?
        .ok_or(ServerError::User(AppError::NotFound))
}

/// The amount a provider reported, readable: `$18.00` for a known currency, else as given.
fn reported_amount(minor: Option<i64>, currency: Option<&str>) -> Option<String> {
    let (minor, code) = (minor?, currency?);
    Some(match code.parse::<Currency>() {
        Ok(c) => Money::new(minor, c).to_string(),
        Err(_) => format!("{minor} (minor units) {code}"),
    })
}

/// Why the order is under review: the note of the ledger event that moved it there.
fn review_reason(timeline: &[TimelineItem]) -> Option<String> {
    timeline.iter().rev().find_map(|item| match item {
        TimelineItem::Event(e)
            if e.to_status == Some(OrderStatus::NeedsReview)
                && e.outcome.starts_with("applied") =>
        {
            Some(
                e.outcome
                    .split_once(" (")
                    .and_then(|(_, note)| note.strip_suffix(')'))
                    .unwrap_or(&e.outcome)
                    .to_string(),
            )
        }
        _ => None,
    })
}

/// An attempt's stored state as the merchant reads it.
fn attempt_state_label(stored: &str) -> String {
    match AttemptState::parse(stored) {
        Some(AttemptState::New) => "not started".into(),
        Some(AttemptState::Starting) => "starting".into(),
        Some(AttemptState::Unanswered) => "provider did not answer (retrying)".into(),
        Some(AttemptState::Refused) => "refused by the provider".into(),
        Some(AttemptState::Open) => "open at the provider".into(),
        Some(AttemptState::Cancelling) => "cancelling".into(),
        Some(AttemptState::Paid) => "paid".into(),
        Some(AttemptState::Failed) => "failed".into(),
        Some(AttemptState::Cancelled) => "cancelled".into(),
        Some(AttemptState::Expired) => "expired".into(),
        Some(AttemptState::NeedsReview) => "needs review".into(),
        None => stored.to_string(),
    }
}

fn address_lines(customer: &Customer) -> Vec<String> {
    [
        customer.address.clone(),
        format!("{} {}", customer.postcode, customer.city),
        customer.country.clone(),
        customer.phone.clone(),
    ]
    .into_iter()
    .map(|l| l.trim().to_string())
    .filter(|l| !l.is_empty())
    .collect()
}

/// The merchant's view of an order.
pub async fn view(state: &AppState, reference: &str) -> ServerResult<AdminOrderView> {
    let order = order(state, reference).await?;
    let currency = order.currency;
    let mut conn = state.db.pool.acquire().await?;
    let lines = super::orders::line_views(&mut conn, &order).await?;
    let attempt_rows = db::attempts(&mut conn, order.id).await?;
    let references: Vec<String> = attempt_rows.iter().map(|a| a.reference.clone()).collect();
    let events = db::events(&mut conn, order.id).await?;
    let deliveries = db::deliveries(&mut conn, &references, MAX_DELIVERIES).await?;
    let refunds = db::refunds(&mut conn, order.id)
        .await?
        .into_iter()
        .map(|r| refund_view(r, true))
        .collect::<ServerResult<Vec<_>>>()?;
    let emails = outbox::for_reference(&mut conn, &order.reference)
        .await?
        .into_iter()
        .map(email_entry)
        .collect();
    drop(conn);

    let mut timeline: Vec<TimelineItem> = Vec::with_capacity(events.len() + deliveries.len());
    for e in events {
        timeline.push(TimelineItem::Event(LedgerEntry {
            at: e.created_at,
            attempt: e.attempt_reference,
            provider: ProviderId::parse(&e.provider)
                .ok_or_else(|| ServerError::Internal(format!("provider {:?}", e.provider)))?,
            amount: reported_amount(e.amount_minor, e.currency.as_deref()),
            source: e.source,
            kind: mask_card_numbers(&e.kind),
            event_id: e.event_id,
            from_status: OrderStatus::parse(&e.from_status),
            to_status: OrderStatus::parse(&e.to_status),
            outcome: mask_card_numbers(&e.outcome),
            payload: shown_payload(e.payload.as_bytes()),
        }));
    }
    for d in deliveries {
        timeline.push(TimelineItem::Delivery(DeliveryEntry {
            at: d.received_at,
            provider: ProviderId::parse(&d.provider)
                .map(|p| p.label().to_string())
                .unwrap_or(d.provider),
            attempt: d.attempt_reference,
            event_id: d.event_id,
            outcome: DeliveryOutcome::of(d.outcome.as_deref()),
            detail: mask_card_numbers(d.outcome.as_deref().unwrap_or("not finished")),
            headers: shown_headers(&d.headers),
            payload: shown_payload(&d.body),
        }));
    }
    // Stable: at the same millisecond a delivery (received first) stays before its ledger row.
    timeline.sort_by_key(|item| (item.at(), matches!(item, TimelineItem::Event(_)) as u8));

    let attempts = attempt_rows
        .into_iter()
        .map(|a| {
            let last_lookup_at = timeline.iter().rev().find_map(|item| match item {
                TimelineItem::Event(e) if e.source == "lookup" && e.attempt == a.reference => {
                    Some(e.at)
                }
                _ => None,
            });
            let state = AttemptState::parse(&a.state);
            let live = state.is_some_and(AttemptState::is_live);
            let open = a.provider_session_id.is_some()
                && state
                    .is_some_and(|s| matches!(s, AttemptState::Open | AttemptState::Cancelling));
            Ok(AdminAttemptView {
                live,
                open,
                provider: ProviderId::parse(&a.provider)
                    .ok_or_else(|| ServerError::Internal(format!("provider {:?}", a.provider)))?,
                reference: a.reference,
                session_id: a.provider_session_id,
                payment_id: a.provider_payment_id,
                state: attempt_state_label(&a.state),
                created_at: a.created_at,
                lookups: a.lookups,
                last_lookup_at,
                next_lookup_at: a.next_lookup_at,
            })
        })
        .collect::<ServerResult<Vec<_>>>()?;
    // Look up now also asks about refunds the provider has not settled.
    let has_open_attempt = attempts.iter().any(|a| a.open)
        || refunds
            .iter()
            .any(|r| r.status == crate::model::RefundStatus::Pending);
    let customer: Option<Customer> = serde_json::from_str(&order.address).ok();
    Ok(AdminOrderView {
        reference: order.reference.clone(),
        status: order.status,
        created_at: order.created_at,
        email: order.email.clone(),
        name: customer
            .as_ref()
            .map(|c| c.name.clone())
            .unwrap_or_default(),
        address: customer.as_ref().map(address_lines).unwrap_or_default(),
        lines,
        total: order.total(),
        refunded: Money::new(order.refunded_minor, currency),
        attempts,
        refunds,
        review_reason: (order.status == OrderStatus::NeedsReview)
            .then(|| review_reason(&timeline))
            .flatten(),
        timeline,
        has_open_attempt,
        emails,
    })
}

/// An outbox row as the merchant reads it.
fn email_entry(row: outbox::OutboxEntry) -> EmailEntry {
    let status = match (row.sent_at, row.dead_at) {
        (Some(at), _) => EmailStatus::Sent { at },
        (None, Some(at)) => EmailStatus::Dead { at },
        (None, None) => EmailStatus::Waiting {
            next_at: row.next_attempt_at.max(row.created_at),
        },
    };
    let kind = match row.kind.as_str() {
        outbox::kind::ORDER_PAID => "Order confirmation",
        outbox::kind::ORDER_FAILED => "Payment failed note",
        outbox::kind::ORDER_EXPIRED => "Order expired note",
        outbox::kind::REFUND => "Refund confirmation",
        outbox::kind::NEEDS_REVIEW => "Merchant alert: needs review",
        other => other,
    };
    EmailEntry {
        kind: kind.to_string(),
        created_at: row.created_at,
        status,
        attempts: row.attempts,
        last_error: row.last_error,
    }
}

/// How many emails were given up on (the merchant's order list warns while there are any).
pub async fn dead_emails(state: &AppState) -> ServerResult<i64> {
    let mut conn = state.db.pool.acquire().await?;
    Ok(outbox::dead_count(&mut conn).await?)
}

/// What **Accept as paid** did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Accepted {
    /// The order moved from *Needs review* to *Paid*. `stock_short`: the order had given its
    /// stock back (it was given up before the money came) and some lines are no longer in stock.
    Now { stock_short: bool },
    /// It was accepted before (a second press): nothing changed.
    Already,
}

/// The merchant accepts the money of an order under review as its payment: under the order's
/// lock, one ledger event (source `merchant`, event id `merchant-accept-{reference}`, so a second
/// press is a no-op), the attempt under review and the order become paid, the paid email is
/// queued as for any paid order, stock given back when the order was given up is taken again, and
/// live listeners are told after the commit.
pub async fn accept_as_paid(
    state: &AppState,
    merchant: &CurrentUser,
    reference: &str,
) -> ServerResult<Accepted> {
    let order_id = order(state, reference).await?.id;
    let mut tx = state.db.begin_write().await?;
    let order = orders::lock(&mut tx, order_id)
        .await?
        .ok_or_else(|| ServerError::Internal(format!("order {order_id} vanished")))?;
    let attempts = db::attempts(&mut tx, order.id).await?;
    // The attempt whose money is under review (the newest such), else the newest attempt.
    let Some(attempt) = attempts
        .iter()
        .rev()
        .find(|a| a.state == AttemptState::NeedsReview.as_str())
        .or_else(|| attempts.last())
    else {
        return Err(ServerError::invalid(format!(
            "Order {reference} has no payment to accept."
        )));
    };
    let event_id = format!("merchant-accept-{}", order.reference);
    let payload = serde_json::json!({
        "decision": "accept_as_paid",
        "merchant_id": merchant.id,
        "merchant": merchant.email,
    })
    .to_string();
    let fresh = ledger::insert_event(
        &mut tx,
        &NewEvent {
            attempt_reference: &attempt.reference,
            provider: &attempt.provider,
            event_id: &event_id,
            source: Source::Merchant.as_str(),
            kind: "accept as paid",
            amount_minor: None,
            currency: None,
            payload: &payload,
        },
    )
    .await?;
    if !fresh {
        // Accepted before; the transaction is dropped (rolled back) unchanged.
        return Ok(Accepted::Already);
    }
    if order.status != OrderStatus::NeedsReview {
        return Err(ServerError::invalid(format!(
            "Only an order that needs review can be accepted as paid; {reference} is {}.",
            order.status.label().to_lowercase()
        )));
    }
    let from = order.status;
    let to = OrderStatus::Paid;
    attempts::set_attempt_state(&mut tx, attempt.id, AttemptState::Paid, None).await?;
    orders::set_status(&mut tx, order.id, to).await?;
    // An order given up before its money came had given its stock back; now it ships.
    let stock_short = db::take_back_stock(&mut tx, order.id)
        .await?
        .unwrap_or(false);
    let note = serde_json::json!({"reference": order.reference, "email": order.email}).to_string();
    outbox::insert_outbox(
        &mut tx,
        crate::server::db::outbox::kind::ORDER_PAID,
        &order.reference,
        &note,
    )
    .await?;
    ledger::finish_event(
        &mut tx,
        &attempt.provider,
        &event_id,
        from.as_str(),
        to.as_str(),
        &format!(
            "applied: {} -> {} (accepted by {})",
            from.as_str(),
            to.as_str(),
            merchant.email
        ),
    )
    .await?;
    tx.commit().await?;
    // The order's stock, given back when it was given up, is taken again.
    state.events.catalogue_changed();
    tracing::info!(order = %order.reference, merchant = merchant.id, "merchant accepted a payment under review");
    state
        .events
        .publish(status_json(&order, to, Some(attempt.provider.clone())));
    Ok(Accepted::Now { stock_short })
}

/// **Look up now**: ask the provider about each open attempt of the order and apply each answer
/// through the reconciler's path ([`payment_updates::apply`]). Returns one line per attempt; a
/// provider that does not answer is an error naming it, and its attempt is left as it was.
pub async fn look_up_now(state: &AppState, reference: &str) -> ServerResult<String> {
    let order = order(state, reference).await?;
    let attempts = {
        let mut conn = state.db.pool.acquire().await?;
        attempts::live_attempts(&mut conn, order.id).await?
    };
    let open: Vec<_> = attempts
        .iter()
        .filter(|a| matches!(a.state, AttemptState::Open | AttemptState::Cancelling))
        .filter(|a| a.provider_session_id.is_some())
        .collect();
    let pending_refunds = refunds::pending_of(state, order.id).await?;
    if open.is_empty() && pending_refunds.is_empty() {
        return Ok(format!("Order {reference} has no open payment to look up."));
    }
    let mut done = Vec::new();
    let mut failed = Vec::new();
    for refund in &pending_refunds {
        let label = refund.provider.label();
        match refunds::recheck(state, refund).await {
            Ok(()) => done.push(format!(
                "asked {label} about the refund of {}",
                refund.amount()
            )),
            Err(e) => {
                tracing::warn!(refund = refund.id, error = %e, "merchant's refund lookup failed");
                failed.push(format!(
                    "The refund of {}: {label} did not answer; nothing was changed. Try again in a moment.",
                    refund.amount()
                ));
            }
        }
    }
    for attempt in open {
        let label = attempt.provider.label();
        let Some(provider) = state.payments.get(attempt.provider) else {
            failed.push(format!("{}: {label} is not configured.", attempt.reference));
            continue;
        };
        let at = AttemptRef {
            reference: &attempt.reference,
            session_id: attempt.provider_session_id.as_deref(),
        };
        match provider.lookup(at).await {
            Ok(update) => {
                let applied = payment_updates::apply(&state.db, &state.events, &update).await?;
                tracing::info!(attempt = %attempt.reference, outcome = %applied.describe(), "merchant's lookup");
                done.push(format!("{}: {}", attempt.reference, applied.describe()));
            }
            Err(e) => {
                tracing::warn!(attempt = %attempt.reference, error = %e, "merchant's lookup failed");
                failed.push(format!(
                    "{}: {label} did not answer; nothing was changed. Try again in a moment.",
                    attempt.reference
                ));
            }
        }
    }
    if failed.is_empty() {
        Ok(done.join("; "))
    } else {
        Err(ServerError::invalid(
            failed.into_iter().chain(done).collect::<Vec<_>>().join(" "),
        ))
    }
}
