//! The cart: kept in the session for guests and in the database for customers, re-priced from the
//! database on every read, and merged into the account on log-in.

use crate::error::AppError;
use crate::model::{CartLine, CartView, Currency, Money, Quantity};
use crate::server::auth::session_cache::SessionCache;
use crate::server::auth::ShopSession;
use crate::server::db::carts::StoredItem;
use crate::server::db::products::PricedProduct;
use crate::server::db::{self, Db};
use crate::server::error::{ServerError, ServerResult};
use crate::server::events::OrderEvents;
use crate::server::services::price_cache::PriceCache;
use std::collections::HashMap;
use std::sync::Arc;

/// Whose cart: the session's (guest) or an account's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Owner {
    Guest,
    Customer(i64),
}

/// A cart bound to its storage for the length of one request.
pub struct Cart<'a> {
    pub db: &'a Db,
    pub session: &'a ShopSession,
    pub owner: Owner,
    /// Where the pages that show a cart price it from; `None` (checkout) reads the database.
    pub prices: Option<CachedPrices<'a>>,
    /// Where a customer's saved cart is kept between requests: read from it only where `prices`
    /// is set (the pages that show a cart), evicted from it after every change.
    pub kept: &'a SessionCache,
}

/// The price cache and the catalogue version it is checked against.
#[derive(Clone, Copy)]
pub struct CachedPrices<'a> {
    pub cache: &'a PriceCache,
    pub events: &'a OrderEvents,
}

impl Cart<'_> {
    /// The lines as stored, with the prices last shown (not re-priced).
    pub async fn items(&self) -> ServerResult<Vec<StoredItem>> {
        match self.owner {
            Owner::Guest => self.session.guest_cart().await,
            Owner::Customer(user_id) => {
                // The catalogue version first: a product deleted since takes its lines along.
                let catalogue = self.prices.and_then(|p| p.events.catalogue_version());
                if let Some(items) = catalogue.and_then(|at| self.kept.cart(user_id, at)) {
                    return Ok(items);
                }
                let generation = self.kept.generation();
                let mut conn = self.db.pool.acquire().await?;
                let items = db::carts::items(&mut conn, user_id).await?;
                if let Some(at) = catalogue {
                    self.kept.keep_cart(user_id, &items, at, generation);
                }
                Ok(items)
            }
        }
    }

    /// Apply changes: `put` lines are inserted or replaced, `removed` product ids are dropped.
    async fn save(&self, put: &[StoredItem], removed: &[i64]) -> ServerResult<()> {
        if put.is_empty() && removed.is_empty() {
            return Ok(());
        }
        match self.owner {
            Owner::Guest => {
                let mut items = self.session.guest_cart().await?;
                items.retain(|i| !removed.contains(&i.product_id));
                for new in put {
                    match items.iter_mut().find(|i| i.product_id == new.product_id) {
                        Some(existing) => *existing = new.clone(),
                        None => items.push(new.clone()),
                    }
                }
                self.session.set_guest_cart(&items).await
            }
            Owner::Customer(user_id) => {
                let mut tx = self.db.begin_write().await?;
                for id in removed {
                    db::carts::remove(&mut tx, user_id, *id).await?;
                }
                for item in put {
                    db::carts::put(&mut tx, user_id, item).await?;
                }
                let committed = tx.commit().await;
                // Even if the commit's outcome is unknown: the next read asks the database.
                self.kept.cart_changed(user_id);
                committed?;
                Ok(())
            }
        }
    }

    async fn sellable(
        &self,
        product_id: i64,
        currency: Currency,
    ) -> ServerResult<(PricedProduct, Money)> {
        let mut conn = self.db.pool.acquire().await?;
        let product = db::products::by_ids(&mut conn, &[product_id], currency)
            .await?
            .into_iter()
            .next()
            .filter(|p| p.active)
            .ok_or_else(|| ServerError::invalid("That product is no longer available."))?;
        let price = product.price.ok_or_else(|| {
            ServerError::invalid(format!("{} cannot be bought in {currency}.", product.name))
        })?;
        Ok((product, price))
    }

    /// Add `quantity` of a product to what is already in the cart, within 99 and the stock.
    pub async fn add(
        &self,
        product_id: i64,
        quantity: Quantity,
        currency: Currency,
    ) -> ServerResult<String> {
        let (product, price) = self.sellable(product_id, currency).await?;
        let existing = self.quantity_of(product_id).await?;
        let wanted = existing + quantity.get();
        check_limits(&product, wanted, existing)?;
        let item = StoredItem {
            product_id,
            quantity: wanted,
            seen_price: Some((currency.code().to_string(), price.minor)),
        };
        self.save(&[item], &[]).await?;
        Ok(format!("Added {} to your cart.", product.name))
    }

    /// How many of a product the cart holds (0 when none).
    async fn quantity_of(&self, product_id: i64) -> ServerResult<i64> {
        Ok(self
            .items()
            .await?
            .into_iter()
            .find(|i| i.product_id == product_id)
            .map_or(0, |i| i.quantity))
    }

    /// Make the cart hold at least `quantity` of a product (an order's line put back): what is
    /// already there counts, so putting the same order back twice (a double click on Try again)
    /// does not double it.
    pub async fn put_back(
        &self,
        product_id: i64,
        quantity: Quantity,
        currency: Currency,
    ) -> ServerResult<()> {
        let existing = self.quantity_of(product_id).await?;
        match Quantity::try_from(quantity.get() - existing) {
            Ok(missing) => self.add(product_id, missing, currency).await.map(|_| ()),
            // Already there (or more).
            Err(_) => Ok(()),
        }
    }

    /// Set the quantity of a line already in the cart.
    pub async fn update(
        &self,
        product_id: i64,
        quantity: Quantity,
        currency: Currency,
    ) -> ServerResult<()> {
        let Some(mut item) = self
            .items()
            .await?
            .into_iter()
            .find(|i| i.product_id == product_id)
        else {
            return Err(ServerError::invalid("That product is not in your cart."));
        };
        let (product, price) = self.sellable(product_id, currency).await?;
        check_limits(&product, quantity.get(), 0)?;
        item.quantity = quantity.get();
        item.seen_price = Some((currency.code().to_string(), price.minor));
        self.save(&[item], &[]).await
    }

    /// Remove a line; removing what is not there is not an error.
    pub async fn remove(&self, product_id: i64) -> ServerResult<()> {
        self.save(&[], &[product_id]).await
    }

    /// The cart re-priced from the database, for the cart and checkout pages. Lines that can no
    /// longer be bought are removed and quantities above the stock lowered, each with a notice;
    /// price changes since the shopper last saw the line are reported once.
    pub async fn view(&self, currency: Currency) -> ServerResult<CartView> {
        self.reprice(currency, true).await
    }

    /// The same re-priced cart without recording anything (the header's item count), so a notice
    /// is left for the page that shows it.
    pub async fn peek(&self, currency: Currency) -> ServerResult<CartView> {
        self.reprice(currency, false).await
    }

    async fn reprice(&self, currency: Currency, record: bool) -> ServerResult<CartView> {
        let items = self.items().await?;
        if items.is_empty() {
            // Most visitors: nothing to price, so no database round trip (every page's header
            // asks).
            return Ok(CartView {
                currency,
                lines: Vec::new(),
                total: Money::zero(currency),
                notices: Vec::new(),
            });
        }
        let ids: Vec<i64> = items.iter().map(|i| i.product_id).collect();
        let priced = match self.prices {
            Some(cached) => {
                cached
                    .cache
                    .by_ids(self.db, cached.events, &ids, currency)
                    .await?
            }
            None => {
                let mut conn = self.db.pool.acquire().await?;
                Arc::new(db::products::by_ids(&mut conn, &ids, currency).await?)
            }
        };
        let products: HashMap<i64, &PricedProduct> = priced.iter().map(|p| (p.id, p)).collect();
        let mut view = CartView {
            currency,
            lines: Vec::new(),
            total: Money::zero(currency),
            notices: Vec::new(),
        };
        let (mut put, mut removed) = (Vec::new(), Vec::new());
        for item in items {
            let product = products.get(&item.product_id).copied();
            let sellable = product
                .filter(|p| p.active && p.stock > 0)
                .and_then(|p| Some((p, p.price?)));
            let Some((product, price)) = sellable else {
                let name = product.map_or("A product", |p| p.name.as_str());
                view.notices.push(format!(
                    "{name} is no longer available and was removed from your cart."
                ));
                removed.push(item.product_id);
                continue;
            };
            let mut fixed = item.clone();
            if item.quantity > product.stock {
                fixed.quantity = product.stock;
                view.notices.push(format!(
                    "Only {} of {} left in stock; we lowered the quantity in your cart.",
                    product.stock, product.name
                ));
            }
            let seen_now = (currency.code().to_string(), price.minor);
            if let Some((seen_currency, seen_minor)) = &item.seen_price {
                if seen_currency == currency.code() && *seen_minor != price.minor {
                    view.notices.push(format!(
                        "The price of {} changed from {} to {}.",
                        product.name,
                        Money::new(*seen_minor, currency),
                        price
                    ));
                }
            }
            fixed.seen_price = Some(seen_now);
            if fixed != item {
                put.push(fixed.clone());
            }
            let line_total = price
                .checked_mul(fixed.quantity)
                .map_err(|_| ServerError::invalid("Cart total is too large."))?;
            view.total = view
                .total
                .checked_add(line_total)
                .map_err(|_| ServerError::invalid("Cart total is too large."))?;
            view.lines.push(CartLine {
                product_id: product.id,
                slug: product.slug.clone(),
                name: product.name.clone(),
                image: product.image.clone(),
                unit_price: price,
                quantity: fixed.quantity,
                line_total,
                stock: product.stock,
            });
        }
        if record {
            self.save(&put, &removed).await?;
        }
        Ok(view)
    }
}

/// Refuse a quantity above 99 or above the stock, saying how many can be had.
fn check_limits(product: &PricedProduct, wanted: i64, already: i64) -> ServerResult<()> {
    if product.stock <= 0 {
        return Err(ServerError::invalid(format!(
            "{} is out of stock.",
            product.name
        )));
    }
    if wanted > i64::from(Quantity::MAX) {
        return Err(ServerError::invalid(format!(
            "You can have at most {} of {} in your cart.",
            Quantity::MAX,
            product.name
        )));
    }
    if wanted > product.stock {
        let note = if already > 0 {
            format!(" (you already have {already} in your cart)")
        } else {
            String::new()
        };
        return Err(ServerError::invalid(format!(
            "Only {} of {} left in stock{note}.",
            product.stock, product.name
        )));
    }
    Ok(())
}

/// Move a guest's cart into the account that just logged in: quantities add up, within 99 and stock.
/// The session notice's name for what adding `product_id` said (a no-JavaScript Add to cart).
pub fn added_note_key(product_id: i64) -> String {
    format!("added:{product_id}")
}

/// Where a no-JavaScript Add to cart comes back to: the product page it was sent from, or the
/// catalogue at the product's card. The query keeps the page out of the shared page cache.
pub fn added_url(page: &str, product_id: i64) -> String {
    if page.starts_with("/products/") {
        format!("{page}?added={product_id}")
    } else {
        let anchor = crate::model::ProductCard::anchor(product_id);
        format!("/?added={product_id}#{anchor}")
    }
}

pub async fn merge_guest_cart(
    db: &Db,
    kept: &SessionCache,
    session: &ShopSession,
    user_id: i64,
) -> ServerResult<()> {
    let guest = session.guest_cart().await?;
    if guest.is_empty() {
        return Ok(());
    }
    let mut tx = db.begin_write().await?;
    let saved: HashMap<i64, StoredItem> = db::carts::items(&mut tx, user_id)
        .await?
        .into_iter()
        .map(|i| (i.product_id, i))
        .collect();
    let ids: Vec<i64> = guest.iter().map(|i| i.product_id).collect();
    let stock: HashMap<i64, i64> = db::products::by_ids(&mut tx, &ids, Currency::Usd)
        .await?
        .into_iter()
        .filter(|p| p.active)
        .map(|p| (p.id, p.stock))
        .collect();
    for item in guest {
        let Some(&in_stock) = stock.get(&item.product_id) else {
            continue;
        };
        let before = saved.get(&item.product_id).map_or(0, |s| s.quantity);
        let merged = (before + item.quantity)
            .min(i64::from(Quantity::MAX))
            .min(in_stock);
        if merged < 1 {
            continue;
        }
        let line = StoredItem {
            quantity: merged,
            seen_price: item.seen_price.clone().or_else(|| {
                saved
                    .get(&item.product_id)
                    .and_then(|s| s.seen_price.clone())
            }),
            ..item
        };
        db::carts::put(&mut tx, user_id, &line).await?;
    }
    let committed = tx.commit().await;
    kept.cart_changed(user_id);
    committed?;
    session.set_guest_cart(&[]).await?;
    Ok(())
}

impl From<crate::model::quantity::QuantityError> for ServerError {
    fn from(e: crate::model::quantity::QuantityError) -> Self {
        ServerError::User(AppError::invalid(e))
    }
}
