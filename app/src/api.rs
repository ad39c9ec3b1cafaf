//! Server functions, one file per feature. Each is a thin adapter: take the request context, parse
//! the form fields, call a service, map the error. They are public HTTP endpoints under `/api`.

pub mod account;
pub mod admin;
pub mod cart;
pub mod catalog;

pub use account::{HeaderData, LogIn, LogOut, Register};
pub use admin::UpdateProduct;
pub use cart::{AddToCart, RemoveFromCart, UpdateCartLine};
pub use catalog::SetCurrency;

/// Parse a product id from a form field.
pub(crate) fn parse_id(field: &str) -> Result<i64, crate::error::AppError> {
    field
        .trim()
        .parse::<i64>()
        .map_err(|_| crate::error::AppError::invalid("Unknown product."))
}
