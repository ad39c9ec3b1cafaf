//! Emails: turning an outbox row into a message (who it is for, what it says) and sending it.
//! The words are in [`templates`], the way out in [`transport`]; the outbox worker
//! (`services::outbox`) decides when.
//!
//! A message is built when it is sent, from the order as it is then (its lines never change after
//! checkout); the row's payload only says which order, whom to write to, and the few facts of the
//! moment (the refunded amount, why a review is needed).

pub mod templates;
pub mod transport;

use crate::model::{Currency, Money};
use crate::server::db::orders::{self, OrderRow};
use crate::server::db::outbox::{kind, Claimed};
use crate::server::state::AppState;
use lettre::message::header::{ContentTransferEncoding, ContentType};
use lettre::message::{Body, Mailbox, MultiPart, SinglePart};
use lettre::Message;
use serde::Deserialize;
use templates::{Letter, OrderFacts};

/// What the payment path wrote into the row.
#[derive(Debug, Deserialize)]
struct Payload {
    reference: String,
    email: String,
    /// Why the order needs review (the ledger's note).
    #[serde(default)]
    note: Option<String>,
    /// A refund's amount as a decimal string, and its currency.
    #[serde(default)]
    refund: Option<String>,
    #[serde(default)]
    currency: Option<String>,
}

/// Why a row could not become a message.
#[derive(Debug)]
pub enum ComposeError {
    /// Sending again cannot help (an unknown kind, a bad address, the order is gone): the row
    /// dies at once.
    Permanent(String),
    /// Perhaps next time (the database did not answer).
    Transient(String),
}

/// A message ready to send, and to whom (for the log: the address is not logged).
pub struct Outgoing {
    pub message: Message,
    pub reference: String,
}

/// The kinds this worker knows, as `'static` labels for metrics; anything else is `"other"`.
pub fn known_kind(k: &str) -> &'static str {
    [
        kind::ORDER_PAID,
        kind::ORDER_FAILED,
        kind::ORDER_EXPIRED,
        kind::REFUND,
        kind::NEEDS_REVIEW,
    ]
    .into_iter()
    .find(|known| *known == k)
    .unwrap_or("other")
}

/// Build the message for `row`. `eight_bit` (the file transport: no server to ask) lets non-ASCII
/// text stay as written instead of quoted-printable.
pub async fn compose(
    state: &AppState,
    row: &Claimed,
    eight_bit: bool,
) -> Result<Outgoing, ComposeError> {
    use ComposeError::{Permanent, Transient};
    let payload: Payload = serde_json::from_str(&row.payload)
        .map_err(|e| Permanent(format!("unreadable payload: {e}")))?;
    let reference = row.reference.clone().unwrap_or(payload.reference.clone());
    let (order, lines) = {
        let mut conn = state
            .db
            .pool
            .acquire()
            .await
            .map_err(|e| Transient(format!("database: {e}")))?;
        let order = orders::by_reference(&mut conn, &reference)
            .await
            .map_err(|e| Transient(format!("database: {e}")))?
            .ok_or_else(|| Permanent(format!("order {reference} not found")))?;
        let lines = super::orders::line_views(&mut conn, &order)
            .await
            .map_err(|e| Transient(format!("database: {e}")))?;
        (order, lines)
    };
    let public = state.settings.public_url.as_str();
    let facts = OrderFacts {
        reference: order.reference.clone(),
        lines,
        total: order.total(),
        order_url: order_url(public, &order),
        cart_url: format!("{public}/cart"),
    };
    let mail = &state.settings.mail;
    let (letter, to) = match known_kind(&row.kind) {
        kind::ORDER_PAID => (Letter::Confirmation(facts), payload.email),
        kind::ORDER_FAILED => (Letter::PaymentFailed(facts), payload.email),
        kind::ORDER_EXPIRED => (Letter::Expired(facts), payload.email),
        kind::REFUND => {
            let amount = refund_amount(&payload, order.currency)
                .ok_or_else(|| Permanent("refund payload without a readable amount".to_string()))?;
            (
                Letter::Refund {
                    order: facts,
                    amount,
                },
                payload.email,
            )
        }
        kind::NEEDS_REVIEW => {
            let merchant = mail.merchant.as_ref().ok_or_else(|| {
                Permanent("no merchant address: set MERCHANT_EMAIL or ADMIN_EMAIL".to_string())
            })?;
            (
                Letter::NeedsReview {
                    order: facts,
                    why: payload
                        .note
                        .unwrap_or_else(|| "the ledger gives no reason".to_string()),
                    admin_url: format!("{public}/admin/orders/{}", order.reference),
                },
                merchant.as_str().to_string(),
            )
        }
        // Perhaps queued by a newer version during a rolling upgrade: it will know how.
        _ => return Err(Transient(format!("unknown outbox kind {:?}", row.kind))),
    };
    let to: Mailbox = to
        .parse()
        .map_err(|_| Permanent("the recipient's address is not valid".to_string()))?;
    let shop = mail
        .from
        .name
        .clone()
        .unwrap_or_else(|| "Storefront".into());
    let rendered = templates::render(&letter, &shop);
    let message = Message::builder()
        .from(mail.from.clone())
        .to(to)
        .subject(rendered.subject)
        .multipart(
            MultiPart::alternative()
                .singlepart(part(ContentType::TEXT_PLAIN, rendered.text, eight_bit))
                .singlepart(part(ContentType::TEXT_HTML, rendered.html, eight_bit)),
        )
        .map_err(|e| Permanent(format!("cannot build the message: {e}")))?;
    Ok(Outgoing { message, reference })
}

/// A body part. Over SMTP lettre picks the encoding (quoted-printable for lines past 76
/// characters or non-ASCII: safe with any server). In a file (`eight_bit`) the text stays as
/// written, so the `.eml` reads like the message; the bodies' lines stay far below the 998 that
/// 8-bit allows.
fn part(content_type: ContentType, text: String, eight_bit: bool) -> SinglePart {
    let fits = text.lines().all(|line| line.len() < 990);
    let body = if eight_bit && fits {
        let crlf = text.replace("\r\n", "\n").replace('\n', "\r\n");
        Body::dangerous_pre_encoded(crlf.into_bytes(), ContentTransferEncoding::EightBit)
    } else {
        Body::new(text)
    };
    SinglePart::builder().header(content_type).body(body)
}

/// The order page; a guest order's link carries its key (the form the order page shows a guest).
fn order_url(public: &str, order: &OrderRow) -> String {
    match order.user_id {
        Some(_) => format!("{public}/orders/{}", order.reference),
        None => format!(
            "{public}/orders/{}?key={}",
            order.reference, order.guest_token
        ),
    }
}

fn refund_amount(payload: &Payload, order_currency: Currency) -> Option<Money> {
    let currency = match &payload.currency {
        Some(code) => code.parse().ok()?,
        None => order_currency,
    };
    Money::parse_decimal(payload.refund.as_deref()?, currency).ok()
}
