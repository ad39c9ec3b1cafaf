//! A crash (`kill -9`) of the real binary in the middle of a webhook burst loses no acknowledged
//! event: a 200 is only sent once the event is committed, so whatever the shop acknowledged is
//! in the database when the next process starts on it, applied exactly once; the provider's
//! retries of everything (acknowledged or not) then pay the rest, and nothing twice.

use crate::helpers::{
    browser_at, create_postgres_database, drop_postgres_database, on_both_backends, Backend,
    ADMIN_EMAIL, ADMIN_PASSWORD, PUBLIC_URL,
};
use crate::shutdown::{awaiting_stripe_at, deliver, paid_events, status_of};
use futures_util::stream::{self, StreamExt};
use sqlx::Row as _;
use std::io::BufRead as _;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

const ORDERS: usize = 16;
/// Webhook deliveries in flight at once.
const IN_FLIGHT: usize = 6;
/// The process is killed right after this many 200s arrived.
const KILL_AFTER: usize = 4;
/// How long an acknowledged order may take to read as paid after the restart. A 200 is sent after
/// the commit, so it is paid at the first look; this is slack for a slow machine, not a wait for
/// some worker.
const SETTLE: Duration = Duration::from_secs(15);

/// The database the binary runs on and the folder it runs in; removed when the test ends, however
/// it ends.
struct Scratch {
    dir: PathBuf,
    url: String,
    postgres: Option<String>,
}

impl Scratch {
    async fn new(backend: Backend) -> Scratch {
        let id = uuid::Uuid::new_v4().simple().to_string();
        let dir = std::env::temp_dir().join(format!("storefront-crash-{id}"));
        std::fs::create_dir_all(&dir).unwrap();
        let (url, postgres) = match backend {
            Backend::Sqlite => (format!("sqlite://{}", dir.join("shop.db").display()), None),
            Backend::Postgres => {
                let (url, name) = create_postgres_database(&id).await;
                (url, Some(name))
            }
        };
        Scratch { dir, url, postgres }
    }

    /// A connection pool of the test's own on the shop's database (after the shop created it).
    async fn connect(&self) -> sqlx::AnyPool {
        sqlx::any::install_default_drivers();
        sqlx::any::AnyPoolOptions::new()
            .max_connections(2)
            .connect(&self.url)
            .await
            .expect("the test opens the shop's database")
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
        if let Some(name) = self.postgres.take() {
            let _ = std::thread::spawn(move || {
                tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap()
                    .block_on(drop_postgres_database(&name))
            })
            .join();
        }
    }
}

/// The real `storefront` binary running as a child process; killed (SIGKILL) when dropped, so a
/// failing test leaves no server behind.
struct Shop {
    child: std::process::Child,
    base: String,
}

impl Shop {
    async fn start(scratch: &Scratch) -> Shop {
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_storefront"))
            .current_dir(&scratch.dir)
            .env("DATABASE_URL", &scratch.url)
            .env("LEPTOS_SITE_ADDR", "127.0.0.1:0")
            .env("PUBLIC_URL", PUBLIC_URL)
            .env("ADMIN_EMAIL", ADMIN_EMAIL)
            .env("ADMIN_PASSWORD", ADMIN_PASSWORD)
            .env("MAIL_DIR", scratch.dir.join("mail"))
            .env("RUST_LOG", "warn")
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("the storefront binary starts");
        let stdout = child.stdout.take().unwrap();
        let mut shop = Shop {
            child,
            base: String::new(),
        };
        // The log goes to stdout too: keep reading it (a closed pipe would fail the shop's writes).
        let (listening, address) = tokio::sync::oneshot::channel();
        std::thread::spawn(move || {
            let mut listening = Some(listening);
            for line in std::io::BufReader::new(stdout)
                .lines()
                .map_while(Result::ok)
            {
                match line.strip_prefix("storefront listening on ") {
                    Some(url) if listening.is_some() => {
                        let _ = listening.take().unwrap().send(url.trim().to_string());
                    }
                    _ => eprintln!("[storefront] {line}"),
                }
            }
        });
        shop.base = tokio::time::timeout(Duration::from_secs(60), address)
            .await
            .expect("the shop starts within 60 s")
            .expect("it says where it listens");
        shop
    }

    /// `kill -9`, and reap it.
    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Shop {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Ledger rows of this very event (the provider's event id, from a webhook) that paid an order.
/// A provider lookup by the reconciler records its own event id (`lookup:…`), so it cannot stand
/// in for a lost webhook here.
async fn paid_by_event(db: &sqlx::AnyPool, event_id: &str) -> i64 {
    sqlx::query(
        "SELECT COUNT(*) FROM payment_events WHERE event_id = $1 AND source = 'webhook' \
         AND to_status = 'paid' AND outcome LIKE 'applied:%'",
    )
    .bind(event_id)
    .fetch_one(db)
    .await
    .unwrap()
    .try_get::<i64, _>(0)
    .unwrap()
}

/// Deliveries stored in the inbox that never got an outcome (the process died while on them).
async fn unfinished_inbox_rows(db: &sqlx::AnyPool) -> i64 {
    sqlx::query("SELECT COUNT(*) FROM webhook_inbox WHERE processed_at IS NULL")
        .fetch_one(db)
        .await
        .unwrap()
        .try_get::<i64, _>(0)
        .unwrap()
}

/// Sixteen orders await their Stripe payment at the real binary; their webhooks arrive six at a
/// time and the process is killed (SIGKILL: no drain, no shutdown hook) right after the fourth
/// 200. A new process on the same database has every acknowledged event applied, once; the
/// provider's retries of all sixteen pay every order, each exactly once.
///
/// How this would fail: if a 200 were sent before the commit (or the commit were not durable),
/// the killed process would take an acknowledged event with it; its order would then still await
/// payment after the restart (the status check fails after `SETTLE`), or, should the reconciler's
/// provider lookup pay it in the meantime, the ledger would hold the lookup's event and not the
/// acknowledged one (`paid_by_event` is 0). Stripe would not resend an event it saw acknowledged,
/// so the redelivery in the second half proves nothing about the first and is checked apart.
async fn a_kill_during_a_webhook_burst_loses_no_acknowledged_event(backend: Backend) {
    let began = Instant::now();
    let scratch = Scratch::new(backend).await;
    let mut shop = Shop::start(&scratch).await;
    let db = scratch.connect().await;
    let mut orders = Vec::new();
    for _ in 0..ORDERS {
        orders.push(awaiting_stripe_at(&browser_at(&shop.base), &db).await);
    }
    // The restarted process, not the test's connections, is what recovers the database.
    db.close().await;
    let set_up = began.elapsed();

    let client = reqwest::Client::new();
    let base = shop.base.clone();
    let started = AtomicUsize::new(0);
    let mut answers = stream::iter(orders.iter().enumerate())
        .map(|(i, (_, event))| {
            let client = &client;
            let base = &base;
            let started = &started;
            async move {
                started.fetch_add(1, Ordering::SeqCst);
                (i, deliver(client, base, event).await)
            }
        })
        .buffer_unordered(IN_FLIGHT);
    let mut answer_of = [None; ORDERS];
    let mut answered = 0;
    // (acknowledged, answered, in flight) when the process was killed
    let mut at_kill = None;
    while let Some((i, answer)) = answers.next().await {
        answer_of[i] = answer;
        answered += 1;
        let acked = answer_of.iter().filter(|a| **a == Some(200)).count();
        if at_kill.is_none() && acked == KILL_AFTER {
            let in_flight = started.load(Ordering::SeqCst) - answered;
            shop.kill();
            at_kill = Some((acked, answered, in_flight));
        }
    }
    drop(answers);
    let (acked_before_kill, answered_before_kill, in_flight_at_kill) =
        at_kill.expect("the shop acknowledged enough webhooks to be killed mid-burst");
    let acknowledged: Vec<bool> = answer_of.iter().map(|a| *a == Some(200)).collect();
    let acked = acknowledged.iter().filter(|a| **a).count();
    let unanswered = answer_of.iter().filter(|a| a.is_none()).count();
    let other: Vec<u16> = answer_of
        .iter()
        .flatten()
        .copied()
        .filter(|s| *s != 200)
        .collect();
    assert!(
        in_flight_at_kill > 0,
        "the kill came while deliveries were in flight"
    );
    let burst = began.elapsed() - set_up;

    let mut shop = Shop::start(&scratch).await;
    let db = scratch.connect().await;
    let unfinished = unfinished_inbox_rows(&db).await;
    let mut paid_unacknowledged = 0;
    for (i, (reference, event)) in orders.iter().enumerate() {
        if !acknowledged[i] {
            if status_of(&db, reference).await == "paid" {
                // Applied and committed, but the answer died with the process: allowed.
                paid_unacknowledged += 1;
            }
            continue;
        }
        let deadline = Instant::now() + SETTLE;
        while status_of(&db, reference).await != "paid" && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert_eq!(
            status_of(&db, reference).await,
            "paid",
            "{reference}: its webhook was acknowledged before the kill, yet the order is not paid"
        );
        assert_eq!(paid_events(&db, reference).await, 1, "{reference}");
        assert_eq!(
            paid_by_event(&db, event["id"].as_str().unwrap()).await,
            1,
            "{reference}: the acknowledged event itself is in the ledger"
        );
    }
    // Stripe's deliveries are verified offline, so each is stored by the commit that applies it:
    // a kill leaves none half-handled (those stored first, for providers verified by their API,
    // can be left open; the provider's retry and the reconciler cover their payments).
    assert_eq!(
        unfinished, 0,
        "a delivery verified offline is stored with its outcome or not at all"
    );
    let recovered = began.elapsed() - set_up - burst;

    // The provider retries: every event again, to the new process.
    let redelivered: Vec<(usize, Option<u16>)> = stream::iter(orders.iter().enumerate())
        .map(|(i, (_, event))| {
            let client = &client;
            let base = &shop.base;
            async move { (i, deliver(client, base, event).await) }
        })
        .buffer_unordered(IN_FLIGHT)
        .collect()
        .await;
    for (i, answer) in redelivered {
        assert_eq!(answer, Some(200), "{}: redelivery", orders[i].0);
    }
    for (i, (reference, event)) in orders.iter().enumerate() {
        assert_eq!(status_of(&db, reference).await, "paid", "{reference}");
        assert_eq!(
            paid_events(&db, reference).await,
            1,
            "{reference}: paid exactly once"
        );
        if acknowledged[i] {
            assert_eq!(
                paid_by_event(&db, event["id"].as_str().unwrap()).await,
                1,
                "{reference}: still paid by the event acknowledged first"
            );
        }
    }
    shop.kill();
    println!(
        "{backend:?}: {acked_before_kill} of {ORDERS} acknowledged when killed \
         ({answered_before_kill} answered, {in_flight_at_kill} in flight); \
         {acked} acknowledged in all, {unanswered} unanswered, other answers {other:?}; \
         after the restart {paid_unacknowledged} unacknowledged already paid, \
         {unfinished} inbox rows left unfinished; \
         set-up {set_up:.1?}, burst {burst:.1?}, restart and checks {recovered:.1?}, \
         total {:.1?}",
        began.elapsed()
    );
}

on_both_backends!(a_kill_during_a_webhook_burst_loses_no_acknowledged_event);
