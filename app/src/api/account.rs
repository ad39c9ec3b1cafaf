//! Register, log in, log out, and what the header shows.

use crate::error::AppError;
use crate::model::HeaderInfo;
use leptos::prelude::*;

/// The current account, currency and cart size, and whether payments are in sandbox mode, for
/// the header of every page.
#[server(endpoint = "header")]
pub async fn header_data() -> Result<HeaderInfo, AppError> {
    let ctx = crate::server::context::ctx().await?;
    Ok(ctx.header_info().await?)
}

#[server(endpoint = "register")]
pub async fn register(email: String, password: String) -> Result<(), AppError> {
    use crate::server::{context, services::accounts};
    let ctx = context::ctx().await?;
    let ip = context::client_ip().await;
    accounts::register(ctx.db(), &ctx.session, &email, password, &ip).await?;
    leptos_axum::redirect("/account");
    Ok(())
}

/// Log in, then go to `next` if it is a path on this site (the page that sent the customer here),
/// else to `/account`.
#[server(endpoint = "login")]
pub async fn log_in(
    email: String,
    password: String,
    #[server(default)] next: Option<String>,
) -> Result<(), AppError> {
    use crate::model::order_list::safe_next;
    use crate::server::{context, services::accounts};
    let ctx = context::ctx().await?;
    let ip = context::client_ip().await;
    accounts::log_in(ctx.db(), &ctx.session, &email, password, &ip).await?;
    let next = next.as_deref().and_then(safe_next);
    leptos_axum::redirect(next.as_deref().unwrap_or("/account"));
    Ok(())
}

#[server(endpoint = "logout")]
pub async fn log_out() -> Result<(), AppError> {
    let ctx = crate::server::context::ctx().await?;
    ctx.session.log_out().await?;
    leptos_axum::redirect("/");
    Ok(())
}
