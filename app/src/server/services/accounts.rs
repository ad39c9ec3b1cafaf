//! Registration, log-in with throttling, log-out, and the bootstrap merchant.

use super::cart::merge_guest_cart;
use crate::error::AppError;
use crate::model::{CurrentUser, Email, FieldErrors, Password, Role};
use crate::server::auth::session_cache::SessionCache;
use crate::server::auth::{password, session, ShopSession};
use crate::server::config::Settings;
use crate::server::db::{self, now_ms, Db};
use crate::server::error::{ServerError, ServerResult};
use secrecy::ExposeSecret;

/// Failed log-ins are counted over this window.
pub const THROTTLE_WINDOW_MS: i64 = 15 * 60 * 1000;
/// Failures for one email from one client address within the window before further attempts from
/// that address are refused. Counted per (account, address), so a stranger guessing elsewhere
/// cannot lock the owner of an account (the merchant's included) out.
pub const MAX_FAILURES_PER_EMAIL: i64 = 5;
/// Failures from one client address (an IPv6 client's whole /64), for any emails, within the window
/// before further attempts are refused.
pub const MAX_FAILURES_PER_IP: i64 = 30;

/// Registrations are counted per client address over this window.
pub const REGISTRATION_WINDOW_MS: i64 = 60 * 60 * 1000;
/// Registration attempts from one client address within the window before further ones are refused.
pub const MAX_REGISTRATIONS_PER_IP: i64 = 10;

const WRONG_CREDENTIALS: &str = "Email or password is incorrect.";

/// Held while an attempt is written and counted. Writing before counting is what makes the limits
/// hold (the n-th attempt written counts at least n rows, so no more than the limit are ever let
/// through, across instances too); taking turns within this instance also makes the count exact, so
/// a burst lets through exactly the limit rather than refusing some that would have fit.
static THROTTLE_COUNTING: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// A refusal about one field of the form.
fn field_error(field: &str, message: impl std::fmt::Display) -> ServerError {
    let mut errors = FieldErrors::new();
    errors.add(field, message.to_string());
    ServerError::Fields(errors)
}

/// Create a customer account and log it in (keeping the guest cart). Well-formed attempts are
/// counted per client address before the (expensive) hash; past [`MAX_REGISTRATIONS_PER_IP`] in
/// an hour they are refused with the time to wait.
pub async fn register(
    db: &Db,
    kept: &SessionCache,
    session: &ShopSession,
    email: &str,
    new_password: String,
    client_ip: &str,
) -> ServerResult<CurrentUser> {
    let mut errors = FieldErrors::new();
    let email = Email::parse(email).map_err(|e| errors.add("email", e.to_string()));
    let new_password =
        Password::parse(new_password).map_err(|e| errors.add("password", e.to_string()));
    let (Ok(email), Ok(new_password)) = (email, new_password) else {
        return Err(ServerError::Fields(errors));
    };
    let now = now_ms();
    let since = now - REGISTRATION_WINDOW_MS;
    let counting = THROTTLE_COUNTING.lock().await;
    let (attempt, recent) = db
        .committed(async |conn| {
            let attempt = db::registrations::record(conn, client_ip, now, since).await?;
            let recent = db::registrations::recent(conn, client_ip, since).await?;
            Ok((attempt, recent))
        })
        .await?;
    drop(counting);
    if recent.count > MAX_REGISTRATIONS_PER_IP {
        db.committed(async |conn| db::registrations::forget(conn, attempt).await)
            .await?;
        tracing::warn!(
            ip = client_ip,
            "registration refused: too many from this address"
        );
        let wait = wait_minutes(recent.oldest_ms, REGISTRATION_WINDOW_MS, now);
        return Err(AppError::TooManyAttempts(format!(
            "Too many accounts were created from your address. Try again in {}.",
            minutes_text(wait)
        ))
        .into());
    }
    let hash = password::hash(new_password).await?;
    let id = db
        .committed(async |conn| db::users::insert(conn, &email, &hash, Role::Customer).await)
        .await?
        .ok_or_else(|| {
            field_error(
                "email",
                "An account with this email already exists. Log in instead.",
            )
        })?;
    session.log_in(id).await?;
    merge_guest_cart(db, kept, session, id).await?;
    Ok(CurrentUser {
        id,
        email: email.to_string(),
        role: Role::Customer,
    })
}

/// Check the credentials and log in. Unknown email and wrong password give the same answer.
///
/// The attempt is recorded before the password is checked, so however many guesses arrive at
/// once, at most [`MAX_FAILURES_PER_EMAIL`] per email (and [`MAX_FAILURES_PER_IP`] per address) are
/// checked in a window; the rest are refused with the time to wait, and their rows taken back.
pub async fn log_in(
    db: &Db,
    kept: &SessionCache,
    session: &ShopSession,
    email: &str,
    pw: String,
    client_ip: &str,
) -> ServerResult<CurrentUser> {
    let email = Email::parse(email).map_err(|e| field_error("email", e))?;
    let now = now_ms();
    let since = now - THROTTLE_WINDOW_MS;
    let counting = THROTTLE_COUNTING.lock().await;
    let (attempt, recent) = db
        .committed(async |conn| {
            let attempt =
                db::login_failures::record(conn, email.as_str(), client_ip, now, since).await?;
            let recent = db::login_failures::recent(conn, email.as_str(), client_ip, since).await?;
            Ok((attempt, recent))
        })
        .await?;
    drop(counting);
    if recent.for_email_here > MAX_FAILURES_PER_EMAIL || recent.for_ip > MAX_FAILURES_PER_IP {
        db.committed(async |conn| db::login_failures::forget(conn, attempt).await)
            .await?;
        tracing::warn!(email = %email, ip = client_ip, "log-in refused: too many failures");
        let wait = wait_minutes(recent.oldest_ms, THROTTLE_WINDOW_MS, now);
        return Err(AppError::TooManyAttempts(format!(
            "Too many failed log-in attempts. Try again in {}.",
            minutes_text(wait)
        ))
        .into());
    }
    let account = {
        let mut conn = db.pool.acquire().await?;
        db::users::by_email(&mut conn, &email).await?
    };
    let stored = account.as_ref().map(|a| a.password_hash.clone());
    // A wrong password leaves the attempt's row in place: it is the recorded failure.
    if !password::verify(pw, stored).await? {
        return Err(field_error("password", WRONG_CREDENTIALS));
    }
    let user = account
        .map(|a| a.user)
        .ok_or_else(|| field_error("password", WRONG_CREDENTIALS))?;
    db.committed(async |conn| db::login_failures::clear(conn, email.as_str(), since).await)
        .await?;
    session.log_in(user.id).await?;
    merge_guest_cart(db, kept, session, user.id).await?;
    Ok(user)
}

/// Whole minutes until the oldest counted row leaves a window of `window_ms` (at least 1).
fn wait_minutes(oldest_ms: Option<i64>, window_ms: i64, now: i64) -> i64 {
    let free_at = oldest_ms.unwrap_or(now) + window_ms;
    (((free_at - now).max(0) + 59_999) / 60_000).max(1)
}

fn minutes_text(minutes: i64) -> String {
    format!("{minutes} minute{}", if minutes > 1 { "s" } else { "" })
}

/// Create or update the merchant account named by `ADMIN_EMAIL` / `ADMIN_PASSWORD`.
///
/// If the address belongs to an existing *customer* account, that account is promoted, its
/// password replaced, and every one of its sessions ended: whoever held it (perhaps someone who
/// registered the address first) keeps no way in, and no customer session silently becomes a
/// merchant session. This is logged as a warning.
pub async fn ensure_admin(
    db: &Db,
    sessions: &SessionCache,
    settings: &Settings,
) -> ServerResult<()> {
    let Some(admin) = &settings.admin else {
        return Ok(());
    };
    let pw = Password::parse(admin.password.expose_secret().to_string())
        .map_err(ServerError::invalid)?;
    let hash = password::hash(pw).await?;
    let before = db
        .committed(async |conn| {
            let before = db::users::by_email(conn, &admin.email).await?;
            db::users::upsert(conn, &admin.email, &hash, Role::Merchant).await?;
            Ok(before)
        })
        .await?;
    if let Some(account) = &before {
        sessions.user_changed(account.user.id);
    }
    if let Some(customer) = before.filter(|a| a.user.role == Role::Customer) {
        let ended = session::end_all_for(db, sessions, customer.user.id).await?;
        tracing::warn!(
            email = %admin.email,
            sessions_ended = ended,
            "ADMIN_EMAIL named an existing customer account: promoted to merchant, password \
             replaced, all its sessions ended"
        );
    }
    tracing::info!(email = %admin.email, "merchant account ready");
    Ok(())
}
