//! What changed, told to this instance and to every other instance sharing the database:
//!
//! - **Live order-status changes:** an in-process broadcast that feeds the order pages' Server-Sent
//!   Events.
//! - **Catalogue changes:** a version number the page cache (`src/page_cache.rs`) compares its
//!   rendered pages against; any price, stock or visibility change bumps it.
//!
//! On PostgreSQL every change is also sent with `NOTIFY`, and every instance `LISTEN`s and applies
//! what other instances sent, so a webhook handled by instance A reaches a shopper connected to
//! instance B, and a price edited on A is not served from B's cache. While that listener is not
//! connected, the catalogue version reads as unknown and cached pages are not used: a notification
//! missed then cannot leave a stale page behind. The same listener hears other instances' session
//! writes for the session cache ([`SessionCache`]), which is bypassed and then emptied likewise.

use crate::model::OrderStatusJson;
use crate::server::auth::session_cache::{self, SessionCache};
use crate::server::notify;
use serde::{Deserialize, Serialize};
use sqlx::postgres::{PgListener, PgPool};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::broadcast;

/// How many changes a slow listener may fall behind before it misses some (it then re-reads).
const CAPACITY: usize = 1024;
const CHANNEL: &str = "storefront_order_status";
const CATALOGUE_CHANNEL: &str = "storefront_catalogue";

#[derive(Clone)]
pub struct OrderEvents {
    sender: broadcast::Sender<OrderStatusJson>,
    /// Tells this instance's own notifications from other instances'.
    instance: Arc<str>,
    postgres: Option<PgPool>,
    catalogue: Arc<CatalogueVersion>,
    /// Told about other instances' session writes (PostgreSQL).
    sessions: Option<Arc<SessionCache>>,
}

/// Bumped on every catalogue change, here or (through `NOTIFY`) on another instance.
#[derive(Debug)]
struct CatalogueVersion {
    version: AtomicU64,
    /// False while another instance's changes could go unseen (PostgreSQL listener not connected).
    in_sync: AtomicBool,
}

impl CatalogueVersion {
    fn bump(&self) {
        self.version.fetch_add(1, Ordering::SeqCst);
    }
}

#[derive(Serialize, Deserialize)]
struct Notification {
    instance: String,
    status: OrderStatusJson,
    /// The status's owner (not part of its JSON).
    #[serde(default)]
    owner: Option<i64>,
}

impl OrderEvents {
    /// Changes stay in this process.
    pub fn local() -> Self {
        OrderEvents {
            sender: broadcast::channel(CAPACITY).0,
            instance: uuid::Uuid::new_v4().simple().to_string().into(),
            postgres: None,
            catalogue: Arc::new(CatalogueVersion {
                version: AtomicU64::new(0),
                in_sync: AtomicBool::new(true),
            }),
            sessions: None,
        }
    }

    /// Changes also cross instances sharing this PostgreSQL database; starts the listener, which
    /// also evicts other instances' session writes from `sessions`.
    pub fn shared(pool: PgPool, sessions: Arc<SessionCache>) -> Self {
        let events = OrderEvents {
            postgres: Some(pool.clone()),
            sessions: Some(sessions),
            ..OrderEvents::local()
        };
        // Until the listener runs, other instances' catalogue edits would go unseen.
        events.catalogue.in_sync.store(false, Ordering::SeqCst);
        let relay = events.clone();
        tokio::spawn(async move { relay.listen(pool).await });
        events
    }

    /// Wait (at most `limit`) until other instances' changes are heard: at start-up, so the page
    /// cache works from the first request. Later losses are handled by the listener itself.
    pub async fn wait_until_in_sync(&self, limit: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + limit;
        while !self.catalogue.in_sync.load(Ordering::SeqCst) {
            if tokio::time::Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        true
    }

    /// Tell every listener; nobody listening is fine.
    pub fn publish(&self, status: OrderStatusJson) {
        if let Some(pool) = &self.postgres {
            let note = Notification {
                instance: self.instance.to_string(),
                status: status.clone(),
                owner: status.owner,
            };
            let payload = serde_json::to_string(&note).unwrap_or_default();
            notify::send(pool, CHANNEL, payload);
        }
        let _ = self.sender.send(status);
    }

    /// The catalogue (a price, stock, or whether a product is for sale) changed: call after the
    /// change is committed. Pages rendered before this are not served again, here or elsewhere.
    pub fn catalogue_changed(&self) {
        self.catalogue.bump();
        if let Some(pool) = &self.postgres {
            notify::send(pool, CATALOGUE_CHANNEL, self.instance.to_string());
        }
    }

    /// The catalogue's current version, or `None` while it cannot be known (PostgreSQL listener
    /// down): a page rendered at version `v` is current exactly while this returns `Some(v)`.
    pub fn catalogue_version(&self) -> Option<u64> {
        // Read `in_sync` on both sides: a reconnect in between bumps the version.
        if !self.catalogue.in_sync.load(Ordering::SeqCst) {
            return None;
        }
        let version = self.catalogue.version.load(Ordering::SeqCst);
        self.catalogue
            .in_sync
            .load(Ordering::SeqCst)
            .then_some(version)
    }

    pub fn subscribe(&self) -> broadcast::Receiver<OrderStatusJson> {
        self.sender.subscribe()
    }

    /// How many live streams (Server-Sent Events) of this instance are listening now: each holds
    /// one subscription for as long as its client stays connected.
    pub fn listeners(&self) -> usize {
        self.sender.receiver_count()
    }

    /// Re-broadcast other instances' changes; reconnects after a lost connection.
    async fn listen(self, pool: PgPool) {
        loop {
            let lost = match self.listen_once(&pool).await {
                Ok(()) => "connection lost".to_string(),
                Err(e) => e.to_string(),
            };
            // Whatever was sent meanwhile is missed: no cached page or session until listening
            // again.
            self.catalogue.in_sync.store(false, Ordering::SeqCst);
            if let Some(sessions) = &self.sessions {
                sessions.set_in_sync(false);
            }
            tracing::warn!(error = %lost, "change listener lost; reconnecting");
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }

    /// Listen until the connection is lost (`Ok`) or cannot be made (`Err`).
    async fn listen_once(&self, pool: &PgPool) -> Result<(), sqlx::Error> {
        let mut listener = PgListener::connect_with(pool).await?;
        listener
            .listen_all([CHANNEL, CATALOGUE_CHANNEL, session_cache::CHANNEL])
            .await?;
        // Pages rendered and sessions kept while not listening may predate a missed change.
        self.catalogue.bump();
        self.catalogue.in_sync.store(true, Ordering::SeqCst);
        if let Some(sessions) = &self.sessions {
            sessions.set_in_sync(true);
        }
        // `try_recv` (not `recv`) so a lost connection is seen here instead of being silently
        // re-made inside sqlx with the notifications sent meanwhile lost.
        while let Some(message) = listener.try_recv().await? {
            if message.channel() == session_cache::CHANNEL {
                if let Some(sessions) = &self.sessions {
                    sessions.evicted_elsewhere(message.payload());
                }
                continue;
            }
            if message.channel() == CATALOGUE_CHANNEL {
                if message.payload() != &*self.instance {
                    self.catalogue.bump();
                }
                continue;
            }
            let Ok(note) = serde_json::from_str::<Notification>(message.payload()) else {
                continue;
            };
            if *note.instance != *self.instance {
                let status = OrderStatusJson {
                    owner: note.owner,
                    ..note.status
                };
                let _ = self.sender.send(status);
            }
        }
        Ok(())
    }
}
