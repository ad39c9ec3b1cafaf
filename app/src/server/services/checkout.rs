//! Placing an order (design.md §4.1): re-price the cart, reserve stock, snapshot the quote, create
//! the order and its attempt in one transaction keyed by the form's idempotency key, then open the
//! provider's hosted payment with the attempt reference as its idempotency key.
//!
//! A double submit or a retry finds the same order; only one caller at a time may call the
//! provider for an attempt (a claim in the database), the others wait for its answer.

use super::cart::{Cart, Owner};
use crate::model::{CheckoutView, Email, Money, OrderStatus, ProviderId};
use crate::server::auth::ShopSession;
use crate::server::db::orders::{self, AttemptRow, LineRow, NewOrder, OrderRow};
use crate::server::db::{self, now_ms};
use crate::server::error::{ServerError, ServerResult};
use crate::server::payments::{Customer, PaymentError, QuoteLine, StartRequest};
use crate::server::state::AppState;
use std::time::Duration;

/// A claim on an attempt older than this is treated as abandoned (its caller died).
const CLAIM_TIMEOUT_MS: i64 = 30_000;
/// How long a twin request waits for the claimant's answer.
const WAIT_FOR_TWIN: Duration = Duration::from_secs(15);

/// The checkout form as posted.
#[derive(Debug, Clone)]
pub struct CheckoutForm {
    pub checkout_key: String,
    pub provider: String,
    pub customer: Customer,
}

fn field(value: &str, label: &str, max: usize) -> ServerResult<String> {
    let value = value.trim();
    if value.is_empty() {
        return Err(ServerError::invalid(format!("Please enter your {label}.")));
    }
    if value.chars().count() > max {
        return Err(ServerError::invalid(format!(
            "Your {label} is too long (at most {max} characters)."
        )));
    }
    Ok(value.to_string())
}

/// Check and tidy what the shopper typed.
fn validated(form: &CheckoutForm) -> ServerResult<Customer> {
    let c = &form.customer;
    let email = Email::parse(&c.email).map_err(ServerError::invalid)?;
    let phone = c.phone.trim();
    if phone.chars().count() > 20
        || !phone
            .chars()
            .all(|ch| ch.is_ascii_digit() || " +-()".contains(ch))
    {
        return Err(ServerError::invalid(
            "Enter the phone number with digits, spaces, + - ( ) only.",
        ));
    }
    Ok(Customer {
        email: email.as_str().to_string(),
        name: field(&c.name, "name", 100)?,
        address: field(&c.address, "address", 200)?,
        city: field(&c.city, "city", 60)?,
        postcode: field(&c.postcode, "postcode", 20)?,
        country: field(&c.country, "country", 60)?,
        phone: phone.to_string(),
    })
}

fn cart_of<'a>(state: &'a AppState, session: &'a ShopSession, user_id: Option<i64>) -> Cart<'a> {
    Cart {
        db: &state.db,
        session,
        owner: user_id.map_or(Owner::Guest, Owner::Customer),
    }
}

/// What the checkout page shows.
pub async fn view(state: &AppState, session: &ShopSession) -> ServerResult<CheckoutView> {
    let user_id = session.user_id().await?;
    let currency = session.currency().await?;
    let cart = cart_of(state, session, user_id).view(currency).await?;
    let email = match user_id {
        Some(id) => {
            let mut conn = state.db.pool.acquire().await?;
            db::users::by_id(&mut conn, id).await?.map(|u| u.email)
        }
        None => None,
    };
    Ok(CheckoutView {
        providers: state.payments.offered_for(cart.total),
        cart,
        email,
        checkout_key: session.checkout_key().await?,
    })
}

/// Place the order (or find the one this form already placed) and return where to send the
/// browser: the provider's page, or the order page when nothing is left to pay.
pub async fn place_order(
    state: &AppState,
    session: &ShopSession,
    form: CheckoutForm,
) -> ServerResult<String> {
    let customer = validated(&form)?;
    let provider_id = ProviderId::parse(&form.provider)
        .ok_or_else(|| ServerError::invalid("Please choose a payment method."))?;
    let provider = state.payments.get(provider_id).ok_or_else(|| {
        ServerError::invalid(format!("{} is not available.", provider_id.label()))
    })?;
    let key = form.checkout_key.trim();
    if key.is_empty() || key.len() > 64 {
        return Err(ServerError::invalid(
            "The checkout form has expired. Please reload the page.",
        ));
    }
    let user_id = session.user_id().await?;

    let existing = {
        let mut conn = state.db.pool.acquire().await?;
        orders::by_key(&mut conn, key).await?
    };
    let order = match existing {
        Some(order) => order,
        None => {
            let currency = session.currency().await?;
            let cart = cart_of(state, session, user_id).view(currency).await?;
            if cart.is_empty() {
                return Err(ServerError::invalid("Your cart is empty."));
            }
            if !cart.notices.is_empty() {
                return Err(ServerError::invalid(format!(
                    "{} Please check your order and press Pay again.",
                    cart.notices.join(" ")
                )));
            }
            if !provider.capabilities().accepts(cart.total) {
                return Err(ServerError::invalid(format!(
                    "{} cannot take a payment of {}. Please choose another payment method.",
                    provider_id.label(),
                    cart.total
                )));
            }
            create(state, key, user_id, &customer, &cart, provider_id).await?
        }
    };
    // The key is a secret of the session it was rendered into; an order from it stays with the
    // account (or the guest) that placed it.
    if order.user_id != user_id {
        // Logged in or out since the key was issued: the next render gets a fresh key.
        session.rotate_checkout_key().await?;
        return Err(ServerError::invalid(
            "The checkout form has expired. Please reload the page.",
        ));
    }
    let total = Money::new(
        order.total_minor,
        order
            .currency
            .parse()
            .map_err(|_| ServerError::Internal(format!("bad currency {}", order.currency)))?,
    );
    if !provider.capabilities().accepts(total) {
        return Err(ServerError::invalid(format!(
            "{} cannot take a payment of {total}. Please choose another payment method.",
            provider_id.label()
        )));
    }
    session.remember_order(&order.reference).await?;
    let status = OrderStatus::parse(&order.status).unwrap_or(OrderStatus::Failed);
    if status != OrderStatus::AwaitingPayment {
        session.rotate_checkout_key().await?;
        return Ok(format!("/orders/{}", order.reference));
    }
    let url = pay(state, &order, provider_id, &customer).await?;
    // The order is on its way to the provider: the cart is done, the next checkout is new.
    match user_id {
        Some(id) => {
            let mut conn = state.db.pool.acquire().await?;
            db::carts::clear(&mut conn, id).await?;
        }
        None => session.set_guest_cart(&[]).await?,
    }
    session.rotate_checkout_key().await?;
    Ok(url)
}

/// Create the order, its lines (reserving stock) and its first attempt in one transaction.
async fn create(
    state: &AppState,
    key: &str,
    user_id: Option<i64>,
    customer: &Customer,
    cart: &crate::model::CartView,
    provider_id: ProviderId,
) -> ServerResult<OrderRow> {
    let guest_token = uuid::Uuid::new_v4().simple().to_string();
    let address =
        serde_json::to_string(customer).map_err(|e| ServerError::Internal(e.to_string()))?;
    let mut tx = state.db.pool.begin().await?;
    let inserted = orders::insert(
        &mut tx,
        &NewOrder {
            idempotency_key: key,
            user_id,
            guest_token: &guest_token,
            email: &customer.email,
            name: &customer.name,
            address: &address,
            currency: cart.currency.code(),
            total_minor: cart.total.minor,
        },
    )
    .await?;
    let Some(order) = inserted else {
        // A twin request created it first.
        drop(tx);
        let mut conn = state.db.pool.acquire().await?;
        return orders::by_key(&mut conn, key)
            .await?
            .ok_or_else(|| ServerError::Internal("order vanished after a key conflict".into()));
    };
    for line in &cart.lines {
        if !orders::reserve_stock(&mut tx, line.product_id, line.quantity).await? {
            return Err(ServerError::invalid(format!(
                "Sorry, {} just sold out or has fewer left than you asked for. Please check your cart.",
                line.name
            )));
        }
        orders::insert_line(
            &mut tx,
            order.id,
            &LineRow {
                product_id: line.product_id,
                name: line.name.clone(),
                unit_minor: line.unit_price.minor,
                quantity: line.quantity,
                line_minor: line.line_total.minor,
            },
        )
        .await?;
    }
    orders::insert_attempt(&mut tx, &order, provider_id.as_str()).await?;
    tx.commit().await?;
    tracing::info!(order = %order.reference, total = %cart.total, "order placed");
    Ok(order)
}

/// Get a hosted payment for the order: reuse the open attempt, or make a new one.
async fn pay(
    state: &AppState,
    order: &OrderRow,
    provider_id: ProviderId,
    customer: &Customer,
) -> ServerResult<String> {
    let deadline = tokio::time::Instant::now() + WAIT_FOR_TWIN;
    loop {
        let mut conn = state.db.pool.acquire().await?;
        let attempt = match orders::latest_attempt(&mut conn, order.id).await? {
            Some(a) if a.state != "error" => a,
            // The last one could not reach its provider: a new attempt (a twin may make it first).
            _ => match orders::insert_attempt(&mut conn, order, provider_id.as_str()).await {
                Ok(a) => a,
                Err(sqlx::Error::Database(e)) if e.is_unique_violation() => continue,
                Err(e) => return Err(e.into()),
            },
        };
        match attempt.state.as_str() {
            "open" => {
                if let Some(url) = attempt.redirect_url {
                    return Ok(url);
                }
            }
            "new" | "starting" => {
                if orders::claim_attempt(&mut conn, attempt.id, now_ms() - CLAIM_TIMEOUT_MS).await?
                {
                    drop(conn);
                    return start(state, order, &attempt, customer).await;
                }
            }
            // Paid, failed, cancelled…: the order page says what happened.
            _ => return Ok(format!("/orders/{}", order.reference)),
        }
        drop(conn);
        if tokio::time::Instant::now() > deadline {
            return Err(ServerError::invalid(
                "Your payment is still being set up. Please press Pay again in a moment.",
            ));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Call the provider for a claimed attempt and record its answer.
async fn start(
    state: &AppState,
    order: &OrderRow,
    attempt: &AttemptRow,
    customer: &Customer,
) -> ServerResult<String> {
    let provider_id = ProviderId::parse(&attempt.provider)
        .ok_or_else(|| ServerError::Internal(format!("unknown provider {}", attempt.provider)))?;
    let provider = state.payments.get(provider_id).ok_or_else(|| {
        ServerError::invalid(format!("{} is not available.", provider_id.label()))
    })?;
    let currency = order
        .currency
        .parse()
        .map_err(|_| ServerError::Internal(format!("bad currency {}", order.currency)))?;
    let lines = {
        let mut conn = state.db.pool.acquire().await?;
        orders::lines(&mut conn, order.id).await?
    };
    let request = StartRequest {
        order_reference: order.reference.clone(),
        attempt_reference: attempt.reference.clone(),
        total: Money::new(order.total_minor, currency),
        lines: lines
            .into_iter()
            .map(|l| QuoteLine {
                name: l.name,
                quantity: l.quantity,
                unit: Money::new(l.unit_minor, currency),
            })
            .collect(),
        customer: customer.clone(),
        public_url: state.settings.public_url.clone(),
    };
    let result = provider.start(&request).await;
    let mut conn = state.db.pool.acquire().await?;
    match result {
        Ok(started) => {
            let first_lookup = now_ms() + super::reconciler::FIRST_LOOKUP_MS;
            orders::attempt_started(
                &mut conn,
                attempt.id,
                &started.session_id,
                &started.redirect_url,
                first_lookup,
            )
            .await?;
            tracing::info!(attempt = %attempt.reference, provider = provider_id.as_str(), "payment session opened");
            Ok(started.redirect_url)
        }
        Err(e) => {
            orders::set_attempt_state(&mut conn, attempt.id, "error", Some(&e.to_string())).await?;
            tracing::warn!(attempt = %attempt.reference, provider = provider_id.as_str(), error = %e, "could not open a payment session");
            let advice = format!(
                "Your order {} is kept: press Pay to try again, or choose another payment method.",
                order.reference
            );
            Err(ServerError::invalid(match e {
                PaymentError::Refused(message) => format!("{message}. {advice}"),
                PaymentError::Unavailable(_) => format!(
                    "{} is not answering right now. {advice}",
                    provider_id.label()
                ),
            }))
        }
    }
}
