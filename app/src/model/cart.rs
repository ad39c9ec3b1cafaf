//! The cart as the server re-priced it for this request.

use super::{Currency, Money};
use serde::{Deserialize, Serialize};

/// One cart line with the current unit price from the database.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CartLine {
    pub product_id: i64,
    pub slug: String,
    pub name: String,
    pub image: String,
    pub unit_price: Money,
    pub quantity: i64,
    pub line_total: Money,
    pub stock: i64,
}

/// The whole cart: lines, total, and notices about anything the server had to change
/// (a product withdrawn, a quantity lowered to the stock left, a price that changed).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CartView {
    pub currency: Currency,
    pub lines: Vec<CartLine>,
    pub total: Money,
    pub notices: Vec<String>,
}

impl CartView {
    pub fn item_count(&self) -> i64 {
        self.lines.iter().map(|l| l.quantity).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.lines.is_empty()
    }
}
