//! One writer at a time on SQLite, queued in the process instead of in SQLite's busy handler.
//!
//! SQLite lets one connection write at a time. A second writer that finds the file locked sleeps
//! in SQLite's busy handler (1, 2, 5, 10, 15, 20, 25 … 100 ms between tries) and is not woken when
//! the lock frees, so under a rush most of the time went to sleeping writers while the file stood
//! idle: the checkout's p99 and the webhook rate (README, Figures). Here the shop's writers wait
//! their turn on a fair async lock, taken before a pool connection, and the next one starts the
//! moment the previous one commits. PostgreSQL locks rows and needs no gate: there it is a no-op.
//!
//! Rules: take the turn ([`super::Db::begin_write`], [`super::Db::write`]) without holding another
//! connection or turn (it is not re-entrant), and never across a call to a provider. A writer
//! outside the gate (the session store's expired-session sweep, say) is still correct: it meets
//! SQLite's busy handler as before.

use sqlx::pool::PoolConnection;
use sqlx::{Any, AnyConnection, Transaction};
use std::ops::{Deref, DerefMut};
use std::sync::Arc;
use tokio::sync::{Mutex, OwnedMutexGuard};

/// The queue of writers, shared by every clone of the [`super::Db`]; `None` on PostgreSQL.
#[derive(Debug, Clone, Default)]
pub struct WriteGate(Option<Arc<Mutex<()>>>);

/// A writer's place at the front of the queue, released when dropped.
pub type Turn = Option<OwnedMutexGuard<()>>;

impl WriteGate {
    pub fn sqlite() -> WriteGate {
        WriteGate(Some(Arc::new(Mutex::new(()))))
    }

    pub fn none() -> WriteGate {
        WriteGate(None)
    }

    /// Wait for this writer's turn (at once on PostgreSQL).
    pub async fn turn(&self) -> Turn {
        match &self.0 {
            Some(gate) => Some(gate.clone().lock_owned().await),
            None => None,
        }
    }
}

/// A connection or transaction that writes, holding the writer's turn until it is dropped (or,
/// for a transaction, commits).
pub struct Writer<C> {
    conn: C,
    _turn: Turn,
}

/// A transaction that writes ([`super::Db::begin_write`]).
pub type WriteTx = Writer<Transaction<'static, Any>>;
/// A connection for single-statement writes ([`super::Db::write`]).
pub type WriteConn = Writer<PoolConnection<Any>>;

impl<C> Writer<C> {
    pub(super) fn new(conn: C, turn: Turn) -> Writer<C> {
        Writer { conn, _turn: turn }
    }
}

impl WriteTx {
    pub async fn commit(self) -> Result<(), sqlx::Error> {
        self.conn.commit().await
    }
}

impl<C: Deref<Target = AnyConnection>> Deref for Writer<C> {
    type Target = AnyConnection;
    fn deref(&self) -> &AnyConnection {
        &self.conn
    }
}

impl<C: DerefMut<Target = AnyConnection>> DerefMut for Writer<C> {
    fn deref_mut(&mut self) -> &mut AnyConnection {
        &mut self.conn
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn one_writer_at_a_time_in_the_order_they_came() {
        let gate = WriteGate::sqlite();
        let first = gate.turn().await;
        assert!(first.is_some());
        let order = Arc::new(std::sync::Mutex::new(Vec::new()));
        let mut waiting = Vec::new();
        for i in 0..3 {
            let (gate, order) = (gate.clone(), order.clone());
            waiting.push(tokio::spawn(async move {
                let _turn = gate.turn().await;
                order.lock().unwrap().push(i);
            }));
            // Each queues before the next one is spawned.
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert!(
            order.lock().unwrap().is_empty(),
            "nobody writes while a turn is held"
        );
        drop(first);
        for w in waiting {
            w.await.unwrap();
        }
        assert_eq!(*order.lock().unwrap(), vec![0, 1, 2]);
    }

    #[tokio::test]
    async fn postgresql_writers_do_not_queue() {
        let gate = WriteGate::none();
        let first = gate.turn().await;
        let second = tokio::time::timeout(Duration::from_secs(1), gate.turn()).await;
        assert!(first.is_none() && matches!(second, Ok(None)));
    }
}
