//! Sessions, and the account and saved cart behind a customer's session, kept in memory between
//! requests, so a visitor who only browses (a chosen currency, a guest's cart, a customer's saved
//! cart) costs no database read per page. Correct across writers:
//!
//! - **Every write evicts.** The session store ([`super::session::GatedStore`]) evicts a session
//!   after each save or delete, and [`super::session::end_all_for`] after each session it ends; a
//!   customer's saved cart is evicted after each commit that changes it (the cart service,
//!   checkout), and an account after its role is reset ([`super::super::services::accounts`]'s
//!   bootstrap merchant; accounts are never otherwise changed or deleted). The next read loads it
//!   from the database again; nothing written is ever put in the cache directly, so two racing
//!   writes cannot leave the loser's copy behind. **Whoever adds a writer** (an account's email or
//!   name changed, an account deleted, cart lines written outside the cart service) must call
//!   [`SessionCache::user_changed`] or [`SessionCache::cart_changed`] after its commit, even when
//!   the commit's outcome is unknown; otherwise other pages keep showing the old row.
//! - **A load never keeps what a write overtook.** Each eviction bumps a generation; what is read
//!   from the database is kept only if no eviction happened while it was read.
//! - **A saved cart is tied to the catalogue version it was read at**, as deleting a product
//!   deletes its cart lines: after any catalogue change it is read again.
//! - **Other instances:** on PostgreSQL each eviction is sent with `NOTIFY` (a digest of what was
//!   written, never a session id) and every instance evicts what others send. While that listener
//!   is not connected the cache is bypassed, and it is emptied when it connects again
//!   ([`crate::server::events::OrderEvents`]). On SQLite, instances in one process share one cache
//!   per database file; a SQLite file is served by one process
//!   (docs/operating.md#postgresql-and-several-instances).
//! - **Expiry:** a kept session past its expiry date is not served (the hourly sweep deletes it).

use crate::model::CurrentUser;
use crate::server::db::carts::StoredItem;
use sha2::{Digest, Sha256};
use sqlx::postgres::PgPool;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, RwLock, Weak};
use tower_sessions::session::{Id, Record};

/// At most this many sessions, accounts and carts are kept (a few hundred bytes each); when full,
/// the cache starts afresh. Only what was found in the database is kept, so made-up cookies cannot
/// fill it.
const MAX_ENTRIES: usize = 20_000;

/// The `NOTIFY` channel of evictions between instances.
pub(crate) const CHANNEL: &str = "storefront_sessions";

pub struct SessionCache {
    /// Keyed by a digest ([`digest`], [`customer_name`]), the name evictions travel under.
    entries: RwLock<HashMap<u128, Kept>>,
    generation: AtomicU64,
    /// False while another instance's evictions could go unseen.
    in_sync: AtomicBool,
    /// Where evictions are announced to other instances (PostgreSQL).
    peers: Option<PgPool>,
    /// Tells this cache's own announcements, heard back through `LISTEN`, from others'.
    tag: String,
}

/// One thing kept.
#[derive(Clone)]
enum Kept {
    Session(Record),
    /// An account as the header shows it.
    User(CurrentUser),
    /// A customer's saved cart, read at this catalogue version.
    Cart {
        items: Vec<StoredItem>,
        catalogue: u64,
    },
}

/// The name a session goes by in the cache and between instances: the first 16 bytes of the
/// SHA-256 of its id, so a `NOTIFY` never carries a session id.
pub fn digest(id: &Id) -> u128 {
    first_16(&Sha256::digest(id.0.to_le_bytes()))
}

/// The name of an account (`"user"`) or of its saved cart (`"cart"`): 16 bytes of the SHA-256 of
/// `kind:id`, which no session's 16-byte id hashes to in practice.
fn customer_name(kind: &str, user_id: i64) -> u128 {
    first_16(&Sha256::digest(format!("{kind}:{user_id}").as_bytes()))
}

fn first_16(hash: &[u8]) -> u128 {
    let mut first = [0u8; 16];
    first.copy_from_slice(&hash[..16]);
    u128::from_le_bytes(first)
}

impl SessionCache {
    fn new(peers: Option<PgPool>) -> SessionCache {
        SessionCache {
            entries: RwLock::new(HashMap::new()),
            generation: AtomicU64::new(0),
            // Shared through PostgreSQL: unused until the listener connects.
            in_sync: AtomicBool::new(peers.is_none()),
            peers,
            tag: uuid::Uuid::new_v4().simple().to_string(),
        }
    }

    /// The cache of the sessions in this SQLite file, shared by every instance of this process
    /// that opens it (as the tests' second instances do).
    pub fn for_sqlite_file(database_url: &str) -> Arc<SessionCache> {
        static CACHES: OnceLock<Mutex<HashMap<String, Weak<SessionCache>>>> = OnceLock::new();
        let mut caches = CACHES
            .get_or_init(Mutex::default)
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        caches.retain(|_, cache| cache.strong_count() > 0);
        if let Some(cache) = caches.get(database_url).and_then(Weak::upgrade) {
            return cache;
        }
        let cache = Arc::new(SessionCache::new(None));
        caches.insert(database_url.to_string(), Arc::downgrade(&cache));
        cache
    }

    /// A cache for an instance sharing a PostgreSQL database with others: evictions are sent to
    /// them, and it is used only while [`OrderEvents`](crate::server::events::OrderEvents) hears
    /// theirs.
    pub fn across_instances(pool: PgPool) -> Arc<SessionCache> {
        Arc::new(SessionCache::new(Some(pool)))
    }

    /// The session as last read from the database, if kept and not expired.
    pub fn get(&self, id: &Id) -> Option<Record> {
        self.find(digest(id), |kept| match kept {
            Kept::Session(record)
                if record.id == *id && record.expiry_date > time::OffsetDateTime::now_utc() =>
            {
                Some(record.clone())
            }
            _ => None,
        })
    }

    /// The account as last read from the database, if kept.
    pub fn user(&self, user_id: i64) -> Option<CurrentUser> {
        self.find(customer_name("user", user_id), |kept| match kept {
            Kept::User(user) if user.id == user_id => Some(user.clone()),
            _ => None,
        })
    }

    /// The customer's saved cart as last read from the database, if kept at this catalogue
    /// version.
    pub fn cart(&self, user_id: i64, catalogue: u64) -> Option<Vec<StoredItem>> {
        self.find(customer_name("cart", user_id), |kept| match kept {
            Kept::Cart {
                items,
                catalogue: at,
            } if *at == catalogue => Some(items.clone()),
            _ => None,
        })
    }

    fn find<T>(&self, name: u128, pick: impl FnOnce(&Kept) -> Option<T>) -> Option<T> {
        if !self.in_sync.load(Ordering::SeqCst) {
            return None;
        }
        let entries = self.entries.read().unwrap_or_else(|e| e.into_inner());
        entries.get(&name).and_then(pick)
    }

    /// Read before loading from the database, and handed to a `keep_…`.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::SeqCst)
    }

    /// Keep a session just read from the database, unless something was evicted since
    /// `generation` was read (it may have been this one) or other instances could not be heard.
    pub fn keep(&self, record: &Record, generation: u64) {
        self.keep_as(
            digest(&record.id),
            Kept::Session(record.clone()),
            generation,
        );
    }

    /// Keep an account just read from the database (as [`SessionCache::keep`]).
    pub fn keep_user(&self, user: &CurrentUser, generation: u64) {
        let name = customer_name("user", user.id);
        self.keep_as(name, Kept::User(user.clone()), generation);
    }

    /// Keep a saved cart just read from the database at this catalogue version (as
    /// [`SessionCache::keep`]).
    pub fn keep_cart(&self, user_id: i64, items: &[StoredItem], catalogue: u64, generation: u64) {
        let kept = Kept::Cart {
            items: items.to_vec(),
            catalogue,
        };
        self.keep_as(customer_name("cart", user_id), kept, generation);
    }

    fn keep_as(&self, name: u128, kept: Kept, generation: u64) {
        let mut entries = self.entries.write().unwrap_or_else(|e| e.into_inner());
        // Under the lock: an eviction bumps the generation before it takes the lock.
        if self.generation.load(Ordering::SeqCst) != generation
            || !self.in_sync.load(Ordering::SeqCst)
        {
            return;
        }
        if entries.len() >= MAX_ENTRIES {
            entries.clear();
        }
        entries.insert(name, kept);
    }

    /// A session was written or deleted here: evict it here and on every other instance.
    pub fn changed(&self, id: &Id) {
        self.changed_name(digest(id));
    }

    /// An account's row changed (after the commit): evict it here and on every other instance.
    pub fn user_changed(&self, user_id: i64) {
        self.changed_name(customer_name("user", user_id));
    }

    /// A customer's saved cart changed (after the commit): evict it here and on every other
    /// instance.
    pub fn cart_changed(&self, user_id: i64) {
        self.changed_name(customer_name("cart", user_id));
    }

    fn changed_name(&self, name: u128) {
        self.evict(name);
        if let Some(pool) = &self.peers {
            crate::server::notify::send(pool, CHANNEL, format!("{}:{name:032x}", self.tag));
        }
    }

    /// An instance wrote what is named in `payload` (`tag:digest`, the digest in hex): evict
    /// it, unless the write was this cache's own (evicted already, when it was made; evicting it
    /// again when the notification comes back would drop what was read since). Anything
    /// unreadable empties the cache.
    pub(crate) fn evicted_elsewhere(&self, payload: &str) {
        let (tag, name) = payload.split_once(':').unwrap_or(("", payload));
        if tag == self.tag {
            return;
        }
        match u128::from_str_radix(name, 16) {
            Ok(name) => self.evict(name),
            Err(_) => self.clear(),
        }
    }

    fn evict(&self, name: u128) {
        self.generation.fetch_add(1, Ordering::SeqCst);
        let mut entries = self.entries.write().unwrap_or_else(|e| e.into_inner());
        entries.remove(&name);
    }

    fn clear(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
        let mut entries = self.entries.write().unwrap_or_else(|e| e.into_inner());
        entries.clear();
    }

    /// The listener for other instances' evictions is down (`false`: bypass the cache, keep
    /// nothing) or listening again (`true`: start afresh, as evictions were missed meanwhile).
    pub(crate) fn set_in_sync(&self, in_sync: bool) {
        if in_sync {
            self.clear();
        }
        self.in_sync.store(in_sync, Ordering::SeqCst);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(id: i128, minutes: i64) -> Record {
        Record {
            id: Id(id),
            data: HashMap::from([("currency".to_string(), serde_json::json!("EUR"))]),
            expiry_date: time::OffsetDateTime::now_utc() + time::Duration::minutes(minutes),
        }
    }

    #[test]
    fn a_kept_session_is_served_until_it_changes() {
        let cache = SessionCache::new(None);
        let r = record(7, 10);
        cache.keep(&r, cache.generation());
        assert_eq!(cache.get(&Id(7)), Some(r.clone()));
        assert_eq!(cache.get(&Id(8)), None);
        cache.changed(&Id(7));
        assert_eq!(cache.get(&Id(7)), None);
    }

    #[test]
    fn a_load_overtaken_by_an_eviction_is_not_kept() {
        let cache = SessionCache::new(None);
        let before = cache.generation();
        // Another request saves some session while this one reads session 7.
        cache.changed(&Id(99));
        cache.keep(&record(7, 10), before);
        assert_eq!(cache.get(&Id(7)), None);
    }

    #[test]
    fn expired_sessions_are_not_served() {
        let cache = SessionCache::new(None);
        cache.keep(&record(7, -1), cache.generation());
        assert_eq!(cache.get(&Id(7)), None);
    }

    #[test]
    fn out_of_sync_it_keeps_and_serves_nothing_and_starts_afresh() {
        let cache = SessionCache::new(None);
        cache.keep(&record(7, 10), cache.generation());
        cache.set_in_sync(false);
        assert_eq!(cache.get(&Id(7)), None);
        cache.keep(&record(8, 10), cache.generation());
        cache.set_in_sync(true);
        assert_eq!(cache.get(&Id(7)), None);
        assert_eq!(cache.get(&Id(8)), None);
    }

    #[test]
    fn other_instances_evict_by_digest() {
        let cache = SessionCache::new(None);
        cache.keep(&record(7, 10), cache.generation());
        cache.keep(&record(8, 10), cache.generation());
        // Its own write, heard back: evicted already when it was made.
        cache.evicted_elsewhere(&format!("{}:{:032x}", cache.tag, digest(&Id(8))));
        assert!(cache.get(&Id(8)).is_some());
        cache.evicted_elsewhere(&format!("another:{:032x}", digest(&Id(7))));
        assert_eq!(cache.get(&Id(7)), None);
        assert!(cache.get(&Id(8)).is_some());
        cache.evicted_elsewhere("not a digest");
        assert_eq!(cache.get(&Id(8)), None);
    }

    #[test]
    fn accounts_and_carts_are_kept_until_they_change() {
        let cache = SessionCache::new(None);
        let user = CurrentUser {
            id: 7,
            email: "a@example.com".into(),
            role: crate::model::Role::Customer,
        };
        let items = vec![StoredItem {
            product_id: 3,
            quantity: 2,
            seen_price: Some(("USD".into(), 1800)),
        }];
        cache.keep_user(&user, cache.generation());
        cache.keep_cart(7, &items, 41, cache.generation());
        assert_eq!(cache.user(7), Some(user.clone()));
        assert_eq!(cache.user(8), None);
        assert_eq!(cache.cart(7, 41), Some(items.clone()));
        // Read at another catalogue version (a product deleted since takes its lines along).
        assert_eq!(cache.cart(7, 42), None);
        assert_eq!(cache.cart(8, 41), None);
        // The cart and the account are evicted on their own; the session named 7 is another.
        cache.cart_changed(7);
        assert_eq!(cache.cart(7, 41), None);
        assert_eq!(cache.user(7), Some(user));
        cache.user_changed(7);
        assert_eq!(cache.user(7), None);
        // Overtaken by an eviction while it was read: not kept.
        let before = cache.generation();
        cache.cart_changed(99);
        cache.keep_cart(7, &items, 41, before);
        assert_eq!(cache.cart(7, 41), None);
        // Another instance changed the cart.
        cache.keep_cart(7, &items, 41, cache.generation());
        cache.evicted_elsewhere(&format!("another:{:032x}", customer_name("cart", 7)));
        assert_eq!(cache.cart(7, 41), None);
    }

    #[test]
    fn one_cache_per_sqlite_file_in_a_process() {
        let a = SessionCache::for_sqlite_file("sqlite://one.db");
        let b = SessionCache::for_sqlite_file("sqlite://one.db");
        let c = SessionCache::for_sqlite_file("sqlite://two.db");
        assert!(Arc::ptr_eq(&a, &b));
        assert!(!Arc::ptr_eq(&a, &c));
    }
}
