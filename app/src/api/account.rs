//! Register, log in, log out, and what the header shows.

use crate::error::AppError;
use crate::model::{FormEcho, HeaderInfo};
use leptos::prelude::*;

/// The current account, currency and cart size, and whether payments are in sandbox mode, for
/// the header of every page.
#[server(endpoint = "header")]
pub async fn header_data() -> Result<HeaderInfo, AppError> {
    let ctx = crate::server::context::ctx().await?;
    Ok(ctx.header_info().await?)
}

/// The names refused log-in and registration forms are kept under (see [`refused_form`]).
pub const LOGIN_FORM: &str = "login";
pub const REGISTER_FORM: &str = "register";

/// What a refused `form` ("login" or "register") left for its page: the email typed and each
/// field's message. Taken once: a reload shows the empty form.
#[server(endpoint = "refused_form")]
pub async fn refused_form(form: String) -> Result<Option<FormEcho>, AppError> {
    if form != LOGIN_FORM && form != REGISTER_FORM {
        return Err(AppError::NotFound);
    }
    let ctx = crate::server::context::ctx().await?;
    Ok(ctx.session.take_form_echo(&form).await?)
}

#[server(endpoint = "register")]
pub async fn register(email: String, password: String) -> Result<(), AppError> {
    use crate::server::{context, services::accounts};
    let ctx = context::ctx().await?;
    let ip = context::client_ip().await;
    if let Err(refusal) = accounts::register(
        ctx.db(),
        &ctx.state.sessions,
        &ctx.session,
        &email,
        password,
        &ip,
    )
    .await
    {
        let values = [("email", email.as_str())];
        return Err(ctx
            .session
            .keep_refused_form(REGISTER_FORM, &values, refusal)
            .await
            .into());
    }
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
    if let Err(refusal) = accounts::log_in(
        ctx.db(),
        &ctx.state.sessions,
        &ctx.session,
        &email,
        password,
        &ip,
    )
    .await
    {
        let values = [
            ("email", email.as_str()),
            ("next", next.as_deref().unwrap_or_default()),
        ];
        return Err(ctx
            .session
            .keep_refused_form(LOGIN_FORM, &values, refusal)
            .await
            .into());
    }
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
