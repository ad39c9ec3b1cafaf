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
    /// The product's photos, first first (none for a new product).
    pub photos: Vec<super::Photo>,
    /// A refused photo upload or alt text: what was typed and each field's problem.
    pub photo_form: FormEcho,
    /// What the last photo change did ("Added the photo (1280 × 960).").
    pub photo_notice: Option<String>,
}

/// The catalogue as a shopper browses it: the products shown, the categories to choose from, the
/// one chosen (if any) and the search typed (if any).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CatalogView {
    pub products: Vec<super::ProductCard>,
    pub categories: Vec<Category>,
    pub category: Option<Category>,
    pub search: String,
    /// The cursors of the pages before and after this one, if there are any.
    pub previous: Option<String>,
    pub next: Option<String>,
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

/// One line of a catalogue CSV that cannot be imported, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LineProblem {
    /// The line in the file (1 is the header; a quoted cell may span lines, this is where the
    /// record starts).
    pub line: u64,
    pub message: String,
}

/// What checking or importing a catalogue CSV found.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportReport {
    pub file_name: String,
    /// Product lines read (the header not counted).
    pub lines: usize,
    pub created: usize,
    pub updated: usize,
    /// Categories the file names that do not exist yet (created by the import).
    pub new_categories: Vec<String>,
    /// The first problems, by line; `more_problems` more were not listed.
    pub problems: Vec<LineProblem>,
    pub more_problems: usize,
    /// True once imported; false for a check (a dry run) or a refused import.
    pub applied: bool,
    /// After a check with no problems: the checked file is kept under this token for Import.
    pub token: Option<String>,
}

impl ImportReport {
    pub fn problem_count(&self) -> usize {
        self.problems.len() + self.more_problems
    }
}
