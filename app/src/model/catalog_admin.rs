//! The merchant's catalogue as its pages see it: categories and the product form.

use super::{Currency, FieldErrors, FormEcho};
use serde::{Deserialize, Serialize};

/// A category of the catalogue (one level).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Category {
    pub id: i64,
    pub slug: String,
    pub name: String,
    /// Where it stands in the list (smaller first).
    pub position: i64,
}

/// The product form's fields, by `name`: `name`, `slug`, `description`, `sku`, `category`,
/// `price_usd` … (one per currency, [`price_field`]), `stock`, `status` (`active` or `hidden`).
pub type ProductValues = std::collections::BTreeMap<String, String>;

/// The field of the price in `currency` (`price_usd`).
pub fn price_field(currency: Currency) -> String {
    format!("price_{}", currency.code().to_ascii_lowercase())
}

/// What the New product / Edit page draws: the values (the product's, or what a refused save
/// sent), each field's problem, and the categories to choose from.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProductEditor {
    /// `None` for a new product.
    pub product_id: Option<i64>,
    pub form: FormEcho,
    pub categories: Vec<Category>,
}

/// The catalogue as a shopper browses it: the products shown, the categories to choose from, the
/// one chosen (if any) and the search typed (if any).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CatalogView {
    pub products: Vec<super::ProductCard>,
    pub categories: Vec<Category>,
    pub category: Option<Category>,
    pub search: String,
}

/// What the categories page draws.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CategoriesPage {
    pub categories: Vec<Category>,
    /// A refused New category form: what was typed and why.
    pub refused: FormEcho,
}

impl ProductEditor {
    pub fn errors(&self) -> &FieldErrors {
        &self.form.errors
    }
}
