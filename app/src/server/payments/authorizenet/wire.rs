//! Authorize.Net's wire format (docs/payments.md#authorizenet): one URL, a JSON (or XML) document named after
//! the request, element order significant (the JSON mirrors the XSD sequence), answers that start
//! with a UTF-8 byte-order mark and report errors as HTTP 200 with `messages.resultCode: "Error"`.
//!
//! [`Node`] keeps elements in the order they are written, and renders as JSON or as XML (the
//! sandbox answers XML to the Python SDK). [`read_xml`] turns the XML the SDKs send into the same
//! `serde_json::Value` shape the JSON requests parse to.

use crate::model::{Currency, Money};
use serde::ser::{SerializeMap, SerializeSeq};
use serde_json::Value;

/// The UTF-8 byte-order mark Authorize.Net puts before every answer.
pub const BOM: &[u8] = b"\xEF\xBB\xBF";

/// The namespace of Authorize.Net's XML documents.
pub const XMLNS: &str = "AnetApi/xml/v1/schema/AnetApiSchema.xsd";

/// An element tree in writing order.
#[derive(Debug, Clone, PartialEq)]
pub enum Node {
    Obj(Vec<(String, Node)>),
    Arr(Vec<Node>),
    Str(String),
}

impl Node {
    pub fn obj<K: Into<String>>(fields: impl IntoIterator<Item = (K, Node)>) -> Node {
        Node::Obj(fields.into_iter().map(|(k, v)| (k.into(), v)).collect())
    }

    pub fn s(text: impl Into<String>) -> Node {
        Node::Str(text.into())
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// The XML form: `<name xmlns="…">…</name>`; an array repeats its element name.
    pub fn to_xml(name: &str, node: &Node) -> String {
        let mut out = String::from("<?xml version=\"1.0\" encoding=\"utf-8\"?>");
        out.push_str(&format!("<{name} xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" xmlns:xsd=\"http://www.w3.org/2001/XMLSchema\" xmlns=\"{XMLNS}\">"));
        node.write_xml_children(&mut out);
        out.push_str(&format!("</{name}>"));
        out
    }

    fn write_xml_children(&self, out: &mut String) {
        match self {
            Node::Obj(fields) => {
                for (k, v) in fields {
                    match v {
                        Node::Arr(items) => {
                            for item in items {
                                write_element(out, k, item);
                            }
                        }
                        other => write_element(out, k, other),
                    }
                }
            }
            Node::Str(text) => out.push_str(&xml_escape(text)),
            Node::Arr(_) => {}
        }
    }
}

fn write_element(out: &mut String, name: &str, node: &Node) {
    out.push_str(&format!("<{name}>"));
    node.write_xml_children(out);
    out.push_str(&format!("</{name}>"));
}

fn xml_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

impl serde::Serialize for Node {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Node::Str(text) => s.serialize_str(text),
            Node::Arr(items) => {
                let mut seq = s.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(item)?;
                }
                seq.end()
            }
            Node::Obj(fields) => {
                let mut map = s.serialize_map(Some(fields.len()))?;
                for (k, v) in fields {
                    map.serialize_entry(k, v)?;
                }
                map.end()
            }
        }
    }
}

/// The answer without its byte-order mark (present at Authorize.Net, absent at some proxies).
pub fn strip_bom(body: &[u8]) -> &[u8] {
    body.strip_prefix(BOM).unwrap_or(body)
}

/// An answer's JSON, read past the byte-order mark.
pub fn parse_answer(body: &[u8]) -> Result<Value, serde_json::Error> {
    serde_json::from_slice(strip_bom(body))
}

/// `merchantAuthentication` as the first element of every request.
pub fn auth(login: &str, transaction_key: &str) -> (String, Node) {
    (
        "merchantAuthentication".into(),
        Node::obj([
            ("name", Node::s(login)),
            ("transactionKey", Node::s(transaction_key)),
        ]),
    )
}

/// A request document `{"<name>": {merchantAuthentication, …fields}}`.
pub fn request(name: &str, login: &str, key: &str, fields: Vec<(&str, Node)>) -> Node {
    let mut inner = vec![auth(login, key)];
    inner.extend(fields.into_iter().map(|(k, v)| (k.to_string(), v)));
    Node::obj([(name, Node::Obj(inner))])
}

/// A decimal amount as Authorize.Net writes it: a JSON string or number, in the account's
/// currency (USD here). `None` unless it is a plain non-negative decimal with at most two places.
pub fn amount_minor(value: &Value) -> Option<i64> {
    let text = match value {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        _ => return None,
    };
    // `18.0` and `18.00` and `18` alike; more than two places is not an amount the shop sent.
    Money::parse_decimal(&text, Currency::Usd)
        .ok()
        .map(|m| m.minor)
}

/// The result of an answer's `messages`: `Ok` or the first error's code and text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Result_ {
    Ok,
    Error { code: String, text: String },
}

pub fn result_of(answer: &Value) -> Result_ {
    let messages = &answer["messages"];
    let first = match &messages["message"] {
        Value::Array(list) => list.first().cloned().unwrap_or(Value::Null),
        other => other.clone(),
    };
    if messages["resultCode"].as_str() == Some("Ok") {
        Result_::Ok
    } else {
        Result_::Error {
            code: first["code"].as_str().unwrap_or("").to_string(),
            text: first["text"].as_str().unwrap_or("").to_string(),
        }
    }
}

/// A list in the answer: Authorize.Net's XML-to-JSON mapping writes one element as an object and
/// several as an array; both read as a list here.
pub fn list(value: &Value) -> Vec<&Value> {
    match value {
        Value::Array(items) => items.iter().collect(),
        Value::Null => Vec::new(),
        one => vec![one],
    }
}

/// A string field, whether written as a string or a number.
pub fn text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        _ => String::new(),
    }
}

/// Read an XML document into a JSON value: the root element's name and its content. Elements
/// with children become objects; a repeated name becomes an array; text becomes a string.
/// Namespaces are ignored (the SDK strips prefixes too). Enough for the documents the SDKs send;
/// not a general XML parser (no DTDs, no CDATA).
pub fn read_xml(text: &str) -> Option<(String, Value)> {
    let mut rest = text.trim_start_matches('\u{feff}').trim_start();
    // Prolog and comments.
    loop {
        if let Some(r) = rest.strip_prefix("<?") {
            rest = r.split_once("?>")?.1.trim_start();
        } else if let Some(r) = rest.strip_prefix("<!--") {
            rest = r.split_once("-->")?.1.trim_start();
        } else {
            break;
        }
    }
    let (name, value, after) = element(rest)?;
    after.trim().is_empty().then_some((name, value))
}

fn local(name: &str) -> String {
    name.rsplit(':').next().unwrap_or(name).to_string()
}

fn unescape(text: &str) -> String {
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&amp;", "&")
}

/// One element at the start of `input`: its local name, its value, and what follows it.
fn element(input: &str) -> Option<(String, Value, &str)> {
    let input = input.strip_prefix('<')?;
    let end = input.find('>')?;
    let tag = &input[..end];
    let mut after = &input[end + 1..];
    let self_closing = tag.ends_with('/');
    let tag = tag.trim_end_matches('/');
    let name = tag.split_whitespace().next()?.to_string();
    if self_closing {
        return Some((local(&name), Value::String(String::new()), after));
    }
    let mut children: Vec<(String, Value)> = Vec::new();
    let mut text = String::new();
    loop {
        let lt = after.find('<')?;
        text.push_str(&after[..lt]);
        after = &after[lt..];
        if let Some(r) = after.strip_prefix("</") {
            let close = r.find('>')?;
            if r[..close].trim() != name {
                return None;
            }
            after = &r[close + 1..];
            break;
        }
        if let Some(r) = after.strip_prefix("<!--") {
            after = r.split_once("-->")?.1;
            continue;
        }
        let (child, value, next) = element(after)?;
        children.push((child, value));
        after = next;
    }
    let value = if children.is_empty() {
        Value::String(unescape(&text))
    } else {
        let mut map = serde_json::Map::new();
        for (k, v) in children {
            match map.get_mut(&k) {
                None => {
                    map.insert(k, v);
                }
                Some(Value::Array(items)) => items.push(v),
                Some(existing) => {
                    let first = existing.take();
                    *existing = Value::Array(vec![first, v]);
                }
            }
        }
        Value::Object(map)
    };
    Some((local(&name), value, after))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn authorizenet_answers_are_read_past_the_byte_order_mark() {
        let with = b"\xEF\xBB\xBF{\"token\":\"t1\",\"messages\":{\"resultCode\":\"Ok\",\"message\":[{\"code\":\"I00001\",\"text\":\"Successful.\"}]}}";
        let answer = parse_answer(with).unwrap();
        assert_eq!(answer["token"], "t1");
        assert_eq!(result_of(&answer), Result_::Ok);
        let without = &with[3..];
        assert_eq!(parse_answer(without).unwrap(), answer);
        assert!(
            serde_json::from_slice::<Value>(with).is_err(),
            "plain JSON readers choke on it"
        );
    }

    #[test]
    fn authorizenet_errors_in_a_200_are_read() {
        let answer = parse_answer(br#"{"messages":{"resultCode":"Error","message":[{"code":"E00007","text":"User authentication failed due to invalid authentication values."}]}}"#).unwrap();
        assert_eq!(
            result_of(&answer),
            Result_::Error {
                code: "E00007".into(),
                text: "User authentication failed due to invalid authentication values.".into()
            }
        );
    }

    #[test]
    fn authorizenet_requests_keep_the_schema_order() {
        let doc = request(
            "getTransactionDetailsRequest",
            "login",
            "key",
            vec![("transId", Node::s("60001"))],
        );
        assert_eq!(
            doc.to_json(),
            r#"{"getTransactionDetailsRequest":{"merchantAuthentication":{"name":"login","transactionKey":"key"},"transId":"60001"}}"#
        );
    }

    #[test]
    fn authorizenet_amounts_are_decimals_never_floats() {
        assert_eq!(amount_minor(&json!("18.00")), Some(1800));
        assert_eq!(amount_minor(&json!(18.0)), Some(1800));
        assert_eq!(amount_minor(&json!(18)), Some(1800));
        assert_eq!(amount_minor(&json!(0.1)), Some(10));
        assert_eq!(amount_minor(&json!("18.001")), None);
        assert_eq!(amount_minor(&json!("-1.00")), None);
        assert_eq!(amount_minor(&json!(null)), None);
    }

    #[test]
    fn authorizenet_xml_reads_and_writes_the_same_shape() {
        let xml = r#"<?xml version="1.0" encoding="utf-8"?><getTransactionDetailsRequest xmlns="AnetApi/xml/v1/schema/AnetApiSchema.xsd"><merchantAuthentication><name>a &amp; b</name><transactionKey>k</transactionKey></merchantAuthentication><transId>6001</transId><x/></getTransactionDetailsRequest>"#;
        let (name, value) = read_xml(xml).unwrap();
        assert_eq!(name, "getTransactionDetailsRequest");
        assert_eq!(value["merchantAuthentication"]["name"], "a & b");
        assert_eq!(value["transId"], "6001");
        assert_eq!(value["x"], "");
        let repeated = read_xml("<r><s><n>1</n></s><s><n>2</n></s></r>").unwrap().1;
        assert_eq!(list(&repeated["s"]).len(), 2);
        assert!(read_xml("<r><s></r>").is_none());
        let node = Node::obj([
            (
                "messages",
                Node::obj([
                    ("resultCode", Node::s("Ok")),
                    (
                        "message",
                        Node::Arr(vec![Node::obj([("code", Node::s("I00001"))])]),
                    ),
                ]),
            ),
            ("token", Node::s("a<b")),
        ]);
        let out = Node::to_xml("getHostedPaymentPageResponse", &node);
        assert!(out.contains("<messages><resultCode>Ok</resultCode><message><code>I00001</code></message></messages><token>a&lt;b</token>"), "{out}");
        let (_, back) = read_xml(&out).unwrap();
        assert_eq!(back["token"], "a<b");
    }
}
