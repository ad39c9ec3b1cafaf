//! The merchant's catalogue: creating and editing products (every field but photos), categories,
//! and archiving. Each save checks every field at once (the form shows each problem next to its
//! field) and is one transaction: nothing is saved half. Every change drops the cached catalogue
//! pages (`OrderEvents::catalogue_changed`, on every instance sharing PostgreSQL).

use crate::error::AppError;
use crate::model::{
    price_field, CategoriesPage, Category, Currency, FieldErrors, FormEcho, Money, ProductEditor,
    ProductValues,
};
use crate::server::db::catalog_admin::{self as rows, OwnedBy, ProductRecord};
use crate::server::error::{ServerError, ServerResult};
use crate::server::services::photos;
use crate::server::state::AppState;

/// The name a refused product form is kept under in the session: one per product, so two tabs do
/// not mix.
pub fn product_form(id: Option<i64>) -> String {
    id.map_or_else(|| "product:new".to_string(), |id| format!("product:{id}"))
}

/// The name a refused New category form is kept under.
pub const CATEGORY_FORM: &str = "category:new";

/// The picture a product shows until it has photos of its own.
pub const NO_PHOTO: &str = "/images/no-photo.svg";
const MAX_NAME: usize = 120;
const MAX_SLUG: usize = 80;
const MAX_DESCRIPTION: usize = 5_000;
const MAX_SKU: usize = 40;
const MAX_STOCK: i64 = 1_000_000;

/// A URL slug from a name: lower-case ASCII letters and digits, runs of anything else one hyphen.
/// Names in other scripts give an empty slug, which the form then asks for.
pub fn slug_from(name: &str) -> String {
    let mut slug = String::new();
    for c in name.chars().flat_map(char::to_lowercase) {
        if c.is_ascii_alphanumeric() {
            slug.push(c);
        } else if !slug.is_empty() && !slug.ends_with('-') {
            slug.push('-');
        }
    }
    let slug = slug.trim_end_matches('-');
    slug.chars()
        .take(MAX_SLUG)
        .collect::<String>()
        .trim_end_matches('-')
        .to_string()
}

pub(crate) fn is_slug(slug: &str) -> bool {
    !slug.is_empty()
        && slug.len() <= MAX_SLUG
        && slug.split('-').all(|part| {
            !part.is_empty()
                && part
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        })
}

/// The form's values for a product as stored.
pub(crate) fn values_of(record: &ProductRecord) -> ProductValues {
    let mut values = ProductValues::new();
    values.insert("name".into(), record.name.clone());
    values.insert("slug".into(), record.slug.clone());
    values.insert("description".into(), record.description.clone());
    values.insert("sku".into(), record.sku.clone());
    values.insert(
        "category".into(),
        record
            .category_id
            .map(|id| id.to_string())
            .unwrap_or_default(),
    );
    for price in &record.prices {
        values.insert(price_field(price.currency), price.to_decimal_string());
    }
    values.insert("stock".into(), record.stock.to_string());
    values.insert(
        "status".into(),
        if record.active { "active" } else { "hidden" }.into(),
    );
    values
}

/// The New product (`id` none) or Edit page: the product's values, or what `refused` kept.
pub async fn editor(
    state: &AppState,
    id: Option<i64>,
    refused: Option<FormEcho>,
    photo_form: Option<FormEcho>,
    photo_notice: Option<String>,
) -> ServerResult<ProductEditor> {
    let mut conn = state.db.pool.acquire().await?;
    let categories = rows::categories(&mut conn).await?;
    let form = match (refused, id) {
        (Some(echo), _) => echo,
        (None, Some(id)) => {
            let record = rows::product(&mut conn, id)
                .await?
                .ok_or(AppError::NotFound)?;
            FormEcho {
                values: values_of(&record),
                errors: FieldErrors::new(),
            }
        }
        (None, None) => {
            let mut values = ProductValues::new();
            values.insert("status".into(), "active".into());
            values.insert("stock".into(), "0".into());
            FormEcho {
                values,
                errors: FieldErrors::new(),
            }
        }
    };
    let photos = match id {
        Some(id) => {
            rows::product(&mut conn, id)
                .await?
                .ok_or(AppError::NotFound)?;
            photos::of_product(&mut conn, id).await?
        }
        None => Vec::new(),
    };
    Ok(ProductEditor {
        product_id: id,
        form,
        categories,
        photos,
        photo_form: photo_form.unwrap_or_default(),
        photo_notice,
    })
}

/// Check the form: every field's problem at once, or the record to save.
pub(crate) fn checked(
    values: &ProductValues,
    categories: &[Category],
) -> Result<ProductRecord, FieldErrors> {
    let get = |field: &str| values.get(field).map(|v| v.trim()).unwrap_or_default();
    let mut errors = FieldErrors::new();
    let name = get("name").to_string();
    if name.is_empty() {
        errors.add("name", "Enter the product's name.");
    } else if name.chars().count() > MAX_NAME {
        errors.add(
            "name",
            format!("The name can be at most {MAX_NAME} characters."),
        );
    }
    let slug = match get("slug") {
        "" => slug_from(&name),
        typed => typed.to_string(),
    };
    if !is_slug(&slug) {
        errors.add(
            "slug",
            format!("Enter a URL slug of lower-case letters a–z, digits and single hyphens (at most {MAX_SLUG}), like linen-apron."),
        );
    }
    let description = get("description").replace("\r\n", "\n");
    if description.chars().count() > MAX_DESCRIPTION {
        errors.add(
            "description",
            format!("The description can be at most {MAX_DESCRIPTION} characters."),
        );
    }
    let sku = get("sku").to_ascii_uppercase();
    if sku.is_empty() {
        errors.add(
            "sku",
            "Enter the SKU, the product's own code (like APRON-LINEN-01).",
        );
    } else if sku.len() > MAX_SKU
        || !sku
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
    {
        errors.add(
            "sku",
            format!("A SKU is letters, digits, - _ and . only, at most {MAX_SKU}."),
        );
    }
    let category_id = match get("category") {
        "" => None,
        id => match id
            .parse::<i64>()
            .ok()
            .filter(|id| categories.iter().any(|c| c.id == *id))
        {
            Some(id) => Some(id),
            None => {
                errors.add("category", "Choose a category from the list.");
                None
            }
        },
    };
    let mut prices = Vec::new();
    for currency in Currency::ALL {
        let field = price_field(currency);
        let text = get(&field);
        if text.is_empty() {
            continue;
        }
        match Money::parse_decimal(text, currency) {
            Ok(price) if price.minor > 0 => prices.push(price),
            Ok(_) => errors.add(
                &field,
                format!(
                    "A price in {} must be more than zero, or left empty.",
                    currency.code()
                ),
            ),
            Err(e) => errors.add(
                &field,
                format!(
                    "{e} Leave it empty if the product is not sold in {}.",
                    currency.code()
                ),
            ),
        }
    }
    if prices.is_empty()
        && Currency::ALL
            .iter()
            .all(|c| errors.get(&price_field(*c)).is_none())
    {
        errors.add(
            &price_field(Currency::ALL[0]),
            "Give a price in at least one currency: the product is sold only in the currencies it has a price in.",
        );
    }
    let stock = match get("stock").parse::<i64>() {
        Ok(n) if (0..=MAX_STOCK).contains(&n) => n,
        Ok(n) if n < 0 => {
            errors.add("stock", "Stock cannot be negative.");
            0
        }
        _ => {
            errors.add(
                "stock",
                format!("Enter the stock as a whole number from 0 to {MAX_STOCK}."),
            );
            0
        }
    };
    let active = match get("status") {
        "active" => true,
        "hidden" => false,
        _ => {
            errors.add("status", "Choose On sale or Hidden.");
            false
        }
    };
    errors.or_ok(ProductRecord {
        slug,
        name,
        description,
        sku,
        category_id,
        stock,
        active,
        prices,
    })
}

/// Create (`id` none) or change a product from the form; its name on success. Refused field by
/// field ([`ServerError::Fields`]), including a slug or SKU another product has; nothing is
/// written then.
pub async fn save_product(
    state: &AppState,
    id: Option<i64>,
    values: &ProductValues,
) -> ServerResult<String> {
    let categories = {
        let mut conn = state.db.pool.acquire().await?;
        rows::categories(&mut conn).await?
    };
    let record = checked(values, &categories).map_err(ServerError::Fields)?;
    let mut tx = state.db.begin_write().await?;
    let mut errors = FieldErrors::new();
    if rows::owner_of(&mut tx, OwnedBy::Slug, &record.slug, id)
        .await?
        .is_some()
    {
        errors.add(
            "slug",
            format!("Another product already has the slug {}.", record.slug),
        );
    }
    if rows::owner_of(&mut tx, OwnedBy::Sku, &record.sku, id)
        .await?
        .is_some()
    {
        errors.add(
            "sku",
            format!("Another product already has the SKU {}.", record.sku),
        );
    }
    if !errors.is_empty() {
        return Err(ServerError::Fields(errors));
    }
    let id = match id {
        None => {
            let id = rows::insert_product(&mut tx, &record, NO_PHOTO).await?;
            rows::forget_old_slug(&mut tx, &record.slug).await?;
            id
        }
        Some(id) => {
            let before = rows::product(&mut tx, id)
                .await?
                .ok_or(AppError::NotFound)?;
            rows::update_product(&mut tx, id, &record).await?;
            if before.slug != record.slug {
                rows::moved_slug(&mut tx, id, &before.slug, &record.slug).await?;
            }
            id
        }
    };
    rows::replace_prices(&mut tx, id, &record.prices).await?;
    tx.commit().await?;
    state.events.catalogue_changed();
    tracing::info!(product = id, slug = %record.slug, "product saved");
    Ok(record.name)
}

/// Archive a product that has orders, delete one that has none; what the merchant reads.
pub async fn remove_product(state: &AppState, id: i64) -> ServerResult<String> {
    let mut tx = state.db.begin_write().await?;
    let record = rows::product(&mut tx, id)
        .await?
        .ok_or(AppError::NotFound)?;
    let mut deleted_photos = Vec::new();
    let message = if rows::has_orders(&mut tx, id).await? {
        rows::archive(&mut tx, id).await?;
        format!(
            "Archived {}: it has orders, which keep its name and price; it is gone from the shop.",
            record.name
        )
    } else {
        deleted_photos = crate::server::db::photos::of_product(&mut tx, id).await?;
        rows::delete(&mut tx, id).await?;
        format!("Deleted {}.", record.name)
    };
    tx.commit().await?;
    state.events.catalogue_changed();
    photos::remove_unused_files(state, &deleted_photos).await?;
    Ok(message)
}

/// Where an old slug of a renamed product leads now.
pub async fn renamed(state: &AppState, old: &str) -> ServerResult<Option<String>> {
    let mut conn = state.db.pool.acquire().await?;
    Ok(rows::current_slug(&mut conn, old).await?)
}

/// The categories page.
pub async fn categories_page(
    state: &AppState,
    refused: Option<FormEcho>,
) -> ServerResult<CategoriesPage> {
    let mut conn = state.db.pool.acquire().await?;
    Ok(CategoriesPage {
        categories: rows::categories(&mut conn).await?,
        refused: refused.unwrap_or_default(),
    })
}

/// Create (`id` none) or change a category; its name on success.
pub async fn save_category(
    state: &AppState,
    id: Option<i64>,
    name: &str,
    slug: &str,
    position: &str,
) -> ServerResult<String> {
    let mut errors = FieldErrors::new();
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 60 {
        errors.add("name", "Enter the category's name (at most 60 characters).");
    }
    let slug = match slug.trim() {
        "" => slug_from(name),
        typed => typed.to_string(),
    };
    if !is_slug(&slug) {
        errors.add(
            "slug",
            "Enter a URL slug of lower-case letters a–z, digits and single hyphens, like kitchen.",
        );
    }
    let position = match position.trim() {
        "" => 0,
        n => n.parse::<i64>().unwrap_or_else(|_| {
            errors.add(
                "position",
                "Enter the position as a whole number (smaller comes first).",
            );
            0
        }),
    };
    if !errors.is_empty() {
        return Err(ServerError::Fields(errors));
    }
    let mut tx = state.db.begin_write().await?;
    if rows::category_slug_owner(&mut tx, &slug, id)
        .await?
        .is_some()
    {
        errors.add(
            "slug",
            format!("Another category already has the slug {slug}."),
        );
        return Err(ServerError::Fields(errors));
    }
    let category = Category {
        id: id.unwrap_or_default(),
        slug,
        name: name.to_string(),
        position,
    };
    if !rows::save_category(&mut tx, id, &category).await? {
        return Err(AppError::NotFound.into());
    }
    tx.commit().await?;
    state.events.catalogue_changed();
    Ok(category.name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_come_from_names() {
        assert_eq!(slug_from("Linen Apron"), "linen-apron");
        assert_eq!(
            slug_from("  Pour-Over  Coffee Set!! "),
            "pour-over-coffee-set"
        );
        assert_eq!(slug_from("চা পাতা"), "");
        assert!(
            is_slug("notebook-a5") && !is_slug("Notebook") && !is_slug("a--b") && !is_slug("-a")
        );
    }

    #[test]
    fn every_problem_is_named_at_once() {
        let mut values = ProductValues::new();
        values.insert("name".into(), "".into());
        values.insert("sku".into(), "bad sku!".into());
        values.insert("price_usd".into(), "-3".into());
        values.insert("stock".into(), "-1".into());
        values.insert("status".into(), "active".into());
        let errors = checked(&values, &[]).unwrap_err();
        for field in ["name", "slug", "sku", "price_usd", "stock"] {
            assert!(errors.get(field).is_some(), "{field}: {errors:?}");
        }
        assert_eq!(errors.get("stock"), Some("Stock cannot be negative."));
    }
}
