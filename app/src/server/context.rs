//! What a server function body needs: the state, the session, the current account, the client address.

use super::auth::ShopSession;
use super::db::{self, Db};
use super::error::{ServerError, ServerResult};
use super::state::AppState;
use crate::error::AppError;
use crate::model::{CurrentUser, Role};
use leptos::prelude::use_context;

/// The request's state and session.
pub struct Ctx {
    pub state: AppState,
    pub session: ShopSession,
}

impl Ctx {
    pub fn db(&self) -> &Db {
        &self.state.db
    }

    /// The logged-in account, if any (an id whose account is gone counts as logged out).
    pub async fn user(&self) -> ServerResult<Option<CurrentUser>> {
        let Some(id) = self.session.user_id().await? else {
            return Ok(None);
        };
        let kept = &self.state.sessions;
        if let Some(user) = kept.user(id) {
            return Ok(Some(user));
        }
        let generation = kept.generation();
        let mut conn = self.db().pool.acquire().await?;
        let user = db::users::by_id(&mut conn, id).await?;
        if let Some(user) = &user {
            kept.keep_user(user, generation);
        }
        Ok(user)
    }

    /// What the page header shows this visitor: account, currency, cart count, test mode. The
    /// page cache keys rendered pages on it, so it must hold everything per-visitor a cacheable
    /// page shows.
    pub async fn header_info(&self) -> ServerResult<crate::model::HeaderInfo> {
        use super::config::PaymentsMode;
        let user = self.user().await?;
        let currency = self.session.currency().await?;
        let cart_count = self.cart().await?.peek(currency).await?.item_count();
        Ok(crate::model::HeaderInfo {
            user,
            currency,
            cart_count,
            test_mode: self.state.settings.payments.mode == PaymentsMode::Sandbox,
        })
    }

    /// The logged-in merchant, or a refusal.
    pub async fn require_merchant(&self) -> ServerResult<CurrentUser> {
        match self.user().await? {
            None => Err(AppError::Unauthorized.into()),
            Some(user) if user.role == Role::Merchant => Ok(user),
            Some(_) => Err(AppError::Forbidden.into()),
        }
    }
}

/// The context of the current request; fails only if the app was wired wrongly.
pub async fn ctx() -> Result<Ctx, AppError> {
    let state = use_context::<AppState>()
        .ok_or_else(|| ServerError::Internal("AppState missing from context".into()))?;
    let session = leptos_axum::extract::<tower_sessions::Session>()
        .await
        .map_err(|e| ServerError::Internal(format!("no session: {e:?}")))?;
    Ok(Ctx {
        state,
        session: ShopSession(session),
    })
}

/// The client's address as per-address limits count it (log-in throttling, the registration
/// limit, unpaid orders): the socket peer, or what a trusted proxy forwarded
/// (`super::client_addr`), an IPv6 client by its /64.
pub async fn client_ip() -> String {
    leptos_axum::extract::<super::client_addr::ClientAddr>()
        .await
        .map(|addr| super::client_addr::limit_key(addr.0).to_string())
        .unwrap_or_else(|_| "unknown".to_string())
}

/// For a server function sent by a plain HTML form (JavaScript off: the browser asks for HTML),
/// the path of the page the form was on, from `Referer` (query and fragment dropped; only a path
/// on this site). `None` when a script sent it, or the page is unknown.
pub fn plain_form_referer_path() -> Option<String> {
    use axum::http::header::{ACCEPT, REFERER};
    let parts = use_context::<axum::http::request::Parts>()?;
    let accepts_html = parts
        .headers
        .get(ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("text/html"));
    if !accepts_html {
        return None;
    }
    let referer = parts.headers.get(REFERER)?.to_str().ok()?;
    let path = match referer.find("://") {
        Some(scheme_end) => {
            let rest = &referer[scheme_end + 3..];
            &rest[rest.find('/')?..]
        }
        None => referer,
    };
    let path = path.split(['?', '#']).next().unwrap_or("/");
    let safe = path.starts_with('/')
        && !path.starts_with("//")
        && path
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "/-_.".contains(c));
    safe.then(|| path.to_string())
}

impl Ctx {
    /// This request's cart: the account's when logged in, else the session's.
    pub async fn cart(&self) -> ServerResult<super::services::cart::Cart<'_>> {
        use super::services::cart::{CachedPrices, Cart, Owner};
        let owner = match self.session.user_id().await? {
            Some(id) => Owner::Customer(id),
            None => Owner::Guest,
        };
        Ok(Cart {
            db: self.db(),
            session: &self.session,
            owner,
            prices: Some(CachedPrices {
                cache: &self.state.prices,
                events: &self.state.events,
            }),
            kept: &self.state.sessions,
        })
    }
}

/// An id from a form field that may be empty (a new product or category): `None` when empty.
pub fn parse_optional_id(field: &str) -> Result<Option<i64>, AppError> {
    match field.trim() {
        "" => Ok(None),
        id => parse_id(id).map(Some),
    }
}

/// Parse a product id from a form field.
pub fn parse_id(field: &str) -> Result<i64, AppError> {
    field
        .trim()
        .parse::<i64>()
        .map_err(|_| AppError::invalid("Unknown product."))
}
