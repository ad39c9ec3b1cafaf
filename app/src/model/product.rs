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
    /// The product's first photo, shown instead of `image` when there is one.
    pub photo: Option<Photo>,
}

impl ProductCard {
    /// The anchor of a product's card in the catalogue (`/#product-7`), where a no-JavaScript Add
    /// to cart comes back to.
    pub fn anchor(product_id: i64) -> String {
        format!("product-{product_id}")
    }
}

/// A product page: the card, the description (rendered to safe HTML on the server) and every
/// photo, first first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProductDetail {
    pub card: ProductCard,
    pub description_html: String,
    pub photos: Vec<Photo>,
}

/// A product photo as an `<img>` draws it: `src` (about 640 pixels wide), every width in
/// `srcset`, the largest file's size and its alt text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Photo {
    pub id: i64,
    pub src: String,
    pub srcset: String,
    pub width: i64,
    pub height: i64,
    pub alt: String,
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

/// A page of the merchant's product list: the products, the search typed (if any) and the
/// cursors of the pages before and after.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AdminProductsPage {
    pub products: Vec<AdminProduct>,
    pub search: String,
    pub previous: Option<String>,
    pub next: Option<String>,
}
