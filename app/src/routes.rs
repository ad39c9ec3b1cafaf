//! One module per page.

mod account;
mod account_orders;
mod admin_categories;
mod admin_import;
mod admin_order;
mod admin_orders;
mod admin_product_edit;
mod admin_products;
mod cart;
mod catalog;
mod checkout;
mod login;
mod not_found;
mod order;
mod product;
mod register;

pub use account::AccountPage;
pub use account_orders::AccountOrdersPage;
pub use admin_categories::AdminCategoriesPage;
pub use admin_import::AdminImportPage;
pub use admin_order::AdminOrderPage;
pub use admin_orders::AdminOrdersPage;
pub use admin_product_edit::AdminProductEditPage;
pub use admin_products::AdminProductsPage;
pub use cart::CartPage;
pub use catalog::CatalogPage;
pub use checkout::CheckoutPage;
pub use login::LoginPage;
pub use not_found::NotFound;
pub use order::OrderPage;
pub use product::ProductPage;
pub use register::RegisterPage;
