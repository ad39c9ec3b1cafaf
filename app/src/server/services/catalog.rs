//! Browsing the catalogue and the merchant's product edits.

use crate::error::AppError;
use crate::model::{AdminProduct, CatalogView, Currency, Money, ProductCard, ProductDetail};
use crate::server::db::products::Listing;
use crate::server::db::{self, Db};
use crate::server::error::ServerResult;
use crate::server::state::AppState;

/// The active products priced in `currency`.
pub async fn list(db: &Db, currency: Currency) -> ServerResult<Vec<ProductCard>> {
    let mut conn = db.pool.acquire().await?;
    let products = db::products::list(&mut conn, currency, Listing::ForSale).await?;
    Ok(products.iter().filter_map(|p| p.card()).collect())
}

/// The catalogue narrowed to a category (its slug) and a search, as the shopper chose; an unknown
/// category is `NotFound`. The search is cut to 100 characters.
pub async fn browse(
    db: &Db,
    currency: Currency,
    category: &str,
    search: &str,
) -> ServerResult<CatalogView> {
    let search: String = search.trim().chars().take(100).collect();
    let category = category.trim();
    let mut conn = db.pool.acquire().await?;
    let categories = db::catalog_admin::categories(&mut conn).await?;
    let chosen = match category {
        "" => None,
        slug => Some(
            categories
                .iter()
                .find(|c| c.slug == slug)
                .cloned()
                .ok_or(AppError::NotFound)?,
        ),
    };
    let products = db::products::for_sale_matching(&mut conn, currency, category, &search).await?;
    Ok(CatalogView {
        products: products.iter().filter_map(|p| p.card()).collect(),
        categories,
        category: chosen,
        search,
    })
}

/// One active product by slug, or `NotFound`.
pub async fn product(db: &Db, slug: &str, currency: Currency) -> ServerResult<ProductDetail> {
    let mut conn = db.pool.acquire().await?;
    db::products::by_slug(&mut conn, slug, currency)
        .await?
        .filter(|p| p.active)
        .and_then(|p| p.detail())
        .ok_or_else(|| AppError::NotFound.into())
}

pub async fn admin_list(db: &Db, currency: Currency) -> ServerResult<Vec<AdminProduct>> {
    let mut conn = db.pool.acquire().await?;
    let products = db::products::list(&mut conn, currency, Listing::All).await?;
    Ok(products
        .into_iter()
        .map(|p| AdminProduct {
            id: p.id,
            slug: p.slug,
            name: p.name,
            stock: p.stock,
            active: p.active,
            price: p.price,
        })
        .collect())
}

/// A merchant's edit of one product: its price in one currency, its stock and whether it is on sale.
pub struct ProductEdit {
    pub product_id: i64,
    pub price: Money,
    pub stock: i64,
    pub active: bool,
}

/// Apply the merchant's edit; cached catalogue pages are dropped once it is committed.
/// Returns what the merchant reads after saving: "Saved Ceramic Mug: $14.00, 40 in stock, on sale."
pub async fn update_product(state: &AppState, edit: ProductEdit) -> ServerResult<String> {
    let mut tx = state.db.begin_write().await?;
    if !db::products::set_stock_and_active(&mut tx, edit.product_id, edit.stock, edit.active)
        .await?
    {
        return Err(AppError::NotFound.into());
    }
    db::products::set_price(&mut tx, edit.product_id, edit.price).await?;
    let name = db::products::by_ids(&mut tx, &[edit.product_id], edit.price.currency)
        .await?
        .into_iter()
        .next()
        .map(|p| p.name)
        .unwrap_or_else(|| format!("product {}", edit.product_id));
    tx.commit().await?;
    state.events.catalogue_changed();
    Ok(format!(
        "Saved {name}: {}, {} in stock, {}.",
        edit.price,
        edit.stock,
        if edit.active { "on sale" } else { "hidden" }
    ))
}
