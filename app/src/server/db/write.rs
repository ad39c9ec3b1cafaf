//! One writer at a time on SQLite, queued in the process instead of in SQLite's busy handler, and
//! the transactions of writers that queue behind each other committed together (group commit).
//!
//! SQLite lets one connection write at a time. A second writer that finds the file locked sleeps
//! in SQLite's busy handler (1, 2, 5, 10, 15, 20, 25 … 100 ms between tries) and is not woken when
//! the lock frees, so under a rush most of the time went to sleeping writers while the file stood
//! idle. Here the shop's writers wait their turn on a fair async lock, taken before a connection,
//! and the next one starts the moment the previous one is done. PostgreSQL locks rows and commits
//! concurrent transactions together itself: there the gate is open and every transaction is its own.
//!
//! **Group commit.** On SQLite a commit is a write and an `fsync` of the WAL (`synchronous=FULL`),
//! about 0.35 ms on this project's machines, against a few microseconds for a statement: a rush of
//! webhooks or checkouts was bound by fsyncs. So a transaction begun with [`super::Db::begin_write`]
//! joins the *group*: one open transaction on one connection, in which each writer's work is a
//! savepoint. [`WriteTx::commit`] releases the writer's savepoint and, when another writer is already
//! queued (and the group is younger than [`MAX_GROUP_AGE`] and smaller than [`MAX_GROUP`]), hands
//! the group on to it; the last one commits for all. Either way `commit` returns only once the
//! group's `COMMIT` has succeeded, with that result, so nothing is acknowledged before it is on disk
//! (the kill -9 tests hold). A writer that drops its transaction without committing has its
//! savepoint rolled back and leaves the others' work alone. Alone (no one queued), a writer commits
//! at once, as before. Reads outside the group see its work only once it is committed.
//!
//! Rules: take the turn ([`super::Db::begin_write`], [`super::Db::write`], [`WriteGate::turn`])
//! without holding another connection or turn (it is not re-entrant), and never across a call to a
//! provider. [`WriteGate::turn`] (statements on their own connection, the session store) commits an
//! open group first. A writer outside the gate (the session store's expired-session sweep, say) is
//! still correct: it meets SQLite's busy handler as before.

use sqlx::{Any, AnyConnection, AnyPool, Transaction};
use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{oneshot, Mutex, OwnedMutexGuard};

/// The most writers committed by one group commit.
pub const MAX_GROUP: usize = 32;
/// How long a group may stay open while writers keep queueing: the most a writer's commit waits
/// for later writers' work.
pub const MAX_GROUP_AGE: Duration = Duration::from_millis(4);

/// The queue of writers, shared by every clone of the [`super::Db`]; `None` on PostgreSQL.
#[derive(Debug, Clone, Default)]
pub struct WriteGate(Option<Gate>);

#[derive(Debug, Clone)]
struct Gate {
    group: Arc<Mutex<Group>>,
    /// Writers waiting for the lock (a holder hands the group on only to someone).
    waiting: Arc<AtomicUsize>,
}

/// The open group transaction and the writers whose work is in it.
#[derive(Debug, Default)]
struct Group {
    tx: Option<Transaction<'static, Any>>,
    opened: Option<Instant>,
    /// Writers whose savepoint is released, waiting for the group's `COMMIT`.
    members: Vec<oneshot::Sender<Result<(), String>>>,
    /// A writer's savepoint is open (its holder is working, or dropped it without committing).
    savepoint_open: bool,
}

/// A writer's place at the front of the queue, released when dropped.
pub type Turn = Option<Held>;

/// The lock on the gate. Released with an open group and nobody queued to carry it on, it starts
/// a task that commits the group, so no committed writer is left waiting.
#[derive(Debug)]
pub struct Held {
    group: OwnedMutexGuard<Group>,
    gate: Gate,
}

impl WriteGate {
    pub fn sqlite() -> WriteGate {
        WriteGate(Some(Gate {
            group: Arc::new(Mutex::new(Group::default())),
            waiting: Arc::new(AtomicUsize::new(0)),
        }))
    }

    pub fn none() -> WriteGate {
        WriteGate(None)
    }

    /// Writers waiting for their turn now (0 on PostgreSQL).
    pub fn queued(&self) -> usize {
        self.0
            .as_ref()
            .map_or(0, |gate| gate.waiting.load(Ordering::SeqCst))
    }

    /// Wait for this writer's turn (at once on PostgreSQL), for statements on a connection of
    /// their own: an open group is committed first.
    pub async fn turn(&self) -> Turn {
        let gate = self.0.as_ref()?.clone();
        // In a task of its own, so a caller that gives up cannot cut the group's commit short.
        let settled = tokio::spawn(async move {
            let mut held = gate.queue().await;
            held.group.settle().await;
            held
        });
        Some(settled.await.expect("the group commit does not panic"))
    }

    /// Begin a transaction that writes: on SQLite a savepoint in the group, after waiting this
    /// writer's turn; on PostgreSQL a transaction of its own.
    pub async fn begin(&self, pool: &AnyPool) -> Result<WriteTx, sqlx::Error> {
        let Some(gate) = &self.0 else {
            return Ok(WriteTx(Inner::Alone(pool.begin().await?)));
        };
        let mut held = gate.queue().await;
        let group = &mut *held.group;
        if group.savepoint_open {
            // A writer before this one dropped its transaction: undo its work, keep the others'.
            if let Err(e) = group.undo_savepoint().await {
                group.fail(&e).await;
                return Err(e);
            }
        }
        if group.tx.is_none() {
            group.tx = Some(pool.begin().await?);
            group.opened = Some(Instant::now());
        }
        let conn: &mut AnyConnection = group.tx.as_mut().expect("opened above");
        if let Err(e) = sqlx::query("SAVEPOINT writer").execute(conn).await {
            group.fail(&e).await;
            return Err(e);
        }
        group.savepoint_open = true;
        Ok(WriteTx(Inner::Group(held)))
    }
}

impl Gate {
    async fn queue(&self) -> Held {
        let waiting = Waiting::new(self);
        let group = self.group.clone().lock_owned().await;
        waiting.served();
        Held {
            group,
            gate: self.clone(),
        }
    }

    /// Commit the open group, whoever holds the lock next (a task of its own).
    fn flush_later(&self) {
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let gate = self.clone();
            runtime.spawn(async move { gate.queue().await.group.settle().await });
        }
    }
}

/// Counts a writer in the queue while it waits; one that gives up waiting (its request was
/// dropped) may have been the one a group was handed to, so the group is committed without it.
struct Waiting<'a> {
    gate: &'a Gate,
    served: bool,
}

impl<'a> Waiting<'a> {
    fn new(gate: &'a Gate) -> Waiting<'a> {
        gate.waiting.fetch_add(1, Ordering::SeqCst);
        Waiting {
            gate,
            served: false,
        }
    }

    fn served(mut self) {
        self.served = true;
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.gate.waiting.fetch_sub(1, Ordering::SeqCst);
        if !self.served {
            self.gate.flush_later();
        }
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        if self.group.tx.is_some() && self.gate.waiting.load(Ordering::SeqCst) == 0 {
            self.gate.flush_later();
        }
    }
}

impl Group {
    /// Roll back the open savepoint of a writer that dropped its transaction.
    async fn undo_savepoint(&mut self) -> Result<(), sqlx::Error> {
        let conn: &mut AnyConnection = self.tx.as_mut().expect("a savepoint is in a group");
        sqlx::query("ROLLBACK TO SAVEPOINT writer")
            .execute(&mut *conn)
            .await?;
        sqlx::query("RELEASE SAVEPOINT writer")
            .execute(&mut *conn)
            .await?;
        self.savepoint_open = false;
        Ok(())
    }

    /// Commit the open group (after undoing a dropped writer's savepoint) and tell its members.
    async fn settle(&mut self) {
        if self.tx.is_none() {
            return;
        }
        if self.savepoint_open {
            if let Err(e) = self.undo_savepoint().await {
                return self.fail(&e).await;
            }
        }
        let tx = self.tx.take().expect("checked above");
        self.opened = None;
        let members = std::mem::take(&mut self.members);
        let result = if members.is_empty() {
            tx.rollback().await
        } else {
            tx.commit().await
        };
        if let Err(e) = &result {
            tracing::error!(error = %e, writers = members.len(), "a group commit failed");
        }
        for member in members {
            let _ = member.send(result.as_ref().map(|_| ()).map_err(|e| e.to_string()));
        }
    }

    /// Roll the whole group back and tell its members why.
    async fn fail(&mut self, error: &sqlx::Error) {
        tracing::error!(%error, writers = self.members.len(), "a group transaction was rolled back");
        if let Some(tx) = self.tx.take() {
            let _ = tx.rollback().await;
        }
        self.opened = None;
        self.savepoint_open = false;
        for member in std::mem::take(&mut self.members) {
            let _ = member.send(Err(format!("the group commit was rolled back: {error}")));
        }
    }
}

/// A transaction that writes ([`super::Db::begin_write`]); dropped without [`WriteTx::commit`],
/// its work is rolled back.
pub struct WriteTx(Inner);

enum Inner {
    Alone(Transaction<'static, Any>),
    Group(Held),
}

impl WriteTx {
    /// Commit this writer's work; returns once it is durable (on SQLite, once its group commits).
    pub async fn commit(self) -> Result<(), sqlx::Error> {
        let held = match self.0 {
            Inner::Alone(tx) => return tx.commit().await,
            Inner::Group(held) => held,
        };
        let (done, committed) = oneshot::channel();
        // In a task of its own: the group's other writers wait on what it does, so a caller that
        // gives up (its request dropped) must not cut it short.
        tokio::spawn(held.finish(done));
        match committed.await {
            Ok(result) => result.map_err(sqlx::Error::Protocol),
            Err(_) => Err(sqlx::Error::Protocol(
                "the group commit was abandoned".into(),
            )),
        }
    }
}

impl Held {
    /// Release a writer's savepoint and commit the group, or hand it on to a queued writer.
    async fn finish(mut self, done: oneshot::Sender<Result<(), String>>) {
        let group = &mut *self.group;
        let conn: &mut AnyConnection = group.tx.as_mut().expect("a writer is in a group");
        if let Err(e) = sqlx::query("RELEASE SAVEPOINT writer").execute(conn).await {
            // The savepoint stays open, and is rolled back as a dropped writer's.
            let _ = done.send(Err(e.to_string()));
            return;
        }
        group.savepoint_open = false;
        group.members.push(done);
        let young = group
            .opened
            .is_some_and(|opened| opened.elapsed() < MAX_GROUP_AGE);
        let handed_on = young
            && group.members.len() < MAX_GROUP
            && self.gate.waiting.load(Ordering::SeqCst) > 0;
        if !handed_on {
            group.settle().await;
        }
    }
}

impl Deref for WriteTx {
    type Target = AnyConnection;
    fn deref(&self) -> &AnyConnection {
        match &self.0 {
            Inner::Alone(tx) => tx,
            Inner::Group(held) => held.group.tx.as_ref().expect("a writer is in a group"),
        }
    }
}

impl DerefMut for WriteTx {
    fn deref_mut(&mut self) -> &mut AnyConnection {
        match &mut self.0 {
            Inner::Alone(tx) => tx,
            Inner::Group(held) => held.group.tx.as_mut().expect("a writer is in a group"),
        }
    }
}

/// A connection for single-statement writes ([`super::Db::write`]), holding the writer's turn
/// until it is dropped.
pub struct WriteConn {
    conn: sqlx::pool::PoolConnection<Any>,
    _turn: Turn,
}

impl WriteConn {
    pub(super) fn new(conn: sqlx::pool::PoolConnection<Any>, turn: Turn) -> WriteConn {
        WriteConn { conn, _turn: turn }
    }
}

impl Deref for WriteConn {
    type Target = AnyConnection;
    fn deref(&self) -> &AnyConnection {
        &self.conn
    }
}

impl DerefMut for WriteConn {
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
