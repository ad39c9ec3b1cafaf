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
//! queued (and its first writer committed less than [`MAX_GROUP_AGE`] ago, and it has fewer than [`MAX_GROUP`] writers), hands
//! the group on to it; the last one commits for all. Either way `commit` returns only once the
//! group's `COMMIT` has succeeded, with that result, so nothing is acknowledged before it is on disk
//! (the kill -9 tests hold). A writer that drops its transaction without committing has its
//! savepoint rolled back and leaves the others' work alone. Alone (no one queued), a writer commits
//! at once, as before. Reads outside the group see its work only once it is committed.
//!
//! **Cancellation.** Every step on the group itself (undoing a dropped writer's savepoint, opening
//! it with `BEGIN IMMEDIATE`, the savepoint, releasing and handing on, `COMMIT`, rollback) runs in a
//! task of its own, so a request cut off at any await cannot stop one half way; only a writer's own
//! statements run in its task. A group's transaction and its members are taken together, so each
//! member is told the outcome of the `COMMIT` that carried its savepoint, and of no other.
//!
//! **Reading what a twin wrote.** Another connection does not see the open group's rows. A writer
//! that meets a twin's row (a UNIQUE conflict) reads it through its own transaction, which does,
//! and commits to wait for the `COMMIT` that carries it.
//!
//! Rules: take the turn ([`super::Db::begin_write`], [`super::Db::write`], [`WriteGate::turn`])
//! without holding another connection or turn (it is not re-entrant), and never across a call to a
//! provider. [`WriteGate::turn`] (statements on their own connection, the session store) commits an
//! open group first. Every writer of the shop goes through the gate; one that did not would still be
//! correct (it meets SQLite's busy handler) but would stall the gated writers.

use sqlx::{Any, AnyConnection, AnyPool, Transaction};
use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{oneshot, Mutex, OwnedMutexGuard};

/// The most writers committed by one group commit.
pub const MAX_GROUP: usize = 32;
/// How long a group is handed on to queued writers after its first writer committed (released its
/// savepoint): the most that writer's commit waits for later writers to join. Counted from that
/// first release, not from the group's opening, so a writer that worked a long time inside the
/// group still gets the writers that queued behind it.
pub const MAX_GROUP_AGE: Duration = Duration::from_millis(4);

/// What a member of a group learns: the outcome of the `COMMIT` that carried its savepoint.
type Outcome = Result<(), String>;

/// The queue of writers, shared by every clone of the [`super::Db`]; `None` on PostgreSQL.
#[derive(Debug, Clone, Default)]
pub struct WriteGate(Option<Gate>);

#[derive(Debug, Clone)]
struct Gate {
    group: Arc<Mutex<Group>>,
    /// Writers waiting for the lock (a holder hands the group on only to someone).
    waiting: Arc<AtomicUsize>,
}

/// The state behind the gate's lock.
#[derive(Debug, Default)]
struct Group {
    open: Option<OpenGroup>,
    /// A writer's savepoint is open (its holder is working, or dropped it without committing).
    savepoint_open: bool,
}

/// One open group transaction and the writers whose released savepoints it carries. The two are
/// only ever taken together, so a member is told the outcome of its own group's `COMMIT` and of
/// no other.
#[derive(Debug)]
struct OpenGroup {
    tx: Transaction<'static, Any>,
    /// When its first writer released its savepoint (and began waiting for the `COMMIT`).
    first_release: Option<Instant>,
    members: Vec<oneshot::Sender<Outcome>>,
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
        // Every step on the group runs in a task of its own, so a caller that gives up (its
        // request dropped) cannot cut a `COMMIT` or a rollback short.
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
            // In a task of its own: sqlx does not undo a `BEGIN` cut off in flight (its guard only
            // rolls back a transaction it has counted), so a request dropped at that moment would
            // put the connection back in the pool inside a transaction nobody knows of, and the
            // next statements on it would never commit.
            let pool = pool.clone();
            let begun = tokio::spawn(async move { pool.begin().await }).await;
            let tx = begun.map_err(|e| sqlx::Error::Protocol(format!("BEGIN: {e}")))??;
            return Ok(WriteTx(Inner::Alone(tx)));
        };
        let (gate, pool) = (gate.clone(), pool.clone());
        // In a task of its own (see `turn`): undoing a dropped writer's savepoint or opening the
        // group must not stop half way because this caller went away.
        let entered = tokio::spawn(async move {
            let mut held = gate.queue().await;
            held.group.enter(&pool).await.map(|()| held)
        });
        let held = entered.await.expect("entering the group does not panic")?;
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
        if self.group.open.is_some() && self.gate.waiting.load(Ordering::SeqCst) == 0 {
            self.gate.flush_later();
        }
    }
}

impl Group {
    /// Make room for a new writer's savepoint: undo a dropped writer's, open the group if none is
    /// open (`BEGIN IMMEDIATE`: the write lock is taken at once, so no statement in the group
    /// meets a busy database half way), then open the savepoint.
    async fn enter(&mut self, pool: &AnyPool) -> Result<(), sqlx::Error> {
        self.undo_dropped_savepoint().await;
        if self.open.is_none() {
            self.open = Some(OpenGroup {
                tx: pool.begin_with("BEGIN IMMEDIATE").await?,
                first_release: None,
                members: Vec::new(),
            });
        }
        let open = self.open.as_mut().expect("opened above");
        if let Err(e) = sqlx::query("SAVEPOINT writer").execute(&mut *open.tx).await {
            // The group's transaction no longer works: roll it back and tell its members.
            self.abort(&e).await;
            return Err(e);
        }
        self.savepoint_open = true;
        Ok(())
    }

    /// Roll back the open savepoint of a writer that dropped its transaction, keeping the
    /// others' work. Should that fail, the transaction is broken, and the group is rolled back.
    async fn undo_dropped_savepoint(&mut self) {
        if !self.savepoint_open {
            return;
        }
        self.savepoint_open = false;
        let Some(open) = self.open.as_mut() else {
            return;
        };
        let undone = async {
            sqlx::query("ROLLBACK TO SAVEPOINT writer")
                .execute(&mut *open.tx)
                .await?;
            sqlx::query("RELEASE SAVEPOINT writer")
                .execute(&mut *open.tx)
                .await
        };
        if let Err(e) = undone.await {
            self.abort(&e).await;
        }
    }

    /// Commit the open group (after undoing a dropped writer's savepoint) and tell each of its
    /// members the outcome.
    async fn settle(&mut self) {
        self.undo_dropped_savepoint().await;
        let Some(open) = self.open.take() else {
            return;
        };
        let OpenGroup { tx, members, .. } = open;
        let result = if members.is_empty() {
            tx.rollback().await
        } else {
            tx.commit().await
        };
        if let Err(e) = &result {
            tracing::error!(error = %e, writers = members.len(), "a group commit failed");
        }
        let outcome = result.map_err(|e| format!("the group's COMMIT failed: {e}"));
        for member in members {
            let _ = member.send(outcome.clone());
        }
    }

    /// Roll the whole group back (its transaction no longer works) and tell its members why.
    async fn abort(&mut self, error: &sqlx::Error) {
        self.savepoint_open = false;
        let Some(OpenGroup { tx, members, .. }) = self.open.take() else {
            return;
        };
        tracing::error!(%error, writers = members.len(), "a group transaction was rolled back");
        let _ = tx.rollback().await;
        for member in members {
            let _ = member.send(Err(format!(
                "the group transaction was rolled back: {error}"
            )));
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
    /// Commit this writer's work; returns once it is durable (on SQLite, once its group commits),
    /// with the outcome of the `COMMIT` that carried it.
    pub async fn commit(self) -> Result<(), sqlx::Error> {
        let held = match self.0 {
            Inner::Alone(tx) => {
                // Also in a task of its own: a `COMMIT` cut off after it was sent still commits,
                // and sqlx would then roll back a transaction that is no longer there.
                let committed = tokio::spawn(tx.commit()).await;
                return committed.map_err(|e| sqlx::Error::Protocol(format!("COMMIT: {e}")))?;
            }
            Inner::Group(held) => held,
        };
        let (done, committed) = oneshot::channel();
        // In a task of its own: the group's other writers wait on what it does, so a caller that
        // gives up (its request dropped) must not cut it short.
        tokio::spawn(held.finish(done));
        match committed.await {
            Ok(result) => result.map_err(sqlx::Error::Protocol),
            // Only when the runtime stops while the group commits (the process is ending).
            Err(_) => Err(sqlx::Error::Protocol(
                "the process stopped before the group's COMMIT finished; its outcome is unknown"
                    .into(),
            )),
        }
    }
}

impl Held {
    /// Release a writer's savepoint and commit the group, or hand it on to a queued writer.
    async fn finish(mut self, done: oneshot::Sender<Outcome>) {
        let group = &mut *self.group;
        let Some(open) = group.open.as_mut() else {
            // Only if the group was rolled back while this writer was in it, which cannot happen
            // while it holds the lock; answered rather than assumed.
            let _ = done.send(Err("the group transaction was rolled back".into()));
            return;
        };
        if let Err(e) = sqlx::query("RELEASE SAVEPOINT writer")
            .execute(&mut *open.tx)
            .await
        {
            // This writer's work is not in the group; the savepoint is undone as a dropped one's.
            let _ = done.send(Err(e.to_string()));
            return;
        }
        group.savepoint_open = false;
        open.members.push(done);
        let waited_since = *open.first_release.get_or_insert_with(Instant::now);
        let handed_on = waited_since.elapsed() < MAX_GROUP_AGE
            && open.members.len() < MAX_GROUP
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
            Inner::Group(held) => &held.group.open.as_ref().expect("a writer is in a group").tx,
        }
    }
}

impl DerefMut for WriteTx {
    fn deref_mut(&mut self) -> &mut AnyConnection {
        match &mut self.0 {
            Inner::Alone(tx) => tx,
            Inner::Group(held) => &mut held.group.open.as_mut().expect("a writer is in a group").tx,
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
