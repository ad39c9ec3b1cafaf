//! Browsing the catalogue and the merchant's product edits.

use crate::error::AppError;
use crate::model::{AdminProduct, AdminProductsPage, CatalogView, Currency, Money, ProductDetail};
use crate::server::db::products::{CataloguePage, Listing, PageAt};
use crate::server::db::{self, Db};
use crate::server::error::ServerResult;
use crate::server::services::{description, photos};
use crate::server::state::AppState;

/// How many products one catalogue page shows.
pub const PAGE_SIZE: usize = 24;

/// The catalogue narrowed to a category (its slug) and a search, as the shopper chose, one page
/// from `after` or up to `before` (cursors a page handed out; anything else is the first page).
/// An unknown category is `NotFound`. The search is cut to 100 characters.
pub async fn browse(
    db: &Db,
    currency: Currency,
    category: &str,
    search: &str,
    after: &str,
    before: &str,
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
    let at = page_at(after, before);
    let page = db::products::page_of(
        &mut conn,
        currency,
        Listing::ForSale,
        category,
        &search,
        at,
        PAGE_SIZE,
    )
    .await?;
    let (previous, next) = cursors(&page);
    let mut products: Vec<_> = page.products.iter().filter_map(|p| p.card()).collect();
    photos::add_first_photos(&mut conn, &mut products).await?;
    Ok(CatalogView {
        products,
        categories,
        category: chosen,
        search,
        previous,
        next,
    })
}

/// Where the page a link asked for starts.
fn page_at(after: &str, before: &str) -> PageAt {
    match (Cursor::parse(after), Cursor::parse(before)) {
        (Some(c), _) => PageAt::After {
            position: c.position,
            id: c.id,
        },
        (None, Some(c)) => PageAt::Before {
            position: c.position,
            id: c.id,
        },
        (None, None) => PageAt::First,
    }
}

/// The cursors of the pages before and after `page`, if there are any.
fn cursors(page: &CataloguePage) -> (Option<String>, Option<String>) {
    let cursor = |i: usize| {
        Cursor {
            position: page.position_of[i],
            id: page.products[i].id,
        }
        .to_string()
    };
    let count = page.products.len();
    (
        (page.more_before && count > 0).then(|| cursor(0)),
        (page.more_after && count > 0).then(|| cursor(count - 1)),
    )
}

/// How many products one page of the merchant's list shows.
pub const ADMIN_PAGE_SIZE: usize = 50;

/// A page of the merchant's product list (every product not archived, on sale or hidden, priced
/// in `currency`), narrowed to a search (name, description or SKU).
pub async fn admin_list(
    db: &Db,
    currency: Currency,
    search: &str,
    after: &str,
    before: &str,
) -> ServerResult<AdminProductsPage> {
    let search: String = search.trim().chars().take(100).collect();
    let mut conn = db.pool.acquire().await?;
    let page = db::products::page_of(
        &mut conn,
        currency,
        Listing::All,
        "",
        &search,
        page_at(after, before),
        ADMIN_PAGE_SIZE,
    )
    .await?;
    let (previous, next) = cursors(&page);
    Ok(AdminProductsPage {
        products: page
            .products
            .into_iter()
            .map(|p| AdminProduct {
                id: p.id,
                slug: p.slug,
                name: p.name,
                stock: p.stock,
                active: p.active,
                price: p.price,
            })
            .collect(),
        search,
        previous,
        next,
    })
}

/// A place in the catalogue's order, as a page link carries it: `position.id`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Cursor {
    position: i64,
    id: i64,
}

impl Cursor {
    fn parse(text: &str) -> Option<Cursor> {
        let (position, id) = text.trim().split_once('.')?;
        Some(Cursor {
            position: position.parse().ok()?,
            id: id.parse().ok()?,
        })
    }
}

impl std::fmt::Display for Cursor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.position, self.id)
    }
}

/// One active product by slug, with its photos and its description drawn, or `NotFound`.
pub async fn product(db: &Db, slug: &str, currency: Currency) -> ServerResult<ProductDetail> {
    let mut conn = db.pool.acquire().await?;
    let product = db::products::by_slug(&mut conn, slug, currency)
        .await?
        .filter(|p| p.active)
        .ok_or(AppError::NotFound)?;
    let mut card = product.card().ok_or(AppError::NotFound)?;
    let photos = photos::of_product(&mut conn, product.id).await?;
    card.photo = photos.first().cloned();
    Ok(ProductDetail {
        card,
        description_html: description::to_html(&product.description),
        photos,
    })
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

#[cfg(test)]
mod tests {
    use super::Cursor;

    #[test]
    fn a_cursor_reads_back_what_it_wrote_and_nothing_else() {
        let cursor = Cursor {
            position: 12,
            id: 340,
        };
        assert_eq!(Cursor::parse(&cursor.to_string()), Some(cursor));
        for junk in [
            "",
            "12",
            "a.b",
            "12.",
            ".5",
            "1.2.3",
            "99999999999999999999.1",
        ] {
            assert_eq!(Cursor::parse(junk), None, "{junk:?}");
        }
    }
}
