//! Live order-status changes: an in-process broadcast that feeds the order pages' Server-Sent Events.

use crate::model::OrderStatusJson;
use tokio::sync::broadcast;

/// How many changes a slow listener may fall behind before it misses some (it then re-reads).
const CAPACITY: usize = 1024;

#[derive(Clone)]
pub struct OrderEvents {
    sender: broadcast::Sender<OrderStatusJson>,
}

impl Default for OrderEvents {
    fn default() -> Self {
        OrderEvents {
            sender: broadcast::channel(CAPACITY).0,
        }
    }
}

impl OrderEvents {
    /// Tell every listener; nobody listening is fine.
    pub fn publish(&self, status: OrderStatusJson) {
        let _ = self.sender.send(status);
    }

    pub fn subscribe(&self) -> broadcast::Receiver<OrderStatusJson> {
        self.sender.subscribe()
    }
}
