//! The checkout page's data and the Pay button.

// A server function's arguments are its form fields; the checkout form simply has many.
#![allow(clippy::too_many_arguments)]

use crate::error::AppError;
use crate::model::CheckoutView;
use leptos::prelude::*;

/// The re-priced cart, the payment methods that can take it, and the form's idempotency key.
#[server(endpoint = "checkout")]
pub async fn get_checkout() -> Result<CheckoutView, AppError> {
    use crate::server::services::checkout;
    let ctx = crate::server::context::ctx().await?;
    Ok(checkout::view(&ctx.state, &ctx.session).await?)
}

/// Place the order and send the browser to the provider's payment page.
#[server(endpoint = "place_order")]
pub async fn place_order(
    checkout_key: String,
    email: String,
    name: String,
    address: String,
    city: String,
    postcode: String,
    country: String,
    phone: Option<String>,
    provider: Option<String>,
) -> Result<(), AppError> {
    use crate::server::error::ServerError;
    use crate::server::payments::Customer;
    use crate::server::services::checkout::{self, CheckoutForm, CHECKOUT_FORM};
    let ctx = crate::server::context::ctx().await?;
    let client_key = crate::server::context::client_ip().await;
    let form = CheckoutForm {
        client_key,
        checkout_key,
        provider: provider.unwrap_or_default(),
        customer: Customer {
            email,
            name,
            address,
            city,
            postcode,
            country,
            phone: phone.unwrap_or_default(),
        },
    };
    // What was typed is kept, so the page comes back filled in whatever happens next (a refusal, a
    // payment left unfinished, Back to cart, Try again).
    ctx.session
        .set_checkout_details(&checkout::details_of(&form))
        .await?;
    // In a task of its own: a Pay whose request is cut off (a double click, a dropped connection)
    // still finishes what it began, so its twin or a retry finds the provider session opened
    // rather than an attempt claimed by a request that no longer exists.
    let (state, session) = (ctx.state.clone(), ctx.session.clone());
    let placed =
        tokio::spawn(async move { checkout::place_order(&state, &session, form).await }).await;
    let placed =
        placed.map_err(|e| ServerError::Internal(format!("the checkout task failed: {e}")))?;
    let url = match placed {
        Ok(url) => url,
        // The values are kept as the checkout's details (above); this keeps the field messages.
        Err(refusal) => {
            return Err(ctx
                .session
                .keep_refused_form(CHECKOUT_FORM, &[], refusal)
                .await
                .into())
        }
    };
    leptos_axum::redirect(&url);
    Ok(())
}
