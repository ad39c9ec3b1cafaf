//! The products of a cart, priced, kept between requests for the pages that show a cart (the
//! header's count, the cart page), so a visitor whose cart did not change costs no database read.
//!
//! Each entry remembers the catalogue version it was read at ([`OrderEvents::catalogue_version`]);
//! every price, stock or visibility change bumps that version, here or (through `NOTIFY`) on
//! another instance, so an entry is served only while nothing it holds can have changed. A read is
//! kept only if the version was the same before and after it, and nothing is kept or served while
//! the version cannot be known. Placing an order never uses it: checkout prices from the database.

use crate::model::Currency;
use crate::server::db::products::PricedProduct;
use crate::server::db::{self, Db};
use crate::server::events::OrderEvents;
use std::collections::HashMap;
use std::sync::{Arc, RwLock};

/// At most this many carts' products are kept; when full, older versions go first, then all.
const MAX_ENTRIES: usize = 4096;

type Key = (Currency, Vec<i64>);
/// The catalogue version the products were read at, and the products.
type Priced = (u64, Arc<Vec<PricedProduct>>);

#[derive(Default)]
pub struct PriceCache {
    entries: RwLock<HashMap<Key, Priced>>,
}

impl PriceCache {
    /// The products with these ids priced in `currency`, as [`db::products::by_ids`] reads them.
    pub async fn by_ids(
        &self,
        db: &Db,
        events: &OrderEvents,
        ids: &[i64],
        currency: Currency,
    ) -> Result<Arc<Vec<PricedProduct>>, sqlx::Error> {
        let Some(version) = events.catalogue_version() else {
            return read(db, ids, currency).await.map(Arc::new);
        };
        let mut sorted = ids.to_vec();
        sorted.sort_unstable();
        sorted.dedup();
        let key = (currency, sorted);
        if let Some(products) = self.get(&key, version) {
            return Ok(products);
        }
        let products = Arc::new(read(db, &key.1, currency).await?);
        if events.catalogue_version() == Some(version) {
            self.put(key, version, products.clone());
        }
        Ok(products)
    }

    fn get(&self, key: &Key, version: u64) -> Option<Arc<Vec<PricedProduct>>> {
        let entries = self.entries.read().unwrap_or_else(|e| e.into_inner());
        entries
            .get(key)
            .filter(|(at, _)| *at == version)
            .map(|(_, products)| products.clone())
    }

    fn put(&self, key: Key, version: u64, products: Arc<Vec<PricedProduct>>) {
        let mut entries = self.entries.write().unwrap_or_else(|e| e.into_inner());
        if entries.len() >= MAX_ENTRIES {
            entries.retain(|_, (at, _)| *at == version);
            if entries.len() >= MAX_ENTRIES {
                entries.clear();
            }
        }
        entries.insert(key, (version, products));
    }
}

async fn read(db: &Db, ids: &[i64], currency: Currency) -> Result<Vec<PricedProduct>, sqlx::Error> {
    let mut conn = db.pool.acquire().await?;
    db::products::by_ids(&mut conn, ids, currency).await
}
