//! WASM-safe domain types shared by the server and the browser bundle.
//!
//! Every type here parses its input once ("parse, don't validate"), so a value that exists is valid.

pub mod admin;
pub mod cart;
pub mod catalog_admin;
pub mod country;
pub mod email;
pub mod form;
pub mod money;
pub mod order;
pub mod order_list;
pub mod password;
pub mod payment;
pub mod product;
pub mod quantity;
pub mod refund;
pub mod user;
pub mod utc;

pub use admin::{
    AdminAttemptView, AdminOrderView, CurrencySales, DeliveryEntry, DeliveryOutcome, EmailEntry,
    EmailStatus, LedgerEntry, ProviderSuccess, SalesReport, TimelineItem,
};
pub use cart::{CartLine, CartView};
pub use catalog_admin::{
    price_field, CatalogView, CategoriesPage, Category, ImportReport, LineProblem, ProductEditor,
    ProductValues,
};
pub use email::Email;
pub use form::{FieldErrors, FieldState, FormEcho};
pub use money::{Currency, Money};
pub use order::{OrderStatus, Transition};
pub use order_list::{CurrencyTotal, ListedItem, ListedOrder, OrderListPage, OrderListQuery};
pub use password::Password;
pub use payment::{
    CheckoutDetails, CheckoutView, OrderLineView, OrderStatusJson, OrderView, PaymentChoice,
    ProviderId,
};
pub use product::{AdminProduct, AdminProductsPage, Photo, ProductCard, ProductDetail};
pub use quantity::Quantity;
pub use refund::{
    RefundConfirmation, RefundDetails, RefundFormData, RefundOffer, RefundStatus, RefundView,
};
pub use user::{CurrentUser, HeaderInfo, Role};
