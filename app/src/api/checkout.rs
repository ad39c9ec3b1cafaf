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
    use crate::server::payments::Customer;
    use crate::server::services::checkout::{self, CheckoutForm};
    let ctx = crate::server::context::ctx().await?;
    let form = CheckoutForm {
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
    let url = checkout::place_order(&ctx.state, &ctx.session, form).await?;
    leptos_axum::redirect(&url);
    Ok(())
}
