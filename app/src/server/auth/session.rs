//! The shop's view of a tower-sessions session: who is logged in, the chosen currency and a guest's cart.

use super::session_cache::SessionCache;
use crate::model::{CheckoutDetails, Currency, FormEcho, ImportReport, RefundConfirmation};
use crate::server::db::carts::StoredItem;
use crate::server::db::write::WriteGate;
use crate::server::db::{Db, NativePool};
use crate::server::error::{ServerError, ServerResult};
use std::str::FromStr;
use std::sync::Arc;
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store;
use tower_sessions::{Session, SessionStore};
use tower_sessions_sqlx_store::{PostgresStore, SqliteStore};

const USER_ID: &str = "user_id";
const CURRENCY: &str = "currency";
const GUEST_CART: &str = "guest_cart";
const CHECKOUT_KEY: &str = "checkout_key";
const PLACED_ORDERS: &str = "placed_orders";
const NOTICE: &str = "notice";
const IMPORT_REPORT: &str = "catalogue_import";
const CHECKOUT_DETAILS: &str = "checkout_details";
const FORM_ECHO: &str = "form_echo";
const REFUND_CONFIRMATION: &str = "refund_confirmation";
/// How many of its own orders a session remembers (older ones stay reachable by their link).
const PLACED_ORDERS_KEPT: usize = 20;

/// Typed access to the session; keys are private to this module.
#[derive(Debug, Clone)]
pub struct ShopSession(pub Session);

impl ShopSession {
    pub async fn user_id(&self) -> ServerResult<Option<i64>> {
        Ok(self.0.get::<i64>(USER_ID).await?)
    }

    /// Log in: a new session id first (so a planted id is worthless), then remember the account.
    pub async fn log_in(&self, user_id: i64) -> ServerResult<()> {
        self.0.cycle_id().await?;
        self.0.insert(USER_ID, user_id).await?;
        Ok(())
    }

    /// Log out: drop the whole session, server side and cookie.
    pub async fn log_out(&self) -> ServerResult<()> {
        self.0.flush().await?;
        Ok(())
    }

    /// The shopper's currency; USD until they pick one.
    pub async fn currency(&self) -> ServerResult<Currency> {
        Ok(self
            .0
            .get::<Currency>(CURRENCY)
            .await?
            .unwrap_or(Currency::Usd))
    }

    pub async fn set_currency(&self, currency: Currency) -> ServerResult<()> {
        self.0.insert(CURRENCY, currency).await?;
        Ok(())
    }

    pub async fn guest_cart(&self) -> ServerResult<Vec<StoredItem>> {
        Ok(self
            .0
            .get::<Vec<StoredItem>>(GUEST_CART)
            .await?
            .unwrap_or_default())
    }

    pub async fn set_guest_cart(&self, items: &[StoredItem]) -> ServerResult<()> {
        if items.is_empty() {
            self.0.remove::<Vec<StoredItem>>(GUEST_CART).await?;
        } else {
            self.0.insert(GUEST_CART, items).await?;
        }
        Ok(())
    }

    /// The idempotency key the checkout form carries: the same for every render and retry until
    /// an order from it reaches the provider, so a double submit or a retry finds the same order.
    pub async fn checkout_key(&self) -> ServerResult<String> {
        if let Some(key) = self.0.get::<String>(CHECKOUT_KEY).await? {
            return Ok(key);
        }
        let key = uuid::Uuid::new_v4().simple().to_string();
        self.0.insert(CHECKOUT_KEY, &key).await?;
        Ok(key)
    }

    /// Start afresh: the next checkout is a new order.
    pub async fn rotate_checkout_key(&self) -> ServerResult<()> {
        self.0.remove::<String>(CHECKOUT_KEY).await?;
        Ok(())
    }

    /// Remember an order placed in this session, so its owner can see it without the link.
    pub async fn remember_order(&self, reference: &str) -> ServerResult<()> {
        let mut placed = self.placed_orders().await?;
        if !placed.iter().any(|r| r == reference) {
            placed.push(reference.to_string());
            if placed.len() > PLACED_ORDERS_KEPT {
                placed.remove(0);
            }
            self.0.insert(PLACED_ORDERS, placed).await?;
        }
        Ok(())
    }

    /// Leave a message for the next drawing of the page about `about` (an order's reference), after
    /// a form on it was sent: a plain POST comes back to the page, which shows it once.
    pub async fn set_notice(&self, about: &str, message: &str) -> ServerResult<()> {
        self.0.insert(NOTICE, (about, message)).await?;
        Ok(())
    }

    /// Take the message left for `about`, if any; a message about another page stays.
    pub async fn take_notice(&self, about: &str) -> ServerResult<Option<String>> {
        self.take_left_for(NOTICE, about).await
    }

    /// What the last catalogue CSV check or import found, for the import page.
    pub async fn set_import_report(&self, report: &ImportReport) -> ServerResult<()> {
        self.0.insert(IMPORT_REPORT, report).await?;
        Ok(())
    }

    pub async fn take_import_report(&self) -> ServerResult<Option<ImportReport>> {
        Ok(self.0.remove::<ImportReport>(IMPORT_REPORT).await?)
    }

    /// Take what is kept under `key` for `about` (a page, a form, an order), if it is for that;
    /// what was left for another stays.
    async fn take_left_for<T>(&self, key: &str, about: &str) -> ServerResult<Option<T>>
    where
        T: serde::de::DeserializeOwned + serde::Serialize,
    {
        match self.0.get::<(String, T)>(key).await? {
            Some((left_for, value)) if left_for == about => {
                self.0.remove::<(String, T)>(key).await?;
                Ok(Some(value))
            }
            _ => Ok(None),
        }
    }

    /// What the shopper last typed at checkout (kept for the next checkout, a Try again or a Back
    /// to cart).
    pub async fn checkout_details(&self) -> ServerResult<Option<CheckoutDetails>> {
        Ok(self.0.get::<CheckoutDetails>(CHECKOUT_DETAILS).await?)
    }

    pub async fn set_checkout_details(&self, details: &CheckoutDetails) -> ServerResult<()> {
        self.0.insert(CHECKOUT_DETAILS, details).await?;
        Ok(())
    }

    /// Keep a refused form's values and errors for the next drawing of its page (`form` names it:
    /// "login", "register", "checkout").
    pub async fn set_form_echo(&self, form: &str, echo: &FormEcho) -> ServerResult<()> {
        self.0.insert(FORM_ECHO, (form, echo)).await?;
        Ok(())
    }

    /// After `form` was refused: keep what was typed (`values`, never a password) and, when the
    /// refusal was field by field, each field's message, for the page the browser comes back to.
    /// Returns the refusal to answer with.
    pub async fn keep_refused_form(
        &self,
        form: &str,
        values: &[(&str, &str)],
        refusal: ServerError,
    ) -> ServerError {
        let echo = FormEcho {
            values: values
                .iter()
                .map(|(k, v)| (k.to_string(), v.chars().take(300).collect()))
                .collect(),
            errors: match &refusal {
                ServerError::Fields(errors) => errors.clone(),
                _ => Default::default(),
            },
        };
        if let Err(e) = self.set_form_echo(form, &echo).await {
            tracing::warn!(error = %e, form, "could not keep a refused form's values");
        }
        refusal
    }

    /// Take what a refused `form` left, if any; what another form left stays.
    pub async fn take_form_echo(&self, form: &str) -> ServerResult<Option<FormEcho>> {
        self.take_left_for(FORM_ECHO, form).await
    }

    /// A refund checked for `reference` and waiting for the merchant to confirm it.
    pub async fn set_refund_confirmation(
        &self,
        reference: &str,
        confirmation: &RefundConfirmation,
    ) -> ServerResult<()> {
        self.0
            .insert(REFUND_CONFIRMATION, (reference, confirmation))
            .await?;
        Ok(())
    }

    /// Take the refund waiting for confirmation on `reference`, if any.
    pub async fn take_refund_confirmation(
        &self,
        reference: &str,
    ) -> ServerResult<Option<RefundConfirmation>> {
        self.take_left_for(REFUND_CONFIRMATION, reference).await
    }

    pub async fn placed_orders(&self) -> ServerResult<Vec<String>> {
        Ok(self
            .0
            .get::<Vec<String>>(PLACED_ORDERS)
            .await?
            .unwrap_or_default())
    }
}

/// End every stored session logged in as `user_id`, on whichever backend the shop runs; returns
/// how many were ended. The store keeps each session encoded, so every live session is loaded
/// through the store and checked; this is for rare administrative changes (start-up), not requests.
/// Each ended session is evicted from `sessions` (on every instance).
pub async fn end_all_for(db: &Db, sessions: &SessionCache, user_id: i64) -> ServerResult<usize> {
    match &db.native {
        NativePool::Sqlite(pool) => {
            let store = SqliteStore::new(pool.clone());
            store.migrate().await?;
            let ids = sqlx::query_scalar::<_, String>("SELECT id FROM tower_sessions")
                .fetch_all(pool)
                .await?;
            end_matching(&store, sessions, ids, user_id).await
        }
        NativePool::Postgres(pool) => {
            let store = PostgresStore::new(pool.clone());
            store.migrate().await?;
            let ids = sqlx::query_scalar::<_, String>("SELECT id FROM tower_sessions.session")
                .fetch_all(pool)
                .await?;
            end_matching(&store, sessions, ids, user_id).await
        }
    }
}

async fn end_matching(
    store: &impl SessionStore,
    sessions: &SessionCache,
    ids: Vec<String>,
    user_id: i64,
) -> ServerResult<usize> {
    let store_error = |e: tower_sessions::session_store::Error| {
        ServerError::Internal(format!("session store: {e}"))
    };
    let mut ended = 0;
    for id in ids {
        let Ok(id) = Id::from_str(&id) else {
            continue;
        };
        let Some(record) = store.load(&id).await.map_err(store_error)? else {
            continue;
        };
        if record.data.get(USER_ID).and_then(|v| v.as_i64()) == Some(user_id) {
            store.delete(&id).await.map_err(store_error)?;
            sessions.changed(&id);
            ended += 1;
        }
    }
    Ok(ended)
}

/// The session store behind the shop's write gate ([`crate::server::db::write`]) and in front of
/// the session cache ([`SessionCache`]): on SQLite a session's save waits its turn among the
/// shop's other writers instead of sleeping in SQLite's busy handler (on PostgreSQL the gate is
/// open); a load is answered from the cache when it can be, and every write evicts.
#[derive(Clone)]
pub struct GatedStore<S> {
    store: S,
    gate: WriteGate,
    cache: Arc<SessionCache>,
}

impl<S> std::fmt::Debug for GatedStore<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("GatedStore")
    }
}

impl<S> GatedStore<S> {
    pub fn new(store: S, gate: WriteGate, cache: Arc<SessionCache>) -> Self {
        GatedStore { store, gate, cache }
    }
}

#[async_trait::async_trait]
impl<S: SessionStore + Clone> SessionStore for GatedStore<S> {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        let _turn = self.gate.turn().await;
        self.store.create(record).await?;
        // A fresh id, but an id the store made unique may have been in use before.
        self.cache.changed(&record.id);
        Ok(())
    }

    async fn save(&self, record: &Record) -> session_store::Result<()> {
        let _turn = self.gate.turn().await;
        let saved = self.store.save(record).await;
        // Evicted even when the save failed: it may have been written all the same.
        self.cache.changed(&record.id);
        saved
    }

    async fn load(&self, id: &Id) -> session_store::Result<Option<Record>> {
        if let Some(record) = self.cache.get(id) {
            return Ok(Some(record));
        }
        let generation = self.cache.generation();
        let loaded = self.store.load(id).await?;
        if let Some(record) = &loaded {
            self.cache.keep(record, generation);
        }
        Ok(loaded)
    }

    async fn delete(&self, id: &Id) -> session_store::Result<()> {
        let _turn = self.gate.turn().await;
        let deleted = self.store.delete(id).await;
        self.cache.changed(id);
        deleted
    }
}

/// The hourly sweep of expired sessions takes its turn at the gate too, so on SQLite its DELETE
/// never holds the file's write lock while the shop's writers sleep in SQLite's busy handler.
#[async_trait::async_trait]
impl<S: tower_sessions::ExpiredDeletion + Clone> tower_sessions::ExpiredDeletion for GatedStore<S> {
    async fn delete_expired(&self) -> session_store::Result<()> {
        let _turn = self.gate.turn().await;
        self.store.delete_expired().await
    }
}
