//! Emails through the outbox (docs/operating.md#mail): the worker sends each queued message once to a real SMTP
//! server (a small one started here, speaking SMTP over TCP), retries with back-off when the
//! server is down and gives up visibly; without `SMTP_URL` it writes `.eml` files. Products: 1
//! Canvas Tote $18.00.

use crate::helpers::{on_both_backends, spawn_app_with, Backend, Browser, TestApp, ADMIN_EMAIL};
use crate::pay::{reference_in, stripe_event};
use app::server::db::outbox as db_outbox;
use app::server::services::outbox::{self, MAX_ATTEMPTS};
use reqwest::header::REFERER;
use reqwest::StatusCode;
use sqlx::Row as _;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

/// One message the SMTP server accepted.
#[derive(Debug, Clone)]
struct Received {
    to: Vec<String>,
    data: String,
}

/// A minimal SMTP server (EHLO, MAIL, RCPT, DATA, RSET, NOOP, QUIT; no TLS offered, so lettre's
/// opportunistic STARTTLS stays plain). `delay` holds each DATA answer back, widening the window
/// in which two racing workers could both send.
struct SmtpServer {
    port: u16,
    received: Arc<Mutex<Vec<Received>>>,
}

impl SmtpServer {
    async fn start(delay: Duration) -> SmtpServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let received = Arc::new(Mutex::new(Vec::new()));
        let store = received.clone();
        tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                let store = store.clone();
                tokio::spawn(async move {
                    let _ = session(socket, store, delay).await;
                });
            }
        });
        SmtpServer { port, received }
    }

    fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    fn messages(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }
}

async fn session(
    socket: tokio::net::TcpStream,
    store: Arc<Mutex<Vec<Received>>>,
    delay: Duration,
) -> std::io::Result<()> {
    let (read, mut write) = socket.into_split();
    let mut lines = BufReader::new(read);
    write.write_all(b"220 test-smtp ESMTP\r\n").await?;
    let mut to = Vec::new();
    let mut line = String::new();
    loop {
        line.clear();
        if lines.read_line(&mut line).await? == 0 {
            return Ok(());
        }
        let command = line.trim_end().to_ascii_uppercase();
        let reply: &[u8] = if command.starts_with("EHLO") {
            b"250-test-smtp\r\n250 8BITMIME\r\n"
        } else if command.starts_with("HELO")
            || command.starts_with("MAIL FROM")
            || command.starts_with("NOOP")
        {
            b"250 OK\r\n"
        } else if command.starts_with("RSET") {
            to.clear();
            b"250 OK\r\n"
        } else if command.starts_with("RCPT TO:") {
            let address = line.trim_end()[8..].trim().trim_matches(['<', '>']);
            to.push(address.to_string());
            b"250 OK\r\n"
        } else if command == "DATA" {
            write.write_all(b"354 go on\r\n").await?;
            let mut data = String::new();
            loop {
                line.clear();
                if lines.read_line(&mut line).await? == 0 {
                    return Ok(());
                }
                if line == ".\r\n" {
                    break;
                }
                // Dot-stuffing undone.
                data.push_str(line.strip_prefix('.').unwrap_or(&line));
            }
            tokio::time::sleep(delay).await;
            store.lock().unwrap().push(Received {
                to: std::mem::take(&mut to),
                data,
            });
            b"250 queued\r\n"
        } else if command == "QUIT" {
            write.write_all(b"221 bye\r\n").await?;
            return Ok(());
        } else {
            b"502 not implemented\r\n"
        };
        write.write_all(reply).await?;
    }
}

/// A message's text with quoted-printable soft line breaks joined (long lines are wrapped).
fn unwrapped(data: &str) -> String {
    data.replace("=\r\n", "")
}

/// A guest's Stripe order paid by a signed webhook: its reference (the shopper's email is
/// shopper@example.com).
async fn paid_order(app: &TestApp, shopper: &Browser) -> String {
    let (reference, attempt, session) = unconfirmed_order(app, shopper).await;
    let paid = stripe_event(
        "checkout.session.completed",
        &attempt,
        &session,
        "paid",
        1800,
        "usd",
    );
    assert_eq!(app.stripe_event(&paid).await, StatusCode::OK);
    assert_eq!(app.status_of(&reference).await, "paid");
    reference
}

/// An order paid on the sandbox's page with no webhook yet: (reference, attempt, session).
async fn unconfirmed_order(app: &TestApp, shopper: &Browser) -> (String, String, String) {
    shopper.add_to_cart(1, 1).await;
    let page = shopper.pay("stripe").await;
    let reference = reference_in(&shopper.on_stripe_page(&page, "pay", "never").await);
    let (attempt, session) = app.attempt_of(&reference).await;
    (reference, attempt, session)
}

/// The outbox row of `kind` for `reference`: (attempts, next_attempt_at, last_error, sent, dead).
async fn row(app: &TestApp, reference: &str, kind: &str) -> (i64, i64, Option<String>, bool, bool) {
    let r = sqlx::query(
        "SELECT attempts, next_attempt_at, last_error, sent_at, dead_at FROM outbox \
         WHERE reference = $1 AND kind = $2",
    )
    .bind(reference)
    .bind(kind)
    .fetch_one(&app.state.db.pool)
    .await
    .expect("one outbox row");
    (
        r.try_get::<i64, _>(0).unwrap(),
        r.try_get::<i64, _>(1).unwrap(),
        r.try_get(2).unwrap(),
        r.try_get::<Option<i64>, _>(3).unwrap().is_some(),
        r.try_get::<Option<i64>, _>(4).unwrap().is_some(),
    )
}

/// Run the worker on `app` until no row is due (the background worker may race it: fine).
async fn drain(app: &TestApp) {
    for _ in 0..20 {
        let pass = outbox::run_once(&app.state).await.expect("outbox pass");
        if pass.sent + pass.failed == 0 {
            return;
        }
    }
}

/// Run the worker (a background worker may hold the row meanwhile) until the row of `kind` has
/// more than `tries` attempts: its state then.
async fn tried_beyond(
    app: &TestApp,
    reference: &str,
    kind: &str,
    tries: i64,
) -> (i64, i64, Option<String>, bool, bool) {
    for _ in 0..100 {
        drain(app).await;
        let now = row(app, reference, kind).await;
        if now.0 > tries {
            return now;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{kind} for {reference} was not tried again after {tries} tries");
}

/// Wait (at most ~10 s) until `reference`'s message of `kind` is marked sent.
async fn wait_sent(app: &TestApp, reference: &str, kind: &str) {
    for _ in 0..100 {
        if row(app, reference, kind).await.3 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!(
        "{kind} for {reference} was never sent: {:?}",
        row(app, reference, kind).await
    );
}

async fn one_confirmation_when_two_workers_race(backend: Backend) {
    let smtp = SmtpServer::start(Duration::from_millis(300)).await;
    let url = smtp.url();
    let app = spawn_app_with(backend, &[("SMTP_URL", &url)]).await;
    let other = app.another_instance_with(&[("SMTP_URL", &url)]).await;
    let shopper = app.browser();
    let reference = paid_order(&app, &shopper).await;
    // Two instances, each with two passes at once, on top of both background workers.
    let (a, b, c, d) = tokio::join!(
        outbox::run_once(&app.state),
        outbox::run_once(&other.state),
        outbox::run_once(&app.state),
        outbox::run_once(&other.state),
    );
    let sent: usize = [a, b, c, d].into_iter().map(|p| p.unwrap().sent).sum();
    assert!(sent <= 1, "{sent} passes sent it");
    wait_sent(&app, &reference, "order_paid_email").await;
    // Give a stray second send time to arrive.
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    let messages = smtp.messages();
    assert_eq!(messages.len(), 1, "exactly one confirmation: {messages:#?}");
    let message = &messages[0];
    assert_eq!(message.to, ["shopper@example.com"]);
    let data = unwrapped(&message.data);
    assert!(
        data.contains(&format!("Subject: Order {reference} confirmed")),
        "{data}"
    );
    assert!(data.contains("To: shopper@example.com"), "{data}");
    assert!(data.contains("multipart/alternative"), "{data}");
    assert!(
        data.contains("text/plain") && data.contains("text/html"),
        "{data}"
    );
    // (Over SMTP the parts are quoted-printable: `=` is written `=3D`.)
    assert!(
        data.contains("1 x Canvas Tote Bag at $18.00 =3D $18.00"),
        "{data}"
    );
    assert!(data.contains("Total: $18.00"), "{data}");
    // A guest's order: the link carries the guest key, as the order page's own link does.
    assert!(
        data.contains(&format!("http://shop.example.test/orders/{reference}?key")),
        "{data}"
    );
    let (attempts, _, error, sent, dead) = row(&app, &reference, "order_paid_email").await;
    assert_eq!((attempts, error, sent, dead), (1, None, true, false));
    let merchant = app.merchant().await;
    let page = merchant.get(&format!("/admin/orders/{reference}")).await;
    assert!(
        page.contains("<h2 id=\"emails-heading\">Emails</h2>"),
        "{}",
        page.html
    );
    assert!(page.contains("data-email-status=\"sent\""), "{}", page.html);
    assert!(page.contains("Order confirmation"));
}

async fn smtp_down_is_retried_then_dead_and_visible(backend: Backend) {
    // A port nothing listens on.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let url = format!("smtp://127.0.0.1:{port}");
    let app = spawn_app_with(backend, &[("SMTP_URL", &url)]).await;
    let shopper = app.browser();
    let reference = paid_order(&app, &shopper).await;
    let kind = "order_paid_email";

    let (attempts, next, error, sent, dead) = tried_beyond(&app, &reference, kind, 0).await;
    assert!(attempts >= 1 && !sent && !dead, "{attempts} {sent} {dead}");
    let error = error.expect("the failure is kept");
    assert!(!error.is_empty() && !error.contains("Thank you"), "{error}");
    let now = app::server::db::now_ms();
    assert!(
        next > now + 20_000,
        "the next try waits (30 s back-off): {next} vs {now}"
    );
    // Not due yet: a pass leaves it alone.
    outbox::run_once(&app.state).await.unwrap();
    assert_eq!(row(&app, &reference, kind).await.0, attempts);

    // Time passes (the back-off is skipped by moving the row's next try into the past).
    let mut last = (attempts, next);
    for _ in 0..(MAX_ATTEMPTS * 3) {
        app.exec("UPDATE outbox SET next_attempt_at = 0 WHERE dead_at IS NULL")
            .await;
        let (attempts, next, _, _, dead) = tried_beyond(&app, &reference, kind, last.0).await;
        if dead {
            break;
        }
        assert!(
            next > last.1,
            "the next try moves on: {next} after {}",
            last.1
        );
        last = (attempts, next);
    }
    let (attempts, _, error, sent, dead) = row(&app, &reference, kind).await;
    assert!(dead && !sent, "dead after {attempts} tries");
    assert_eq!(attempts, MAX_ATTEMPTS);
    // Dead rows are never tried again.
    app.exec("UPDATE outbox SET next_attempt_at = 0").await;
    drain(&app).await;
    assert_eq!(row(&app, &reference, kind).await.0, MAX_ATTEMPTS);

    let merchant = app.merchant().await;
    let page = merchant.get(&format!("/admin/orders/{reference}")).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.contains("data-email-status=\"dead\""), "{}", page.html);
    assert!(page.contains("dead (given up)"), "{}", page.html);
    assert!(
        page.contains(&format!(r#"<td data-label="Tries">{MAX_ATTEMPTS}</td>"#)),
        "{}",
        page.html
    );
    let shown = error.unwrap();
    let shown = shown
        .split('&')
        .next()
        .unwrap_or(&shown)
        .split('<')
        .next()
        .unwrap_or(&shown);
    assert!(page.contains(shown), "the last error is shown: {shown}");
    let list = merchant.get("/admin/orders").await;
    assert!(
        list.contains("data-testid=\"dead-emails\""),
        "{}",
        list.html
    );
    assert!(list.contains("1 email could not be sent"), "{}", list.html);
}

async fn without_smtp_a_readable_eml_is_written(backend: Backend) {
    let dir =
        std::env::temp_dir().join(format!("storefront-eml-{}", uuid::Uuid::new_v4().simple()));
    let dir_text = dir.display().to_string();
    let app = spawn_app_with(backend, &[("MAIL_DIR", &dir_text)]).await;
    let shopper = app.browser();
    let reference = paid_order(&app, &shopper).await;
    drain(&app).await;
    wait_sent(&app, &reference, "order_paid_email").await;
    let files: Vec<_> = std::fs::read_dir(&dir)
        .expect("MAIL_DIR was created")
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    let path = &files[0];
    let name = path.file_name().unwrap().to_string_lossy().to_string();
    assert!(
        name.ends_with(".eml") && name.contains(&reference),
        "{name}"
    );
    let text = unwrapped(&std::fs::read_to_string(path).unwrap());
    assert!(
        text.contains(&format!("Subject: Order {reference} confirmed")),
        "{text}"
    );
    assert!(text.contains("To: shopper@example.com"), "{text}");
    assert!(text.contains("From: Storefront <shop@localhost>"), "{text}");
    assert!(
        text.contains(&format!("Thank you for your order {reference}.")),
        "{text}"
    );
    assert!(text.contains("Total: $18.00"), "{text}");
    // Written as it reads: no quoted-printable escapes in the file.
    assert!(text.contains("Content-Transfer-Encoding: 8bit"), "{text}");
    assert!(
        text.contains("1 x Canvas Tote Bag at $18.00 = $18.00"),
        "{text}"
    );
    assert!(
        text.contains(&format!("http://shop.example.test/orders/{reference}?key=")),
        "{text}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

async fn failed_expired_and_review_send_their_notes(backend: Backend) {
    let smtp = SmtpServer::start(Duration::ZERO).await;
    let app = spawn_app_with(backend, &[("SMTP_URL", &smtp.url())]).await;
    let shopper = app.browser();
    // Declined on the sandbox's page: Failed.
    shopper.add_to_cart(1, 1).await;
    let page = shopper.pay("stripe").await;
    let failed = reference_in(&shopper.on_stripe_page(&page, "decline", "normal").await);
    app.wait_for(&failed, "failed").await;
    // Its session expired unpaid: Expired.
    let (expired, attempt, session) = unconfirmed_order(&app, &shopper).await;
    let event = stripe_event(
        "checkout.session.expired",
        &attempt,
        &session,
        "unpaid",
        1800,
        "usd",
    );
    assert_eq!(app.stripe_event(&event).await, StatusCode::OK);
    app.wait_for(&expired, "expired").await;
    // Paid the wrong amount: Needs review, and the merchant is told why.
    let (review, attempt, session) = unconfirmed_order(&app, &shopper).await;
    let short = stripe_event(
        "checkout.session.completed",
        &attempt,
        &session,
        "paid",
        100,
        "usd",
    );
    assert_eq!(app.stripe_event(&short).await, StatusCode::OK);
    app.wait_for(&review, "needs_review").await;

    drain(&app).await;
    wait_sent(&app, &failed, "order_failed_email").await;
    wait_sent(&app, &expired, "order_expired_email").await;
    wait_sent(&app, &review, "order_needs_review").await;
    let messages = smtp.messages();
    let find = |subject: &str| {
        messages
            .iter()
            .find(|m| m.data.contains(&format!("Subject: {subject}")))
            .unwrap_or_else(|| panic!("no message {subject:?}: {messages:#?}"))
    };
    let note = find(&format!("Payment for order {failed} did not go through"));
    assert_eq!(note.to, ["shopper@example.com"]);
    assert!(
        unwrapped(&note.data).contains("http://shop.example.test/cart"),
        "{}",
        note.data
    );
    let note = find(&format!("Order {expired} expired unpaid"));
    assert_eq!(note.to, ["shopper@example.com"]);
    assert!(
        unwrapped(&note.data).contains("http://shop.example.test/cart"),
        "{}",
        note.data
    );
    let alert = find(&format!("Order {review} needs review"));
    assert_eq!(alert.to, [ADMIN_EMAIL]);
    let alert = unwrapped(&alert.data);
    assert!(
        alert.contains("Why: paid 100 USD, quoted 1800 USD"),
        "{alert}"
    );
    assert!(
        alert.contains(&format!("http://shop.example.test/admin/orders/{review}")),
        "{alert}"
    );
    assert_eq!(messages.len(), 3, "{messages:#?}");
}

async fn a_stopping_worker_sends_nothing_and_released_claims_go_at_once(backend: Backend) {
    let smtp = SmtpServer::start(Duration::ZERO).await;
    let url = smtp.url();
    let app = spawn_app_with(backend, &[("SMTP_URL", &url)]).await;
    let shopper = app.browser();
    let reference = paid_order(&app, &shopper).await;
    // Shutting down (as on SIGTERM): this instance's worker sends nothing more. Its worker may
    // have sent the confirmation already, so the row is put back as never tried.
    app.begin_stop();
    let kind = "order_paid_email";
    app.exec(
        "UPDATE outbox SET sent_at = NULL, attempts = 0, next_attempt_at = 0, \
         claimed_until = NULL, claim_token = NULL",
    )
    .await;
    let before = smtp.messages().len();
    assert_eq!(
        outbox::run_once(&app.state).await.unwrap(),
        outbox::Pass::default()
    );
    assert_eq!(
        row(&app, &reference, kind).await,
        (0, 0, None, false, false)
    );

    // A worker holding the row's lease keeps it from every other worker…
    let now = app::server::db::now_ms();
    let mut conn = app.state.db.pool.acquire().await.unwrap();
    let held = db_outbox::claim_due(
        &mut conn,
        app.state.db.backend,
        now,
        now + 600_000,
        "held",
        10,
    )
    .await
    .unwrap();
    assert_eq!(held.len(), 1);
    let other = app.another_instance_with(&[("SMTP_URL", &url)]).await;
    assert_eq!(outbox::run_once(&other.state).await.unwrap().sent, 0);
    assert_eq!(smtp.messages().len(), before);
    // …until it releases what it did not send (as a stopping worker does): then it goes at once.
    assert_eq!(db_outbox::release(&mut conn, "held").await.unwrap(), 1);
    drop(conn);
    drain(&other).await;
    wait_sent(&app, &reference, kind).await;
    assert_eq!(smtp.messages().len(), before + 1);
}

async fn a_refund_sends_its_confirmation(backend: Backend) {
    let smtp = SmtpServer::start(Duration::ZERO).await;
    let app = spawn_app_with(backend, &[("SMTP_URL", &smtp.url())]).await;
    let shopper = app.browser();
    // Paid on the Stripe sandbox's page, whose refunds then succeed.
    shopper.add_to_cart(1, 1).await;
    let page_url = shopper.pay("stripe").await;
    let back = shopper
        .pay_on_stripe_page(&page_url, "normal", "succeed")
        .await;
    let reference = reference_in(&back);
    app.wait_for(&reference, "paid").await;
    let merchant = app.merchant().await;
    let response = merchant
        .client
        .post(format!("{}/api/admin/refund", merchant.base))
        .header(
            REFERER,
            format!("{}/admin/orders/{reference}", merchant.base),
        )
        .form(&[
            ("reference", reference.as_str()),
            ("amount", "5.00"),
            ("reason", "Damaged in transit"),
            ("key", "mail-test-refund-1"),
        ])
        .send()
        .await
        .unwrap();
    assert!(
        response.status().is_success(),
        "{}",
        response.text().await.unwrap()
    );
    app.wait_for(&reference, "partially_refunded").await;
    drain(&app).await;
    wait_sent(&app, &reference, "refund_email").await;
    let messages = smtp.messages();
    let refund = messages
        .iter()
        .find(|m| {
            m.data
                .contains(&format!("Subject: Refund for order {reference}"))
        })
        .unwrap_or_else(|| panic!("no refund confirmation: {messages:#?}"));
    assert_eq!(refund.to, ["shopper@example.com"]);
    let text = unwrapped(&refund.data);
    assert!(
        text.contains(&format!(
            "We refunded $5.00 of your order {reference} (total $18.00)"
        )),
        "{text}"
    );
    let page = merchant.get(&format!("/admin/orders/{reference}")).await;
    assert!(
        page.contains("Refund confirmation") && page.contains("Order confirmation"),
        "{}",
        page.html
    );
}

on_both_backends!(
    a_refund_sends_its_confirmation,
    a_stopping_worker_sends_nothing_and_released_claims_go_at_once,
    one_confirmation_when_two_workers_race,
    smtp_down_is_retried_then_dead_and_visible,
    without_smtp_a_readable_eml_is_written,
    failed_expired_and_review_send_their_notes,
);
