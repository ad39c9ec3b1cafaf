//! Each installation's own references (docs/payments.md#attempts-and-references): order numbers start at 1 in every database, so
//! two shops on one provider account (a reinstall, a staging copy, a second shop) would otherwise
//! send the same `ORD-000001-A1`, and the provider would answer one shop with the other's
//! payment. Products: 1 Canvas Tote $18.00, 2 Ceramic Mug $14.00.

use crate::helpers::{on_both_backends, spawn_app_with, Backend, TestApp};
use app::server::payments::reference;
use sqlx::Row as _;

impl TestApp {
    /// Every attempt reference, oldest first.
    async fn attempt_references(&self) -> Vec<String> {
        sqlx::query("SELECT reference FROM payment_attempts ORDER BY id")
            .fetch_all(&self.state.db.pool)
            .await
            .unwrap()
            .iter()
            .map(|r| r.try_get("reference").unwrap())
            .collect()
    }
}

/// Two fresh shops on one Stripe account (the second talks to the first one's sandbox): each
/// order is `ORD-000001`, but what each sends Stripe differs, so the second shop's shopper gets a
/// session of their own instead of a replay of the first shop's (Stripe answers a repeated
/// Idempotency-Key with the first request's session, or an idempotency error).
async fn two_installations_on_one_account_never_send_the_same_reference(backend: Backend) {
    let first = spawn_app_with(backend, &[]).await;
    let account = format!("{}/sandbox/stripe", first.base);
    let second = spawn_app_with(backend, &[("STRIPE_API_BASE", &account)]).await;
    assert_ne!(first.state.db.installation, second.state.db.installation);

    let shopper = first.browser();
    shopper.add_to_cart(1, 1).await;
    let first_page = shopper.pay("stripe").await;
    let other = second.browser();
    other.add_to_cart(2, 1).await;
    let second_page = other.pay("stripe").await;
    assert_ne!(
        first_page, second_page,
        "the second shop got the first shop's session"
    );

    let first_refs = first.attempt_references().await;
    let second_refs = second.attempt_references().await;
    assert_eq!(first_refs.len(), 1);
    assert_eq!(second_refs.len(), 1);
    assert_ne!(first_refs[0], second_refs[0]);
    for (app, refs) in [(&first, &first_refs), (&second, &second_refs)] {
        assert!(refs[0].starts_with("ORD-000001-A1-"), "{}", refs[0]);
        assert_eq!(
            reference::tag_of(&refs[0]),
            Some(&*app.state.db.installation)
        );
    }
    // The second shop's page (served by the account's sandbox) asks for the mug's price, not
    // the tote's.
    let at_account = first.browser();
    let page = at_account.get(&at_account.local(&second_page)).await;
    assert_eq!(page.status, reqwest::StatusCode::OK, "{}", page.html);
    assert!(
        page.contains("14.00") && !page.contains("18.00"),
        "{}",
        page.html
    );
}

/// The tag is made once and kept: another instance on the same database (and the same shop after
/// a restart) uses it, so an attempt's reference never changes under a provider.
async fn the_installation_tag_is_kept_in_the_database(backend: Backend) {
    let app = spawn_app_with(backend, &[]).await;
    let tag = app.state.db.installation.clone();
    assert!(reference::is_tag(&tag), "{tag}");
    let again = app.another_instance().await;
    assert_eq!(again.state.db.installation, tag);
    let stored: String = sqlx::query("SELECT tag FROM installation")
        .fetch_one(&app.state.db.pool)
        .await
        .unwrap()
        .try_get("tag")
        .unwrap();
    assert_eq!(stored, *tag);
}

on_both_backends!(
    two_installations_on_one_account_never_send_the_same_reference,
    the_installation_tag_is_kept_in_the_database,
);
