//! Placing an order (docs/payments.md#placing-an-order): re-price the cart, reserve stock, snapshot the quote, create
//! the order and its attempt in one transaction keyed by the form's idempotency key, then open the
//! provider's hosted payment with the attempt reference as its idempotency key.
//!
//! A double submit or a retry finds the same order; only one caller at a time may call the
//! provider for an attempt (a claim in the database), the others wait for its answer.

use super::cart::{Cart, Owner};
use crate::model::{
    country, CartView, CheckoutDetails, CheckoutView, Email, FieldErrors, Money, OrderStatus,
    PaymentChoice, ProviderId,
};
use crate::server::auth::ShopSession;
use crate::server::db::attempts;
use crate::server::db::attempts::AttemptRow;
use crate::server::db::orders::{self, LineRow, NewOrder, OrderRow};
use crate::server::db::{self, now_ms};
use crate::server::error::{ServerError, ServerResult};
use crate::server::payments::attempt::AttemptState;
use crate::server::payments::{
    Customer, NextStep, PaymentError, QuoteLine, ShopUrls, StartRequest,
};
use crate::server::state::AppState;
use sha2::{Digest, Sha256};
use std::time::Duration;

/// A claim on an attempt older than this is treated as abandoned (its caller died).
const CLAIM_TIMEOUT_MS: i64 = 30_000;
/// How long a twin request waits for the claimant's answer.
const WAIT_FOR_TWIN: Duration = Duration::from_secs(15);

/// The name the checkout form's refusals are kept under in the session.
pub const CHECKOUT_FORM: &str = "checkout";

/// The checkout form as posted.
#[derive(Debug, Clone)]
pub struct CheckoutForm {
    pub checkout_key: String,
    pub provider: String,
    pub customer: Customer,
    /// Who presses Pay, as per-address limits count it (`context::client_ip`).
    pub client_key: String,
}

/// A required text field, trimmed; its problem is noted under `name`.
fn field(errors: &mut FieldErrors, name: &str, value: &str, label: &str, max: usize) -> String {
    let value = value.trim();
    if value.is_empty() {
        errors.add(name, format!("Please enter your {label}."));
    } else if value.chars().count() > max {
        errors.add(
            name,
            format!("Your {label} is too long (at most {max} characters)."),
        );
    }
    value.to_string()
}

/// Check and tidy what the shopper typed; every field's problem at once, in the form's order.
fn validated(form: &CheckoutForm) -> ServerResult<Customer> {
    let c = &form.customer;
    let mut errors = FieldErrors::new();
    let email = match Email::parse(&c.email) {
        Ok(email) => email.as_str().to_string(),
        Err(e) => {
            errors.add("email", e.to_string());
            String::new()
        }
    };
    let name = field(&mut errors, "name", &c.name, "name", 100);
    let address = field(&mut errors, "address", &c.address, "address", 200);
    let city = field(&mut errors, "city", &c.city, "city", 60);
    let postcode = field(&mut errors, "postcode", &c.postcode, "postcode", 20);
    let country = match country::find(&c.country) {
        Some((name, _)) => name.to_string(),
        None if c.country.trim().is_empty() => {
            errors.add("country", "Please choose your country.");
            String::new()
        }
        None => {
            errors.add("country", "Please choose your country from the list.");
            String::new()
        }
    };
    let phone = c.phone.trim();
    if phone.chars().count() > 20
        || !phone
            .chars()
            .all(|ch| ch.is_ascii_digit() || " +-()".contains(ch))
    {
        errors.add(
            "phone",
            "Enter the phone number with digits, spaces, + - ( ) only (at most 20).",
        );
    }
    if ProviderId::parse(&form.provider).is_none() {
        errors.add("provider", "Please choose a payment method.");
    }
    errors
        .or_ok(Customer {
            email,
            name,
            address,
            city,
            postcode,
            country,
            phone: phone.to_string(),
        })
        .map_err(ServerError::Fields)
}

/// The form as typed, to fill it in again; each value cut to a length no field allows, so a
/// session never holds more than a few kilobytes of it.
pub fn details_of(form: &CheckoutForm) -> CheckoutDetails {
    let keep = |s: &str| s.chars().take(300).collect::<String>();
    let c = &form.customer;
    CheckoutDetails {
        email: keep(&c.email),
        name: keep(&c.name),
        address: keep(&c.address),
        city: keep(&c.city),
        postcode: keep(&c.postcode),
        country: keep(&c.country),
        phone: keep(&c.phone),
        provider: keep(&form.provider),
    }
}

/// An order's lines back into the cart and the details it was placed with back into the checkout
/// form (Try again, Back to cart).
pub async fn refill(
    state: &AppState,
    session: &ShopSession,
    cart: &Cart<'_>,
    order: &OrderRow,
) -> ServerResult<()> {
    super::orders::refill_cart(state, cart, order).await?;
    if let Some(details) = details_of_order(order) {
        session.set_checkout_details(&details).await?;
    }
    Ok(())
}

/// The details an order was placed with, to fill the checkout in again (Try again).
pub fn details_of_order(order: &OrderRow) -> Option<CheckoutDetails> {
    let customer: Customer = serde_json::from_str(&order.address).ok()?;
    Some(CheckoutDetails {
        email: customer.email,
        name: customer.name,
        address: customer.address,
        city: customer.city,
        postcode: customer.postcode,
        country: customer.country,
        phone: customer.phone,
        provider: order
            .provider
            .map(|p| p.as_str().to_string())
            .unwrap_or_default(),
    })
}

fn cart_of<'a>(state: &'a AppState, session: &'a ShopSession, user_id: Option<i64>) -> Cart<'a> {
    Cart {
        db: &state.db,
        session,
        owner: user_id.map_or(Owner::Guest, Owner::Customer),
        // What is ordered is priced from the database, never from a cache, and so is the saved
        // cart read.
        prices: None,
        kept: &state.sessions,
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
    let details = match session.checkout_details().await? {
        Some(details) => details,
        None => CheckoutDetails {
            email: email.unwrap_or_default(),
            ..CheckoutDetails::default()
        },
    };
    let errors = session
        .take_form_echo(CHECKOUT_FORM)
        .await?
        .map(|echo| echo.errors)
        .unwrap_or_default();
    Ok(CheckoutView {
        methods: PaymentChoice::for_providers(&state.payments.offered_for(cart.total)),
        cart,
        details,
        errors,
        checkout_key: session.checkout_key().await?,
    })
}

/// What one Pay is for: the form's key bound to the quote (lines, prices, currency, total), the
/// customer (account and details) and the method. The same Pay twice is the same order; a changed
/// cart, currency, address or method behind the same form is a new order.
fn fingerprint(
    key: &str,
    user_id: Option<i64>,
    customer: &Customer,
    cart: &CartView,
    provider: ProviderId,
) -> String {
    let mut h = Sha256::new();
    let mut put = |part: &str| {
        h.update(part.len().to_le_bytes());
        h.update(part.as_bytes());
    };
    put(key);
    put(&user_id.map_or_else(String::new, |id| id.to_string()));
    put(provider.as_str());
    put(&serde_json::to_string(customer).unwrap_or_default());
    put(cart.currency.code());
    put(&cart.total.minor.to_string());
    for line in &cart.lines {
        put(&format!(
            "{}x{}@{}",
            line.product_id, line.quantity, line.unit_price.minor
        ));
    }
    hex::encode(h.finalize())
}

/// Place the order (or find the one this form already placed for the same cart) and return where
/// to send the browser: the provider's page, or the order page when nothing is left to pay.
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
    let currency = session.currency().await?;
    let cart = cart_of(state, session, user_id).view(currency).await?;
    // A new order comes with its first attempt already claimed (one commit): this request opens
    // the provider session itself. An order found again goes through `pay`.
    let mut claimed = None;
    let order = if cart.is_empty() {
        // A twin of a Pay that already went through (it emptied the cart): the same order.
        let mut conn = state.db.pool.acquire().await?;
        orders::latest_by_checkout_key(&mut conn, key)
            .await?
            .ok_or_else(|| ServerError::invalid("Your cart is empty."))?
    } else {
        if !cart.notices.is_empty() {
            return Err(ServerError::invalid(format!(
                "{} Please check your order and press Pay again.",
                cart.notices.join(" ")
            )));
        }
        if !provider.capabilities().accepts(cart.total)
            || !state
                .payments
                .offered_for(cart.total)
                .contains(&provider_id)
        {
            return Err(ServerError::invalid(format!(
                "{} cannot take a payment of {}. Please choose another payment method.",
                provider_id.label(),
                cart.total
            )));
        }
        let bound_key = fingerprint(key, user_id, &customer, &cart, provider_id);
        let existing = {
            let mut conn = state.db.pool.acquire().await?;
            orders::by_key(&mut conn, &bound_key).await?
        };
        match existing {
            Some(order) => order,
            None => {
                refuse_too_many_open_orders(state, session, user_id).await?;
                let new = NewCheckout {
                    checkout_key: key,
                    bound_key: &bound_key,
                    user_id,
                    customer: &customer,
                    cart: &cart,
                    provider: provider_id,
                    client_key: &form.client_key,
                };
                let (order, attempt) = create(state, &new).await?;
                claimed = attempt;
                order
            }
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
    session.remember_order(&order.reference).await?;
    if order.status != OrderStatus::AwaitingPayment {
        session.rotate_checkout_key().await?;
        return Ok(format!("/orders/{}", order.reference));
    }
    let url = match claimed {
        Some(attempt) => started(state, &order, &attempt).await?,
        None => pay(state, &order).await?,
    };
    // The order is on its way to the provider: the cart is done, the next checkout is new.
    match user_id {
        Some(id) => {
            let cleared = state
                .db
                .committed(async |conn| db::carts::clear(conn, id).await)
                .await;
            state.sessions.cart_changed(id);
            cleared?
        }
        None => session.set_guest_cart(&[]).await?,
    }
    session.rotate_checkout_key().await?;
    Ok(url)
}

/// A shopper may hold only so many unpaid orders (and so much stock) at once.
async fn refuse_too_many_open_orders(
    state: &AppState,
    session: &ShopSession,
    user_id: Option<i64>,
) -> ServerResult<()> {
    let placed = session.placed_orders().await?;
    let open = {
        let mut conn = state.db.pool.acquire().await?;
        orders::count_awaiting(&mut conn, &placed, user_id).await?
    };
    let max = state.settings.payments.max_open_orders;
    if open >= max {
        return Err(ServerError::invalid(format!(
            "You already have {open} unpaid orders. Please pay or cancel one of them first \
             (unpaid orders are released after {} minutes).",
            state.settings.payments.hold_minutes
        )));
    }
    Ok(())
}

/// What [`create`] makes an order from.
struct NewCheckout<'a> {
    checkout_key: &'a str,
    bound_key: &'a str,
    user_id: Option<i64>,
    customer: &'a Customer,
    cart: &'a CartView,
    provider: ProviderId,
    /// The client address as per-address limits count it.
    client_key: &'a str,
}

/// Create the order, its lines (reserving stock) and its first attempt, claimed for this request,
/// in one transaction. The attempt is `None` when a twin request created the order first.
async fn create(
    state: &AppState,
    new: &NewCheckout<'_>,
) -> ServerResult<(OrderRow, Option<AttemptRow>)> {
    let guest_token = uuid::Uuid::new_v4().simple().to_string();
    let address =
        serde_json::to_string(new.customer).map_err(|e| ServerError::Internal(e.to_string()))?;
    let hold_until = now_ms() + state.settings.payments.hold_minutes * 60_000;
    let cart = new.cart;
    let max_units = state.settings.payments.max_unpaid_units;
    if let Some(line) = cart.lines.iter().find(|l| l.quantity > max_units) {
        return Err(ServerError::invalid(format!(
            "An order can hold at most {max_units} of {} until it is paid. Please lower the \
             quantity in your cart.",
            line.name
        )));
    }
    let mut tx = state.db.begin_write().await?;
    let inserted = orders::insert(
        &mut tx,
        &NewOrder {
            idempotency_key: new.bound_key,
            checkout_key: new.checkout_key,
            hold_until,
            user_id: new.user_id,
            guest_token: &guest_token,
            email: &new.customer.email,
            name: &new.customer.name,
            address: &address,
            currency: cart.currency.code(),
            total_minor: cart.total.minor,
            client_key: Some(new.client_key),
        },
    )
    .await?;
    let Some(order) = inserted else {
        // A twin request created it first. Read it through this transaction: on SQLite the twin's
        // work may still be in the open group, where a reader on another connection cannot see
        // it yet. Committing this (empty) transaction then waits for the COMMIT that carries the
        // twin's order, so it is durable before this request goes on with it.
        let order = orders::by_key(&mut tx, new.bound_key)
            .await?
            .ok_or_else(|| ServerError::Internal("order vanished after a key conflict".into()))?;
        tx.commit().await?;
        return Ok((order, None));
    };
    refuse_too_many_from_address(state, &mut tx, new.client_key).await?;
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
    let attempt =
        attempts::insert_attempt(&mut tx, &order, new.provider, &state.db.installation).await?;
    // Claimed as `pay` would: if this request dies before the provider answers, a twin or the
    // reconciler takes the attempt over once the claim is stale.
    if !attempts::claim_attempt(&mut tx, attempt.id, now_ms() - CLAIM_TIMEOUT_MS).await? {
        return Err(ServerError::Internal(format!(
            "{}: a new attempt could not be claimed",
            attempt.reference
        )));
    }
    tx.commit().await?;
    // The stock shown in the catalogue went down.
    state.events.catalogue_changed();
    // The merchant's order list shows new orders live.
    state.events.publish(super::order_views::status_json(
        &order,
        OrderStatus::AwaitingPayment,
        Some(new.provider.as_str().to_string()),
    ));
    tracing::info!(order = %order.reference, total = %cart.total, "order placed");
    Ok((order, Some(attempt)))
}

/// Refuse a new order once its client address holds too many unpaid ones. Counted in the
/// transaction that adds the order, after the order (a twin of an order already placed never gets
/// here), so simultaneous Pays from one address (fresh sessions each) cannot all slip under the
/// limit: on PostgreSQL they take turns on the address's advisory lock, on SQLite the write gate
/// already serialises them. The refusal drops the transaction, and the order with it.
async fn refuse_too_many_from_address(
    state: &AppState,
    tx: &mut crate::server::db::write::WriteTx,
    client_key: &str,
) -> ServerResult<()> {
    if state.db.backend == crate::server::db::Backend::Postgres {
        sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 7))")
            .bind(client_key)
            .execute(&mut **tx)
            .await?;
    }
    // This order is among them.
    let open_here = orders::count_awaiting_from(tx, client_key).await? - 1;
    let max_here = state.settings.payments.max_open_orders_per_address;
    if open_here >= max_here {
        return Err(ServerError::invalid(format!(
            "Too many unpaid orders were placed from your network ({open_here}). Please pay or \
             cancel one of them first (unpaid orders are released after {} minutes).",
            state.settings.payments.hold_minutes
        )));
    }
    Ok(())
}

/// Where the browser goes for an open attempt.
fn next_url(state: &AppState, attempt: &AttemptRow) -> Option<String> {
    let step: NextStep = serde_json::from_str(attempt.next_step.as_deref()?).ok()?;
    Some(match step {
        NextStep::Redirect { url } => url,
        // A form to post, or a page of the shop's own: the shop renders it.
        NextStep::PostForm { .. } | NextStep::ShopPage { .. } => format!(
            "{}/payments/{}/go/{}",
            state.settings.public_url,
            attempt.provider.as_str(),
            attempt.reference
        ),
    })
}

/// Get a hosted payment for the order: reuse the open attempt, retry one whose provider did not
/// answer (same attempt, same idempotency key), or make a new one after a refusal.
async fn pay(state: &AppState, order: &OrderRow) -> ServerResult<String> {
    let deadline = tokio::time::Instant::now() + WAIT_FOR_TWIN;
    loop {
        let mut conn = state.db.write().await?;
        let latest = attempts::latest_attempt(&mut conn, order.id)
            .await?
            .ok_or_else(|| ServerError::Internal(format!("{} has no attempt", order.reference)))?;
        let attempt = if latest.state == AttemptState::Refused {
            // The provider said no to that one: a new attempt (a twin may make it first).
            match attempts::insert_attempt(
                &mut conn,
                order,
                latest.provider,
                &state.db.installation,
            )
            .await
            {
                Ok(a) => a,
                Err(sqlx::Error::Database(e)) if e.is_unique_violation() => continue,
                Err(e) => return Err(e.into()),
            }
        } else {
            latest
        };
        match attempt.state {
            AttemptState::Open => {
                if let Some(url) = next_url(state, &attempt) {
                    return Ok(url);
                }
            }
            AttemptState::New | AttemptState::Starting | AttemptState::Unanswered => {
                if attempts::claim_attempt(&mut conn, attempt.id, now_ms() - CLAIM_TIMEOUT_MS)
                    .await?
                {
                    drop(conn);
                    return started(state, order, &attempt).await;
                }
            }
            // Paid, failed, cancelled…: the order page says what happened.
            AttemptState::Refused
            | AttemptState::Cancelling
            | AttemptState::Paid
            | AttemptState::Failed
            | AttemptState::Cancelled
            | AttemptState::Expired
            | AttemptState::NeedsReview => return Ok(format!("/orders/{}", order.reference)),
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

/// [`start`] for the shopper at checkout: a provider's refusal or silence becomes advice.
async fn started(state: &AppState, order: &OrderRow, attempt: &AttemptRow) -> ServerResult<String> {
    start(state, order, attempt).await.map_err(|e| match e {
        StartError::Provider(e) => {
            let advice = format!(
                "Your order {} is kept: press Pay to try again.",
                order.reference
            );
            ServerError::invalid(format!("{} {advice}", e.shopper_message(attempt.provider)))
        }
        StartError::Server(e) => e,
    })
}

/// Why [`start`] did not open a session.
pub enum StartError {
    Provider(PaymentError),
    Server(ServerError),
}

impl<E: Into<ServerError>> From<E> for StartError {
    fn from(e: E) -> Self {
        StartError::Server(e.into())
    }
}

/// Call the provider for a claimed attempt and record its answer. The request is rebuilt from
/// the order as stored, so a retry (by the shopper or the reconciler) sends exactly the same call
/// under the same idempotency key.
pub async fn start(
    state: &AppState,
    order: &OrderRow,
    attempt: &AttemptRow,
) -> Result<String, StartError> {
    let provider = state.payments.get(attempt.provider).ok_or_else(|| {
        ServerError::invalid(format!("{} is not available.", attempt.provider.label()))
    })?;
    let customer: Customer = serde_json::from_str(&order.address)
        .map_err(|e| ServerError::Internal(format!("{}: address: {e}", order.reference)))?;
    let currency = order.currency;
    let lines = {
        let mut conn = state.db.pool.acquire().await?;
        orders::lines(&mut conn, order.id).await?
    };
    let request = StartRequest {
        order_reference: order.reference.clone(),
        attempt_reference: attempt.reference.clone(),
        total: order.total(),
        lines: lines
            .into_iter()
            .map(|l| QuoteLine {
                name: l.name,
                quantity: l.quantity,
                unit: Money::new(l.unit_minor, currency),
            })
            .collect(),
        customer,
        urls: ShopUrls::new(
            &state.settings.public_url,
            attempt.provider,
            &order.reference,
        ),
        // Both from what is stored, never from the clock: a retry sends the same request.
        hold_until: order.hold_until.unwrap_or(attempt.created_at) / 1000,
        attempt_created: attempt.created_at / 1000,
    };
    let result = provider.start(&request).await;
    let mut tx = state.db.begin_write().await?;
    match result {
        Ok(started) => {
            let first_lookup = now_ms() + super::lookup_schedule::FIRST_LOOKUP_MS;
            let step = serde_json::to_string(&started.next)
                .map_err(|e| ServerError::Internal(e.to_string()))?;
            attempts::attempt_started(
                &mut tx,
                attempt.id,
                &started.session_id,
                &step,
                first_lookup,
            )
            .await?;
            tracing::info!(attempt = %attempt.reference, provider = attempt.provider.as_str(), "payment session opened");
            crate::server::metrics::payment_started(attempt.provider);
            let opened = attempts::attempt_by_reference(&mut tx, &attempt.reference)
                .await?
                .ok_or_else(|| ServerError::Internal("attempt vanished".into()))?;
            tx.commit().await?;
            Ok(next_url(state, &opened).unwrap_or_else(|| format!("/orders/{}", order.reference)))
        }
        Err(e) => {
            let (state_now, retry) = match &e {
                PaymentError::Unavailable(_) => (AttemptState::Unanswered, true),
                PaymentError::Refused(_) => (AttemptState::Refused, false),
            };
            attempts::set_attempt_state(&mut tx, attempt.id, state_now, Some(&e.to_string()))
                .await?;
            if retry {
                // The provider may have opened the session: the reconciler asks again with the
                // same key if the shopper does not.
                attempts::schedule_lookup(
                    &mut tx,
                    attempt.id,
                    now_ms() + super::lookup_schedule::FIRST_LOOKUP_MS,
                )
                .await?;
            }
            tx.commit().await?;
            tracing::warn!(attempt = %attempt.reference, provider = attempt.provider.as_str(), error = %e, "could not open a payment session");
            Err(StartError::Provider(e))
        }
    }
}
