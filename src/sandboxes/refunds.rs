//! The refund desk: the refunds' test lifecycle that Stripe, PayPal and Square share.
//!
//! A paid payment (Stripe's session, PayPal's order, Square's payment) keeps, in fields the API
//! never shows, what its refunds do (the hosted page's test control, [`RefundPlan`]) and what they
//! have taken. A refund takes its amount from what is left, under a compare-and-set on the payment
//! ([`take`]); one the control fails is accepted as pending and, a moment later, fails: its amount
//! goes back to the payment, the stored refund reads failed, and the shop is told.
//!
//! Each provider finds the payment, checks the request in its own order and words, builds the
//! refund in its wire shape and sends its own events; what differs beyond that is its [`Desk`].

use super::dialect::Dialect;
use super::objects::{Kind, Loaded, TRIES};
use super::page::RefundPlan;
use super::Sandbox;
use serde_json::{json, Value};
use std::future::Future;
use std::time::Duration;

/// Kept inside the payment: what its refunds do ([`RefundPlan::as_str`]).
pub const PLAN_KEY: &str = "_sandbox_refunds";
/// Kept inside the payment: what refunds not failed have taken, in minor units.
pub const REFUNDED_KEY: &str = "_sandbox_refunded";
/// How long a refund the test control fails stays pending.
const FAIL_AFTER: Duration = Duration::from_millis(300);

/// One provider's refunds.
pub trait Desk: Dialect + Send + Sync {
    /// Where the payments are kept, and the refunds (under the refund's `id`).
    const PAYMENTS: Kind;
    const REFUNDS: Kind;

    /// The payment's amount, in minor units.
    fn total(payment: &Value) -> i64;

    /// Show in the payment's own wire fields that its refunds have now taken `refunded` (PayPal's
    /// capture status, Square's `refunded_money`).
    fn show_refunded(_payment: &mut Value, _refunded: i64) {}

    /// Note a new refund in the payment (Square lists its `refund_ids`).
    fn note(_payment: &mut Value, _refund: &Value) {}

    /// The refund, failed.
    fn failed(refund: &Value) -> Value;

    /// Tell the shop that the refund failed.
    fn send_failed(state: &Sandbox, failed: Value) -> impl Future<Output = ()> + Send;
}

/// What a payment's refunds do, and what they may still take.
#[derive(Debug, Clone, Copy)]
pub struct Balance {
    pub plan: RefundPlan,
    pub total: i64,
    pub refunded: i64,
}

impl Balance {
    pub fn of<D: Desk>(payment: &Value) -> Balance {
        Balance {
            plan: RefundPlan::parse(payment[PLAN_KEY].as_str()),
            total: D::total(payment),
            refunded: refunded(payment),
        }
    }

    pub fn left(&self) -> i64 {
        self.total - self.refunded
    }
}

fn refunded(payment: &Value) -> i64 {
    payment[REFUNDED_KEY].as_i64().unwrap_or(0)
}

/// Take `amount` from the payment for `refund` and record the refund, unless somebody changed the
/// payment meanwhile (false: nothing is written). When the payment's refunds fail (its plan), the
/// refund fails a moment later.
pub async fn take<D: Desk>(
    state: &Sandbox,
    payment: &Loaded<Value>,
    amount: i64,
    refund: &Value,
) -> Result<bool, sqlx::Error> {
    let mut after = payment.value.clone();
    let now = refunded(payment) + amount;
    after[REFUNDED_KEY] = json!(now);
    D::show_refunded(&mut after, now);
    D::note(&mut after, refund);
    if !payment.save(&state.db, &after).await? {
        return Ok(false);
    }
    let id = refund["id"].as_str().unwrap_or_default().to_string();
    D::REFUNDS.insert(&state.db, &id, refund).await?;
    if Balance::of::<D>(payment).plan == RefundPlan::Fail {
        let (state, payment_id) = (state.clone(), payment.id().to_string());
        tokio::spawn(fail_later::<D>(state, id, payment_id, amount));
    }
    Ok(true)
}

/// A refund accepted as pending fails (the test control): its amount goes back to the payment,
/// the refund reads failed, and the shop is told.
async fn fail_later<D: Desk>(state: Sandbox, id: String, payment_id: String, amount: i64) {
    tokio::time::sleep(FAIL_AFTER).await;
    for _ in 0..TRIES {
        let Ok(Some(payment)) = D::PAYMENTS.load::<Value>(&state.db, &payment_id).await else {
            return;
        };
        let mut after = payment.value.clone();
        let now = refunded(&payment) - amount;
        after[REFUNDED_KEY] = json!(now);
        D::show_refunded(&mut after, now);
        if matches!(payment.save(&state.db, &after).await, Ok(true)) {
            break;
        }
    }
    let Ok(Some(refund)) = D::REFUNDS.load::<Value>(&state.db, &id).await else {
        return;
    };
    let failed = D::failed(&refund);
    let _ = refund.save(&state.db, &failed).await;
    D::send_failed(&state, failed).await;
}
