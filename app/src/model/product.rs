//! What the catalogue pages show of a product.

use super::Money;
use serde::{Deserialize, Serialize};

/// A product in the catalogue grid, priced in the shopper's currency.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProductCard {
    pub id: i64,
    pub slug: String,
    pub name: String,
    pub image: String,
    pub price: Money,
    pub stock: i64,
}

/// A product page: the card plus its description.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProductDetail {
    pub card: ProductCard,
    pub description: String,
}

/// A product row on the merchant's page, active or not; `price` is in the merchant's currency.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AdminProduct {
    pub id: i64,
    pub slug: String,
    pub name: String,
    pub stock: i64,
    pub active: bool,
    pub price: Option<Money>,
}
