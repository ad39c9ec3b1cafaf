//! The SQLite write gate's group commit (`app::server::db::write`): writers that queue behind each
//! other share one `COMMIT`, yet each one's commit returns only once that `COMMIT` is done, a writer
//! that drops its transaction loses only its own work, and a committed writer is never left waiting
//! when the writer it was handed to gives up.

use crate::helpers::*;
use app::server::db::Db;
use std::time::Duration;

async fn shop_with_table() -> TestApp {
    let app = spawn_app(Backend::Sqlite).await;
    app.exec("CREATE TABLE group_rows (id INTEGER PRIMARY KEY, note TEXT NOT NULL)")
        .await;
    app
}

async fn insert(tx: &mut app::server::db::write::WriteTx, note: &str) {
    sqlx::query("INSERT INTO group_rows (note) VALUES ($1)")
        .bind(note)
        .execute(&mut **tx)
        .await
        .unwrap();
}

/// The rows committed, as a reader outside the group sees them.
async fn committed(db: &Db) -> Vec<String> {
    sqlx::query_scalar("SELECT note FROM group_rows ORDER BY id")
        .fetch_all(&db.pool)
        .await
        .unwrap()
}

/// Wait (without sleeping a fixed time) until `n` writers queue at the gate.
async fn until_queued(db: &Db, n: usize) {
    tokio::time::timeout(Duration::from_secs(5), async {
        while db.gate.queued() < n {
            tokio::task::yield_now().await;
        }
    })
    .await
    .expect("writers queue");
}

#[tokio::test]
async fn queued_writers_share_one_commit_and_a_dropped_one_loses_only_its_own_work() {
    let app = shop_with_table().await;
    let db = app.state.db.clone();
    let mut first = db.begin_write().await.unwrap();
    insert(&mut first, "first").await;

    let dropped = tokio::spawn({
        let db = db.clone();
        async move {
            let mut tx = db.begin_write().await.unwrap();
            insert(&mut tx, "dropped").await;
            // Dropped without commit: its savepoint is rolled back.
        }
    });
    until_queued(&db, 1).await;
    let (go, wait) = tokio::sync::oneshot::channel::<()>();
    let (third_in, third_inside) = tokio::sync::oneshot::channel::<()>();
    let third = tokio::spawn({
        let db = db.clone();
        async move {
            let mut tx = db.begin_write().await.unwrap();
            insert(&mut tx, "third").await;
            third_in.send(()).unwrap();
            wait.await.unwrap();
            tx.commit().await.unwrap();
        }
    });
    until_queued(&db, 2).await;

    // Someone is queued, so the first writer's commit hands the group on and waits for its COMMIT.
    let first_commit = tokio::spawn(first.commit());
    dropped.await.unwrap();
    third_inside.await.unwrap();
    assert!(
        !first_commit.is_finished(),
        "the first writer's commit waits for the group's COMMIT"
    );
    assert!(
        committed(&db).await.is_empty(),
        "nothing is visible before the group commits"
    );
    go.send(()).unwrap();
    third.await.unwrap();
    first_commit.await.unwrap().unwrap();
    assert_eq!(committed(&db).await, ["first", "third"]);
}

#[tokio::test]
async fn a_single_statement_writer_commits_the_open_group_first() {
    let app = shop_with_table().await;
    let db = app.state.db.clone();
    let mut first = db.begin_write().await.unwrap();
    insert(&mut first, "in the group").await;
    let single = tokio::spawn({
        let db = db.clone();
        async move {
            // On its own connection: the group's write lock must be gone before it writes.
            let mut conn = db.write().await.unwrap();
            sqlx::query("INSERT INTO group_rows (note) VALUES ('on its own')")
                .execute(&mut *conn)
                .await
                .unwrap();
        }
    });
    until_queued(&db, 1).await;
    first.commit().await.unwrap();
    single.await.unwrap();
    assert_eq!(committed(&db).await, ["in the group", "on its own"]);
}

#[tokio::test]
async fn a_committed_writer_is_not_left_waiting_when_the_next_one_gives_up() {
    let app = shop_with_table().await;
    let db = app.state.db.clone();
    for round in 0..20 {
        let mut first = db.begin_write().await.unwrap();
        insert(&mut first, &format!("kept {round}")).await;
        let quitter = tokio::spawn({
            let db = db.clone();
            async move {
                let mut tx = db.begin_write().await.unwrap();
                insert(&mut tx, "never committed").await;
                tx.commit().await.unwrap();
            }
        });
        until_queued(&db, 1).await;
        let first_commit = tokio::spawn(first.commit());
        // Gives up at some point: queued, handed the group, or inside it.
        for _ in 0..round {
            tokio::task::yield_now().await;
        }
        quitter.abort();
        let _ = quitter.await;
        tokio::time::timeout(Duration::from_secs(5), first_commit)
            .await
            .expect("the first writer's commit returns")
            .unwrap()
            .unwrap();
        let rows = committed(&db).await;
        assert!(rows.contains(&format!("kept {round}")), "{rows:?}");
    }
}

#[tokio::test]
async fn a_writer_meeting_a_twins_row_in_the_open_group_reads_it_through_its_own_transaction() {
    let app = spawn_app(Backend::Sqlite).await;
    app.exec("CREATE TABLE keyed_rows (k TEXT PRIMARY KEY, note TEXT NOT NULL)")
        .await;
    let db = app.state.db.clone();
    let mut first = db.begin_write().await.unwrap();
    sqlx::query("INSERT INTO keyed_rows (k, note) VALUES ('key', 'the first')")
        .execute(&mut *first)
        .await
        .unwrap();
    let (twin_in, twin_inside) = tokio::sync::oneshot::channel::<()>();
    let (go, wait) = tokio::sync::oneshot::channel::<()>();
    let twin = tokio::spawn({
        let db = db.clone();
        async move {
            let mut tx = db.begin_write().await.unwrap();
            twin_in.send(()).unwrap();
            wait.await.unwrap();
            let inserted = sqlx::query(
                "INSERT INTO keyed_rows (k, note) VALUES ('key', 'twin') ON CONFLICT DO NOTHING",
            )
            .execute(&mut *tx)
            .await
            .unwrap();
            assert_eq!(
                inserted.rows_affected(),
                0,
                "the key is taken by the group's first writer"
            );
            // Another connection cannot see the row yet: the group has not committed.
            let outside: Option<String> =
                sqlx::query_scalar("SELECT note FROM keyed_rows WHERE k = 'key'")
                    .fetch_optional(&db.pool)
                    .await
                    .unwrap();
            // Through its own transaction it can.
            let inside: Option<String> =
                sqlx::query_scalar("SELECT note FROM keyed_rows WHERE k = 'key'")
                    .fetch_optional(&mut *tx)
                    .await
                    .unwrap();
            // Committing waits for the COMMIT that carries the first writer's row.
            tx.commit().await.unwrap();
            let after: Option<String> =
                sqlx::query_scalar("SELECT note FROM keyed_rows WHERE k = 'key'")
                    .fetch_optional(&db.pool)
                    .await
                    .unwrap();
            (outside, inside, after)
        }
    });
    until_queued(&db, 1).await;
    // The twin is queued: the first writer's commit hands the group on to it.
    let first_commit = tokio::spawn(first.commit());
    twin_inside.await.unwrap();
    go.send(()).unwrap();
    let (outside, inside, after) = twin.await.unwrap();
    first_commit.await.unwrap().unwrap();
    assert_eq!(
        outside, None,
        "invisible outside the group before its COMMIT"
    );
    assert_eq!(inside.as_deref(), Some("the first"));
    assert_eq!(
        after.as_deref(),
        Some("the first"),
        "durable once the twin's commit returned"
    );
}
