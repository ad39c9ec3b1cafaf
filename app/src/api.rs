//! Server functions, one file per feature. Each is a thin adapter: take the request context, parse
//! the form fields, call a service, map the error. They are public HTTP endpoints under `/api`.

pub mod account;
pub mod admin;
pub mod admin_orders;
pub mod cart;
pub mod catalog;
pub mod catalog_admin;
pub mod checkout;
pub mod order_lists;
pub mod orders;
pub mod refunds;

pub use account::{HeaderData, LogIn, LogOut, Register};
pub use admin::UpdateProduct;
pub use admin_orders::{AcceptAsPaid, AdminOrder, GetSalesReport, LookUpNow};
pub use cart::{AddToCart, RemoveFromCart, UpdateCartLine};
pub use catalog::SetCurrency;
pub use checkout::PlaceOrder;
pub use orders::{BackToCart, TryAgain};
pub use refunds::RefundOrder;
