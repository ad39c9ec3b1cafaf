//! Live order-status changes: an in-process broadcast that feeds the order pages' Server-Sent
//! Events. On PostgreSQL every change is also sent with `NOTIFY` on one channel, and every instance
//! `LISTEN`s and re-broadcasts what other instances sent, so a webhook handled by instance A reaches
//! a shopper connected to instance B.

use crate::model::OrderStatusJson;
use serde::{Deserialize, Serialize};
use sqlx::postgres::{PgListener, PgPool};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::broadcast;

/// How many changes a slow listener may fall behind before it misses some (it then re-reads).
const CAPACITY: usize = 1024;
const CHANNEL: &str = "storefront_order_status";

#[derive(Clone)]
pub struct OrderEvents {
    sender: broadcast::Sender<OrderStatusJson>,
    /// Tells this instance's own notifications from other instances'.
    instance: Arc<str>,
    postgres: Option<PgPool>,
}

#[derive(Serialize, Deserialize)]
struct Notification {
    instance: String,
    status: OrderStatusJson,
}

impl OrderEvents {
    /// Changes stay in this process.
    pub fn local() -> Self {
        OrderEvents {
            sender: broadcast::channel(CAPACITY).0,
            instance: uuid::Uuid::new_v4().simple().to_string().into(),
            postgres: None,
        }
    }

    /// Changes also cross instances sharing this PostgreSQL database; starts the listener.
    pub fn shared(pool: PgPool) -> Self {
        let events = OrderEvents {
            postgres: Some(pool.clone()),
            ..OrderEvents::local()
        };
        let relay = events.clone();
        tokio::spawn(async move { relay.listen(pool).await });
        events
    }

    /// Tell every listener; nobody listening is fine.
    pub fn publish(&self, status: OrderStatusJson) {
        if let Some(pool) = &self.postgres {
            let note = Notification {
                instance: self.instance.to_string(),
                status: status.clone(),
            };
            let pool = pool.clone();
            tokio::spawn(async move {
                let payload = serde_json::to_string(&note).unwrap_or_default();
                let sent = sqlx::query("SELECT pg_notify($1, $2)")
                    .bind(CHANNEL)
                    .bind(payload)
                    .execute(&pool)
                    .await;
                if let Err(e) = sent {
                    tracing::warn!(error = %e, "could not notify other instances");
                }
            });
        }
        let _ = self.sender.send(status);
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
            if let Err(e) = self.listen_once(&pool).await {
                tracing::warn!(error = %e, "order status listener lost; reconnecting");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }

    async fn listen_once(&self, pool: &PgPool) -> Result<(), sqlx::Error> {
        let mut listener = PgListener::connect_with(pool).await?;
        listener.listen(CHANNEL).await?;
        loop {
            let message = listener.recv().await?;
            let Ok(note) = serde_json::from_str::<Notification>(message.payload()) else {
                continue;
            };
            if *note.instance != *self.instance {
                let _ = self.sender.send(note.status);
            }
        }
    }
}
