//! Braintree's wire formats (docs/payments.md#braintree): the sale and refund bodies, the
//! `<transaction>` and `<api-error-response>` answers, and the webhook signature.

use super::xml::{self, Node};
use crate::model::{Currency, Money};
use hmac::{Hmac, Mac};
use sha1::{Digest, Sha1};

type HmacSha1 = Hmac<Sha1>;

/// The fields of a `<transaction>` the shop reads.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Transaction {
    pub id: String,
    pub status: String,
    pub kind: String,
    pub amount: String,
    pub currency: Option<String>,
    pub order_id: Option<String>,
    pub processor_response_code: Option<String>,
    pub processor_response_text: Option<String>,
    pub gateway_rejection_reason: Option<String>,
    pub refunded_transaction_id: Option<String>,
}

impl Transaction {
    pub fn from_node(node: &Node) -> Option<Transaction> {
        let get = |name: &str| node.get(name).map(str::to_string);
        Some(Transaction {
            id: get("id")?,
            status: get("status").unwrap_or_default(),
            kind: get("type").unwrap_or_default(),
            amount: get("amount").unwrap_or_default(),
            currency: get("currency-iso-code"),
            order_id: get("order-id"),
            processor_response_code: get("processor-response-code"),
            processor_response_text: get("processor-response-text"),
            gateway_rejection_reason: get("gateway-rejection-reason"),
            refunded_transaction_id: get("refunded-transaction-id"),
        })
    }

    /// Money is in (or on its way): the sale was accepted for settlement.
    pub fn is_captured(&self) -> bool {
        matches!(
            self.status.as_str(),
            "submitted_for_settlement"
                | "settling"
                | "settled"
                | "settlement_pending"
                | "settlement_confirmed"
        )
    }

    /// Why the sale did not go through, in Braintree's words (for the timeline).
    pub fn reason(&self) -> String {
        match self.status.as_str() {
            "processor_declined" => format!(
                "processor declined: {} ({})",
                self.processor_response_text
                    .as_deref()
                    .unwrap_or("declined"),
                self.processor_response_code.as_deref().unwrap_or("-")
            ),
            "gateway_rejected" => format!(
                "gateway rejected: {}",
                self.gateway_rejection_reason
                    .as_deref()
                    .unwrap_or("unknown")
            ),
            "failed" => format!(
                "failed: {}",
                self.processor_response_text
                    .as_deref()
                    .unwrap_or("processor error")
            ),
            other => other.to_string(),
        }
    }

    /// The amount in minor units of `currency`, or `None` when it does not read.
    pub fn money(&self, currency: Currency) -> Option<Money> {
        Money::parse_decimal(&self.amount, currency).ok()
    }
}

/// What one answer of the gateway says: a transaction, or an `<api-error-response>` (which for a
/// processor decline or a gateway rejection carries the transaction too).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SaleResult {
    Accepted(Transaction),
    /// 422 with a transaction: declined by the processor or rejected by the gateway.
    Declined(Transaction),
    /// 422 without one: validation errors (the codes and messages).
    Invalid(String),
}

/// Read a sale's answer body (201 or 422).
pub fn sale_result(body: &[u8]) -> Result<SaleResult, String> {
    let root = xml::parse_bytes(body)?;
    match root.name.as_str() {
        "transaction" => Transaction::from_node(&root)
            .map(SaleResult::Accepted)
            .ok_or_else(|| "a transaction without an id".into()),
        "api-error-response" => {
            if let Some(tx) = root.child("transaction").and_then(Transaction::from_node) {
                return Ok(SaleResult::Declined(tx));
            }
            Ok(SaleResult::Invalid(error_summary(&root)))
        }
        other => Err(format!("unexpected <{other}>")),
    }
}

/// The validation errors of an `<api-error-response>`: `code: message` pairs and its message.
pub fn error_summary(root: &Node) -> String {
    let mut errors = Vec::new();
    collect_errors(root, &mut errors);
    let message = root.get("message").unwrap_or("");
    if errors.is_empty() {
        message.to_string()
    } else {
        format!("{message} [{}]", errors.join("; "))
    }
}

fn collect_errors(node: &Node, out: &mut Vec<String>) {
    if node.name == "error" {
        if let Some(code) = node.get("code") {
            out.push(format!("{code}: {}", node.get("message").unwrap_or("")));
        }
    }
    for child in &node.children {
        collect_errors(child, out);
    }
}

/// Whether an error summary carries this validation code.
pub fn has_code(summary: &str, code: &str) -> bool {
    summary.contains(&format!("{code}:"))
}

/// `transaction.sale`: the nonce, the quoted amount, `order_id` = the attempt reference,
/// settled at once.
pub fn sale_body(
    amount: &str,
    nonce: &str,
    order_id: &str,
    merchant_account_id: Option<&str>,
) -> String {
    let mut tx = Node::new("transaction")
        .with(Node::text("type", "sale"))
        .with(Node::text("amount", amount))
        .with(Node::text("payment-method-nonce", nonce))
        .with(Node::text("order-id", order_id));
    if let Some(account) = merchant_account_id {
        tx = tx.with(Node::text("merchant-account-id", account));
    }
    tx.with(Node::new("options").with(Node::typed("submit-for-settlement", "boolean", "true")))
        .document()
}

/// The `order_id` the shop gives a transaction: the attempt's reference and, after a `/`, the
/// shop's own id of what the transaction is for (the attempt's session for a sale, the refund's
/// key for a refund). Braintree echoes it in searches and notifications, so a transaction another
/// shop on the same account made under the same reference (with a session of its own) is told
/// apart from this shop's. References never contain a `/`.
pub fn tagged_order_id(reference: &str, own_id: &str) -> String {
    format!("{reference}/{own_id}")
}

/// An `order_id` read back: the reference, and the shop's own id after the `/` if there is one.
pub fn split_order_id(order_id: &str) -> (&str, Option<&str>) {
    match order_id.split_once('/') {
        Some((reference, own)) if !own.is_empty() => (reference, Some(own)),
        Some((reference, _)) => (reference, None),
        None => (order_id, None),
    }
}

/// A transaction search on `order_id` (`advanced_search_ids`; with `ids`, `advanced_search`).
pub fn search_body(order_id: &str, ids: Option<&[String]>) -> String {
    let mut search =
        Node::new("search").with(Node::new("order-id").with(Node::text("is", order_id)));
    if let Some(ids) = ids {
        let mut list = Node::typed("ids", "array", "");
        for id in ids {
            list = list.with(Node::text("item", id.as_str()));
        }
        search = search.with(list);
    }
    search.document()
}

/// The ids in `<search-results><ids type="array"><item>…`.
pub fn search_ids(body: &[u8]) -> Result<Vec<String>, String> {
    let root = xml::parse_bytes(body)?;
    let ids = root.child("ids").ok_or("search results without ids")?;
    Ok(ids
        .children
        .iter()
        .map(|i| i.text.trim().to_string())
        .filter(|i| !i.is_empty())
        .collect())
}

/// The transactions of an `advanced_search` answer (`<credit-card-transactions>`).
pub fn search_transactions(body: &[u8]) -> Result<Vec<Transaction>, String> {
    let root = xml::parse_bytes(body)?;
    Ok(root
        .children
        .iter()
        .filter(|c| c.name == "transaction")
        .filter_map(Transaction::from_node)
        .collect())
}

pub fn refund_body(amount: &str, order_id: &str) -> String {
    Node::new("transaction")
        .with(Node::text("amount", amount))
        .with(Node::text("order-id", order_id))
        .document()
}

/// `hex(HMAC-SHA1(key = SHA1(private_key), message))`, as Braintree's SDKs sign webhooks.
pub fn signature(private_key: &str, message: &[u8]) -> String {
    let key = Sha1::digest(private_key.as_bytes());
    let mut mac = HmacSha1::new_from_slice(&key).expect("HMAC takes any key length");
    mac.update(message);
    hex::encode(mac.finalize().into_bytes())
}

/// `bt_signature` for a payload: `public_key|hexsig`.
pub fn bt_signature(public_key: &str, private_key: &str, payload: &[u8]) -> String {
    format!("{public_key}|{}", signature(private_key, payload))
}

/// Check `bt_signature` against `bt_payload` as received: the pair whose public key is ours, over
/// the payload or the payload plus `\n` (as the SDKs do), compared in constant time.
pub fn verify(
    public_key: &str,
    private_key: &str,
    bt_signature: &str,
    bt_payload: &str,
) -> Result<(), String> {
    if bt_payload.is_empty()
        || !bt_payload
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'=' | b'\n'))
    {
        return Err("bt_payload is not base64".into());
    }
    let theirs = bt_signature
        .split('&')
        .filter_map(|pair| pair.split_once('|'))
        .find(|(key, _)| *key == public_key)
        .map(|(_, sig)| sig)
        .ok_or("no signature for our public key")?;
    let theirs = hex::decode(theirs.trim()).map_err(|_| "the signature is not hex")?;
    let key = Sha1::digest(private_key.as_bytes());
    let with_newline = format!("{bt_payload}\n");
    for message in [bt_payload.as_bytes(), with_newline.as_bytes()] {
        let mut mac = HmacSha1::new_from_slice(&key).expect("HMAC takes any key length");
        mac.update(message);
        if mac.verify_slice(&theirs).is_ok() {
            return Ok(());
        }
    }
    Err("signature mismatch".into())
}

/// A verified notification: its kind, timestamp and subject.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    pub kind: String,
    pub timestamp: String,
    pub transaction: Option<Transaction>,
    /// A dispute's transaction (its id and `order-id`), for dispute kinds.
    pub dispute: Option<(String, Transaction)>,
}

/// Decode `bt_payload` (MIME-style base64 of `<notification>` XML).
pub fn notification(bt_payload: &str) -> Result<Notification, String> {
    use base64::Engine as _;
    let compact: String = bt_payload.chars().filter(|c| *c != '\n').collect();
    let raw = base64::engine::general_purpose::STANDARD
        .decode(compact)
        .map_err(|e| format!("bt_payload: {e}"))?;
    let root = xml::parse_bytes(&raw)?;
    if root.name != "notification" {
        return Err(format!("unexpected <{}>", root.name));
    }
    let kind = root.get("kind").ok_or("a notification without a kind")?;
    let subject = root.child("subject");
    let transaction = subject
        .and_then(|s| s.child("transaction"))
        .and_then(Transaction::from_node);
    let dispute = subject.and_then(|s| s.child("dispute")).and_then(|d| {
        let id = d.get("id")?.to_string();
        let tx = d.child("transaction").and_then(Transaction::from_node)?;
        Some((id, tx))
    });
    Ok(Notification {
        kind: kind.to_string(),
        timestamp: root.get("timestamp").unwrap_or("").to_string(),
        transaction,
        dispute,
    })
}

/// Encode a notification as Braintree does (base64 with a line break every 60 characters, and
/// one at the end).
pub fn encode_payload(xml: &str) -> String {
    use base64::Engine as _;
    let flat = base64::engine::general_purpose::STANDARD.encode(xml.as_bytes());
    let mut out = String::new();
    for chunk in flat.as_bytes().chunks(60) {
        out.push_str(std::str::from_utf8(chunk).unwrap_or_default());
        out.push('\n');
    }
    out
}

/// The `<transaction>` element of an answer: its XML, for the sandbox and tests.
pub fn transaction_node(tx: &Transaction) -> Node {
    let opt = |name: &str, value: &Option<String>| match value {
        Some(v) => Node::text(name, v.as_str()),
        None => {
            let mut n = Node::new(name);
            n.attrs.push(("nil".into(), "true".into()));
            n
        }
    };
    Node::new("transaction")
        .with(Node::text("id", tx.id.as_str()))
        .with(Node::text("status", tx.status.as_str()))
        .with(Node::text("type", tx.kind.as_str()))
        .with(Node::typed("amount", "decimal", tx.amount.as_str()))
        .with(opt("currency-iso-code", &tx.currency))
        .with(opt("order-id", &tx.order_id))
        .with(opt("processor-response-code", &tx.processor_response_code))
        .with(opt("processor-response-text", &tx.processor_response_text))
        .with(opt(
            "gateway-rejection-reason",
            &tx.gateway_rejection_reason,
        ))
        .with(opt("refunded-transaction-id", &tx.refunded_transaction_id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_ids_carry_the_shops_own_id() {
        let tagged = tagged_order_id("ORD-000001-A1-K7QX2M", "bt_0123");
        assert_eq!(tagged, "ORD-000001-A1-K7QX2M/bt_0123");
        assert_eq!(
            split_order_id(&tagged),
            ("ORD-000001-A1-K7QX2M", Some("bt_0123"))
        );
        assert_eq!(split_order_id("ORD-000001-A1"), ("ORD-000001-A1", None));
        assert_eq!(split_order_id("ORD-000001-A1/"), ("ORD-000001-A1", None));
    }

    #[test]
    fn the_section_9_vector_formula() {
        // HMAC-SHA1 keyed by the 20-byte SHA-1 of the private key, computed here step by step.
        let payload = "PG5vdGlmaWNhdGlvbj48a2luZD5jaGVjazwva2luZD48L25vdGlmaWNhdGlvbj4=\n";
        let key: [u8; 20] = Sha1::digest(b"privkey").into();
        let mut mac = HmacSha1::new_from_slice(&key).unwrap();
        mac.update(payload.as_bytes());
        let expected = hex::encode(mac.finalize().into_bytes());
        assert_eq!(expected.len(), 40);
        assert_eq!(signature("privkey", payload.as_bytes()), expected);
        let header = bt_signature("pubkey", "privkey", payload.as_bytes());
        assert_eq!(header, format!("pubkey|{expected}"));
        // Keyed by the digest, not by the private key itself.
        let mut plain = HmacSha1::new_from_slice(b"privkey").unwrap();
        plain.update(payload.as_bytes());
        assert_ne!(hex::encode(plain.finalize().into_bytes()), expected);
        assert!(verify("pubkey", "privkey", &header, payload).is_ok());
        // Several pairs: ours is picked; the payload may be signed with or without its last \n.
        let many = format!("otherkey|{}&{header}", "0".repeat(40));
        assert!(verify("pubkey", "privkey", &many, payload).is_ok());
        let trimmed = payload.trim_end();
        assert!(verify("pubkey", "privkey", &header, trimmed).is_ok());
        // Wrong key, other public key, tampered payload, non-base64.
        assert!(verify("pubkey", "other", &header, payload).is_err());
        assert!(verify("someone", "privkey", &header, payload).is_err());
        assert!(verify("pubkey", "privkey", &header, &payload.replace('P', "Q")).is_err());
        assert!(verify("pubkey", "privkey", &header, "<xml>").is_err());
    }

    #[test]
    fn sale_answers_are_read() {
        let ok = br#"<?xml version="1.0" encoding="UTF-8"?>
<transaction><id>abc123</id><status>submitted_for_settlement</status><type>sale</type>
<currency-iso-code>USD</currency-iso-code><amount>18.00</amount><order-id>ORD-000001-A1</order-id>
<processor-response-code>1000</processor-response-code><processor-response-text>Approved</processor-response-text>
<gateway-rejection-reason nil="true"/></transaction>"#;
        let SaleResult::Accepted(tx) = sale_result(ok).unwrap() else {
            panic!("accepted")
        };
        assert!(tx.is_captured());
        assert_eq!(
            tx.money(Currency::Usd),
            Some(Money::new(1800, Currency::Usd))
        );
        assert_eq!(tx.currency.as_deref(), Some("USD"));
        assert_eq!(tx.gateway_rejection_reason, None);

        let declined = br#"<api-error-response><errors><errors type="array"/></errors>
<message>Do Not Honor</message><transaction><id>d1</id><status>processor_declined</status>
<type>sale</type><amount>2000.00</amount><processor-response-code>2000</processor-response-code>
<processor-response-text>Do Not Honor</processor-response-text></transaction></api-error-response>"#;
        let SaleResult::Declined(tx) = sale_result(declined).unwrap() else {
            panic!("declined")
        };
        assert!(!tx.is_captured());
        assert_eq!(tx.reason(), "processor declined: Do Not Honor (2000)");

        let rejected = br#"<api-error-response><errors><errors type="array"/></errors>
<message>Gateway Rejected: duplicate</message><transaction><id>g1</id><status>gateway_rejected</status>
<type>sale</type><amount>18.00</amount><gateway-rejection-reason>duplicate</gateway-rejection-reason>
</transaction></api-error-response>"#;
        let SaleResult::Declined(tx) = sale_result(rejected).unwrap() else {
            panic!("rejected")
        };
        assert_eq!(tx.reason(), "gateway rejected: duplicate");

        let invalid = br#"<api-error-response><errors><errors type="array"/><transaction>
<errors type="array"><error><code>91565</code><attribute type="symbol">payment_method_nonce</attribute>
<message>Unknown or expired payment_method_nonce.</message></error></errors></transaction></errors>
<params><transaction><amount>18.00</amount></transaction></params>
<message>Unknown or expired payment_method_nonce.</message></api-error-response>"#;
        let SaleResult::Invalid(summary) = sale_result(invalid).unwrap() else {
            panic!("invalid")
        };
        assert!(has_code(&summary, "91565"), "{summary}");
        assert!(sale_result(b"<html>oops</html>").is_err());
    }

    #[test]
    fn notifications_are_decoded() {
        let xml = "<notification><timestamp type=\"datetime\">2026-12-01T10:00:00Z</timestamp>\
<kind>transaction_settled</kind><subject><transaction><id>t1</id><status>settled</status>\
<type>sale</type><amount>18.00</amount><currency-iso-code>USD</currency-iso-code>\
<order-id>ORD-000001-A1</order-id></transaction></subject></notification>";
        let payload = encode_payload(xml);
        assert!(payload.contains('\n'));
        let n = notification(&payload).unwrap();
        assert_eq!(n.kind, "transaction_settled");
        let tx = n.transaction.unwrap();
        assert_eq!(tx.order_id.as_deref(), Some("ORD-000001-A1"));
        assert_eq!(tx.status, "settled");

        let dispute = "<notification><kind>dispute_opened</kind><subject><dispute><id>dp1</id>\
<transaction><id>t1</id><amount>18.00</amount><order-id>ORD-000001-A1</order-id></transaction>\
</dispute></subject></notification>";
        let n = notification(&encode_payload(dispute)).unwrap();
        let (id, tx) = n.dispute.unwrap();
        assert_eq!((id.as_str(), tx.id.as_str()), ("dp1", "t1"));
        let check = notification(&encode_payload(
            "<notification><kind>check</kind><subject/></notification>",
        ))
        .unwrap();
        assert_eq!(check.kind, "check");
        assert!(notification("bm90IHhtbA==").is_err());
    }
}
