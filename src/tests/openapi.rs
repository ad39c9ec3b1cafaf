//! Every request the shop sends to Stripe, PayPal and Square, held against the OpenAPI documents
//! those providers publish. The shop's own sandboxes were written by the same hands as
//! its clients, so a field both get wrong in the same way passes every other test; the providers'
//! documents were not. A recording forwarder in front of the sandboxes keeps each request while the
//! shop pays, refunds and cancels through each of the three; then each request must name an
//! operation the documents have, and its body must fit that operation's schema: required fields,
//! types, enums, lengths, patterns, limits, and no field the document does not list.
//!
//! The documents are not part of this repository. `PROVIDER_OPENAPI_DIR` names the folder holding
//! `stripe.spec3.yaml`, `paypal.checkout_orders_v2.json`, `paypal.payments_payment_v2.json`,
//! `paypal.notifications_webhooks_v1.json` and `square.api.json` (the test command sets it where
//! the folder exists); without it the check says it was skipped.

use crate::helpers::{spawn_app_with, Backend, Browser, TestApp};
use crate::pay::reference_in;
use reqwest::header::{LOCATION, REFERER};
use serde_json::{Map, Value};
use std::sync::{Arc, Mutex};

/// Calls the published documents leave out: PayPal's OAuth token call is documented on its own
/// page, not in the REST documents.
const UNDOCUMENTED: &[(&str, &str)] = &[("POST", "/v1/oauth2/token")];

/// One request as the shop sent it.
#[derive(Debug, Clone)]
struct Sent {
    provider: &'static str,
    method: String,
    path: String,
    query: String,
    content_type: String,
    body: String,
}

struct Recorder {
    target: Mutex<String>,
    sent: Mutex<Vec<Sent>>,
    http: reqwest::Client,
}

/// An HTTP forwarder that keeps every request before passing it on: its port, the recorder (set
/// its target once the provider behind it runs).
async fn recorder() -> (u16, Arc<Recorder>) {
    let recorder = Arc::new(Recorder {
        target: Mutex::new(String::new()),
        sent: Mutex::new(Vec::new()),
        http: reqwest::Client::new(),
    });
    let router = axum::Router::new()
        .fallback(record_and_forward)
        .with_state(recorder.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(listener, router).await });
    (port, recorder)
}

async fn record_and_forward(
    axum::extract::State(recorder): axum::extract::State<Arc<Recorder>>,
    method: axum::http::Method,
    uri: axum::http::Uri,
    headers: axum::http::HeaderMap,
    body: axum::body::Bytes,
) -> axum::response::Response {
    use axum::response::IntoResponse as _;
    let full = uri.path();
    let (provider, path) = ["stripe", "paypal", "square"]
        .into_iter()
        .find_map(|p| {
            full.strip_prefix(&format!("/sandbox/{p}"))
                .map(|rest| (p, rest.to_string()))
        })
        .unwrap_or(("unknown", full.to_string()));
    recorder.sent.lock().unwrap().push(Sent {
        provider,
        method: method.as_str().to_string(),
        path,
        query: uri.query().unwrap_or_default().to_string(),
        content_type: headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string(),
        body: String::from_utf8_lossy(&body).into_owned(),
    });
    let target = recorder.target.lock().unwrap().clone();
    let path_and_query = uri.path_and_query().map_or("/", |p| p.as_str());
    let url = format!("{target}{path_and_query}");
    let (status, content_type, text) =
        crate::helpers::pass_on(&recorder.http, &url, &method, &headers, body).await;
    (status, [("content-type", content_type)], text).into_response()
}

/// On a provider's sandbox page, press a button with the page's test controls; where the sandbox
/// sends the browser.
async fn press(on: &Browser, page_url: &str, fields: &[(&str, &str)]) -> String {
    let path = on.local(page_url);
    let page = on.get(&path).await;
    assert!(page.status.is_success(), "{path}: {}", page.html);
    let response = on
        .client
        .post(format!("{}{path}", on.base))
        .header(REFERER, format!("{}{path}", on.base))
        .form(fields)
        .send()
        .await
        .unwrap();
    assert!(
        response.status().is_redirection(),
        "{path}: {}",
        response.status()
    );
    response.headers()[LOCATION].to_str().unwrap().to_string()
}

/// The merchant's Refund button, as the admin page's form posts it.
async fn refund(merchant: &Browser, reference: &str, amount: &str) {
    let key = format!("refund-{}", uuid::Uuid::new_v4().simple());
    let response = merchant
        .client
        .post(format!("{}/api/admin/refund", merchant.base))
        .header(
            REFERER,
            format!("{}/admin/orders/{reference}", merchant.base),
        )
        .form(&[
            ("reference", reference),
            ("amount", amount),
            ("reason", "Damaged in transit"),
            ("key", key.as_str()),
        ])
        .send()
        .await
        .unwrap();
    let status = response.status();
    let text = response.text().await.unwrap();
    assert!(
        status.is_success() && text.contains("Refunded"),
        "{reference} {amount}: {status} {text}"
    );
}

/// Pay one order with `provider` through its sandbox page (on `provider_side`, the instance
/// that serves the sandboxes), come back to the shop, and refund it in two parts.
async fn pay_and_refund(app: &TestApp, provider_side: &TestApp, provider: &str) {
    let shopper = app.browser();
    shopper.add_to_cart(1, 1).await;
    let page = shopper.pay(provider).await;
    let back = press(
        &provider_side.browser(),
        &page,
        &[
            ("action", "pay"),
            ("webhook", "never"),
            ("refunds", "succeed"),
        ],
    )
    .await;
    let reference = reference_in(&back);
    let shown = shopper.follow(&back).await;
    assert!(shown.status.is_success(), "{provider}: {}", shown.html);
    app.wait_for(&reference, "paid").await;
    let merchant = app.merchant().await;
    refund(&merchant, &reference, "5.00").await;
    refund(&merchant, &reference, "13.00").await;
    assert_eq!(app.status_of(&reference).await, "refunded", "{provider}");
}

/// The folder holding the providers' documents, if this run has it.
fn documents() -> Option<std::path::PathBuf> {
    let dir = std::path::PathBuf::from(std::env::var_os("PROVIDER_OPENAPI_DIR")?);
    dir.join("stripe.spec3.yaml").is_file().then_some(dir)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_request_to_stripe_paypal_and_square_fits_their_published_documents() {
    let Some(dir) = documents() else {
        eprintln!(
            "skipped: PROVIDER_OPENAPI_DIR does not name the folder of the providers' OpenAPI documents"
        );
        return;
    };
    let (port, recorder) = recorder().await;
    let base = |p: &str| format!("http://127.0.0.1:{port}/sandbox/{p}");
    let (stripe, paypal, square) = (base("stripe"), base("paypal"), base("square"));
    let app = spawn_app_with(
        Backend::Sqlite,
        &[
            ("STRIPE_API_BASE", stripe.as_str()),
            ("PAYPAL_API_BASE", paypal.as_str()),
            ("SQUARE_API_BASE", square.as_str()),
        ],
    )
    .await;
    // The providers: the sandboxes of another instance on the same database, whose webhooks
    // reach the shop as the real providers' would.
    let provider_side = app.another_instance().await;
    *recorder.target.lock().unwrap() = provider_side.base.clone();

    for provider in ["stripe", "paypal", "square"] {
        pay_and_refund(&app, &provider_side, provider).await;
    }
    // A shopper who gives up: the Stripe session is expired.
    let shopper = app.browser();
    shopper.add_to_cart(2, 1).await;
    shopper.pay("stripe").await;
    let reference = app.latest_order().await;
    let action = format!("/payments/stripe/cancel/{reference}");
    let page = shopper
        .submit(&format!("/orders/{reference}"), &action, &[("key", "")])
        .await;
    assert_eq!(
        page.order_status().as_deref(),
        Some("Cancelled"),
        "{}",
        page.html
    );

    let sent = recorder.sent.lock().unwrap().clone();
    let documents = Documents::load(&dir);
    let mut problems = Vec::new();
    let mut operations = std::collections::BTreeSet::new();
    for request in &sent {
        match documents.check(request) {
            Ok(operation) => {
                operations.insert(format!("{} {operation}", request.provider));
            }
            Err(found) => problems.extend(found.into_iter().map(|p| {
                format!(
                    "{} {} {}: {p}",
                    request.provider, request.method, request.path
                )
            })),
        }
    }
    assert!(
        problems.is_empty(),
        "{} requests checked; what the providers' documents refuse:\n{}",
        sent.len(),
        problems.join("\n")
    );
    for expected in [
        "stripe POST /v1/checkout/sessions",
        "stripe GET /v1/checkout/sessions/{session}",
        "stripe POST /v1/checkout/sessions/{session}/expire",
        "stripe POST /v1/refunds",
        "paypal POST /v2/checkout/orders",
        "paypal POST /v2/checkout/orders/{id}/capture",
        "paypal POST /v2/payments/captures/{capture_id}/refund",
        "square POST /v2/online-checkout/payment-links",
        "square POST /v2/refunds",
    ] {
        assert!(
            operations.contains(expected),
            "{expected} was never sent: {operations:#?}"
        );
    }
    eprintln!(
        "{} requests to {} operations fit the providers' documents: {operations:#?}",
        sent.len(),
        operations.len()
    );
}

/// The providers' documents, parsed.
struct Documents {
    stripe: Value,
    paypal: Vec<Value>,
    square: Value,
}

impl Documents {
    fn load(dir: &std::path::Path) -> Documents {
        let json = |name: &str| -> Value {
            let text = std::fs::read_to_string(dir.join(name)).unwrap();
            serde_json::from_str(&text).unwrap()
        };
        let yaml = std::fs::read_to_string(dir.join("stripe.spec3.yaml")).unwrap();
        Documents {
            stripe: serde_yaml::from_str(&yaml).unwrap(),
            paypal: vec![
                json("paypal.checkout_orders_v2.json"),
                json("paypal.payments_payment_v2.json"),
                json("paypal.notifications_webhooks_v1.json"),
            ],
            square: json("square.api.json"),
        }
    }

    /// The operation (`METHOD /template`) a request names, or what is wrong with it.
    fn check(&self, sent: &Sent) -> Result<String, Vec<String>> {
        let documents: Vec<&Value> = match sent.provider {
            "stripe" => vec![&self.stripe],
            "paypal" => self.paypal.iter().collect(),
            "square" => vec![&self.square],
            other => return Err(vec![format!("a call to an unknown provider {other}")]),
        };
        if UNDOCUMENTED.contains(&(sent.method.as_str(), sent.path.as_str())) {
            return Ok(format!(
                "{} {} (not in the documents)",
                sent.method, sent.path
            ));
        }
        let found = documents.iter().find_map(|doc| {
            operation(doc, &sent.method, &sent.path).map(|(template, op)| (*doc, template, op))
        });
        let Some((doc, template, op)) = found else {
            return Err(vec!["no such operation in the provider's documents".into()]);
        };
        let mut problems = Vec::new();
        check_query(doc, op, &sent.query, &mut problems);
        let has_body = !sent.body.trim().is_empty();
        match op.get("requestBody") {
            Some(body_spec) if has_body => {
                let body_spec = resolve(doc, body_spec);
                let media = sent.content_type.split(';').next().unwrap_or("").trim();
                match body_spec["content"].get(media) {
                    None => problems.push(format!("a {media:?} body the operation does not take")),
                    Some(content) => {
                        let (value, form) = if media == "application/x-www-form-urlencoded" {
                            (form_value(&sent.body), true)
                        } else {
                            match serde_json::from_str(&sent.body) {
                                Ok(v) => (v, false),
                                Err(e) => {
                                    problems.push(format!("a body that is not JSON: {e}"));
                                    return Err(problems);
                                }
                            }
                        };
                        let checker = Checker { doc, form };
                        checker.check(&content["schema"], &value, "body", &mut problems, 0);
                    }
                }
            }
            Some(body_spec)
                if !has_body && resolve(doc, body_spec)["required"] == Value::Bool(true) =>
            {
                problems.push("no body, and the operation requires one".into())
            }
            None if has_body => problems.push("a body the operation does not take".into()),
            _ => {}
        }
        if problems.is_empty() {
            Ok(format!("{} {template}", sent.method))
        } else {
            Err(problems)
        }
    }
}

/// The operation of `doc` that `method path` names: its path template and its definition. A
/// template with more literal segments wins (`/v2/refunds/{id}` never shadows a literal path).
fn operation<'a>(doc: &'a Value, method: &str, path: &str) -> Option<(&'a str, &'a Value)> {
    let segments: Vec<&str> = path.trim_end_matches('/').split('/').collect();
    doc["paths"]
        .as_object()?
        .iter()
        .filter_map(|(template, item)| {
            let parts: Vec<&str> = template.split('/').collect();
            if parts.len() != segments.len() {
                return None;
            }
            let mut literal = 0;
            for (part, segment) in parts.iter().zip(&segments) {
                if part.starts_with('{') && part.ends_with('}') {
                    if segment.is_empty() {
                        return None;
                    }
                } else if part == segment {
                    literal += 1;
                } else {
                    return None;
                }
            }
            let op = item.get(method.to_ascii_lowercase())?;
            Some((literal, template.as_str(), op))
        })
        .max_by_key(|(literal, _, _)| *literal)
        .map(|(_, template, op)| (template, op))
}

/// Each query parameter must be one the operation declares (`expand[]` is `expand`).
fn check_query(doc: &Value, op: &Value, query: &str, problems: &mut Vec<String>) {
    let declared: Vec<String> = op["parameters"]
        .as_array()
        .map(|ps| {
            ps.iter()
                .map(|p| resolve(doc, p))
                .filter(|p| p["in"] == "query")
                .filter_map(|p| p["name"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query).unwrap_or_default();
    for (name, _) in pairs {
        let base = name.split('[').next().unwrap_or(&name);
        if !declared.iter().any(|d| d == base) {
            problems.push(format!(
                "query parameter {name:?} is not one the operation takes"
            ));
        }
    }
}

/// A `$ref` followed to what it names.
fn resolve<'a>(doc: &'a Value, mut schema: &'a Value) -> &'a Value {
    for _ in 0..64 {
        let Some(reference) = schema.get("$ref").and_then(Value::as_str) else {
            return schema;
        };
        let pointer = reference.trim_start_matches('#');
        schema = doc
            .pointer(pointer)
            .unwrap_or_else(|| panic!("the document has no {reference}"));
    }
    panic!("a $ref loop")
}

/// A Stripe form body (`line_items[0][price_data][currency]=usd`) as the nested value it stands
/// for: objects, arrays where every key is an index, and strings.
fn form_value(body: &str) -> Value {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(body).unwrap();
    let mut root = Value::Object(Map::new());
    for (key, value) in pairs {
        let mut segments: Vec<String> = Vec::new();
        let (head, mut rest) = key
            .split_once('[')
            .map_or((key.as_str(), ""), |(h, r)| (h, r));
        segments.push(head.to_string());
        while !rest.is_empty() {
            let (inside, after) = rest.split_once(']').unwrap_or((rest, ""));
            segments.push(inside.to_string());
            rest = after.strip_prefix('[').unwrap_or(after);
        }
        let mut at = &mut root;
        let last = segments.len() - 1;
        for (i, segment) in segments.iter().enumerate() {
            let map = at
                .as_object_mut()
                .expect("a form key used as a value and a map");
            // `a[]` appends: number it after what is there.
            let name = if segment.is_empty() {
                map.len().to_string()
            } else {
                segment.clone()
            };
            if i == last {
                map.insert(name, Value::String(value.clone()));
                break;
            }
            at = map.entry(name).or_insert_with(|| Value::Object(Map::new()));
        }
    }
    arrays_from_indices(root)
}

fn arrays_from_indices(value: Value) -> Value {
    match value {
        Value::Object(map) => {
            let indexed = !map.is_empty() && map.keys().all(|k| k.parse::<usize>().is_ok());
            let mut entries: Vec<(String, Value)> = map
                .into_iter()
                .map(|(k, v)| (k, arrays_from_indices(v)))
                .collect();
            if indexed {
                entries.sort_by_key(|(k, _)| k.parse::<usize>().unwrap());
                Value::Array(entries.into_iter().map(|(_, v)| v).collect())
            } else {
                Value::Object(entries.into_iter().collect())
            }
        }
        other => other,
    }
}

/// The part of JSON Schema (as OpenAPI 3.0 uses it) that says what a request may hold. In a form
/// body every value is a string: a number or a boolean is checked as the text Stripe parses.
struct Checker<'a> {
    doc: &'a Value,
    form: bool,
}

impl Checker<'_> {
    fn check(
        &self,
        schema: &Value,
        value: &Value,
        at: &str,
        problems: &mut Vec<String>,
        depth: usize,
    ) {
        self.check_part(schema, value, at, problems, depth, true)
    }

    /// `whole`: the schema is all there is of the value (not one part of an `allOf`), so a field
    /// none of its parts lists is reported here.
    fn check_part(
        &self,
        schema: &Value,
        value: &Value,
        at: &str,
        problems: &mut Vec<String>,
        depth: usize,
        whole: bool,
    ) {
        assert!(depth < 64, "schema nesting too deep at {at}");
        let schema = resolve(self.doc, schema);
        if value.is_null() && schema["nullable"] == Value::Bool(true) {
            return;
        }
        if let Some(all) = schema["allOf"].as_array() {
            for part in all {
                self.check_part(part, value, at, problems, depth + 1, false);
            }
        }
        // oneOf is read as anyOf: the documents' branches overlap (a string or an enum of "").
        for key in ["anyOf", "oneOf"] {
            if let Some(branches) = schema[key].as_array() {
                let mut best: Option<Vec<String>> = None;
                for branch in branches {
                    let mut found = Vec::new();
                    self.check(branch, value, at, &mut found, depth + 1);
                    if found.is_empty() {
                        best = Some(Vec::new());
                        break;
                    }
                    if best.as_ref().is_none_or(|b| found.len() < b.len()) {
                        best = Some(found);
                    }
                }
                if let Some(found) = best.filter(|b| !b.is_empty()) {
                    problems.push(format!(
                        "{at}: fits none of the {key} choices, nearest: {}",
                        found.join("; ")
                    ));
                }
            }
        }
        if let Some(kind) = schema["type"].as_str() {
            if !self.is_type(kind, value) {
                problems.push(format!("{at}: {value} is not of type {kind}"));
                return;
            }
        }
        if let Some(choices) = schema["enum"].as_array() {
            if !choices.iter().any(|c| self.same(c, value)) {
                problems.push(format!(
                    "{at}: {value} is not one of {}",
                    Value::Array(choices.clone())
                ));
            }
        }
        if let Some(text) = value.as_str() {
            let length = text.chars().count() as u64;
            if let Some(max) = schema["maxLength"].as_u64() {
                if length > max {
                    problems.push(format!("{at}: {length} characters, at most {max} allowed"));
                }
            }
            if let Some(min) = schema["minLength"].as_u64() {
                if length < min {
                    problems.push(format!("{at}: {length} characters, at least {min} needed"));
                }
            }
            if let Some(pattern) = schema["pattern"].as_str() {
                // A pattern this engine cannot read (Unicode classes) is left unchecked.
                if let Ok(re) = regex_lite::Regex::new(pattern) {
                    if !re.is_match(text) {
                        problems.push(format!("{at}: {text:?} does not match {pattern}"));
                    }
                }
            }
        }
        if let Some(number) = self.number(value) {
            if let Some(max) = schema["maximum"].as_f64() {
                if number > max {
                    problems.push(format!("{at}: {number} is over the maximum {max}"));
                }
            }
            if let Some(min) = schema["minimum"].as_f64() {
                if number < min {
                    problems.push(format!("{at}: {number} is under the minimum {min}"));
                }
            }
        }
        if let Value::Object(map) = value {
            self.check_object(schema, map, at, problems, depth, whole);
        }
        if let Value::Array(items) = value {
            if let Some(max) = schema["maxItems"].as_u64() {
                if items.len() as u64 > max {
                    problems.push(format!(
                        "{at}: {} items, at most {max} allowed",
                        items.len()
                    ));
                }
            }
            if let Some(min) = schema["minItems"].as_u64() {
                if (items.len() as u64) < min {
                    problems.push(format!(
                        "{at}: {} items, at least {min} needed",
                        items.len()
                    ));
                }
            }
            if let Some(item) = schema.get("items") {
                for (i, v) in items.iter().enumerate() {
                    self.check(item, v, &format!("{at}[{i}]"), problems, depth + 1);
                }
            }
        }
    }

    fn check_object(
        &self,
        schema: &Value,
        map: &Map<String, Value>,
        at: &str,
        problems: &mut Vec<String>,
        depth: usize,
        whole: bool,
    ) {
        for name in schema["required"].as_array().into_iter().flatten() {
            let name = name.as_str().unwrap_or_default();
            if !map.contains_key(name) {
                problems.push(format!("{at}: the required field {name} is missing"));
            }
        }
        let properties = schema["properties"].as_object();
        for (name, v) in map {
            let here = format!("{at}.{name}");
            match properties.and_then(|p| p.get(name)) {
                Some(property) => {
                    if resolve(self.doc, property)["readOnly"] == Value::Bool(true) {
                        problems.push(format!("{here}: read-only, set by the provider"));
                    }
                    self.check(property, v, &here, problems, depth + 1);
                }
                None => match &schema["additionalProperties"] {
                    Value::Object(extra) => {
                        self.check(&Value::Object(extra.clone()), v, &here, problems, depth + 1)
                    }
                    Value::Bool(true) => {}
                    // A schema that lists its fields and is silent on others: a field that none
                    // of its parts lists is one the provider does not read.
                    _ if whole
                        && self
                            .listed(schema)
                            .is_some_and(|listed| !listed.contains(name)) =>
                    {
                        problems.push(format!("{here}: not a field the document lists"))
                    }
                    _ => {}
                },
            }
        }
    }

    /// The fields a schema and its `allOf` parts list; `None` where one of them takes any.
    fn listed(&self, schema: &Value) -> Option<std::collections::BTreeSet<String>> {
        let schema = resolve(self.doc, schema);
        if matches!(
            schema["additionalProperties"],
            Value::Object(_) | Value::Bool(true)
        ) {
            return None;
        }
        let mut listed: std::collections::BTreeSet<String> = schema["properties"]
            .as_object()
            .map(|p| p.keys().cloned().collect())
            .unwrap_or_default();
        for part in schema["allOf"].as_array().into_iter().flatten() {
            listed.extend(self.listed(part)?);
        }
        (!listed.is_empty()).then_some(listed)
    }

    fn is_type(&self, kind: &str, value: &Value) -> bool {
        match (kind, value) {
            ("object", Value::Object(_)) | ("array", Value::Array(_)) => true,
            ("string", Value::String(_)) => true,
            ("boolean", Value::Bool(_)) => true,
            ("boolean", Value::String(s)) => self.form && (s == "true" || s == "false"),
            ("integer", Value::Number(n)) => n.is_i64() || n.is_u64(),
            ("integer", Value::String(s)) => self.form && s.parse::<i64>().is_ok(),
            ("number", Value::Number(_)) => true,
            ("number", Value::String(s)) => self.form && s.parse::<f64>().is_ok(),
            _ => false,
        }
    }

    fn number(&self, value: &Value) -> Option<f64> {
        match value {
            Value::Number(n) => n.as_f64(),
            Value::String(s) if self.form => s.parse().ok(),
            _ => None,
        }
    }

    fn same(&self, choice: &Value, value: &Value) -> bool {
        match (choice, value) {
            (a, b) if a == b => true,
            (Value::String(_), _) => false,
            (a, Value::String(s)) => self.form && s.as_str() == a.to_string().as_str(),
            _ => false,
        }
    }
}

#[test]
fn form_bodies_become_the_values_they_stand_for() {
    let value = form_value(
        "mode=payment&line_items[0][quantity]=2&line_items[0][price_data][currency]=usd\
         &line_items[1][quantity]=1&metadata[attempt]=ORD-1&expand[]=a&expand[]=b",
    );
    assert_eq!(
        value,
        serde_json::json!({
            "mode": "payment",
            "line_items": [
                {"quantity": "2", "price_data": {"currency": "usd"}},
                {"quantity": "1"},
            ],
            "metadata": {"attempt": "ORD-1"},
            "expand": ["a", "b"],
        })
    );
}

#[test]
fn the_checker_finds_what_a_schema_refuses() {
    let doc = serde_json::json!({"components": {"schemas": {"Amount": {
        "type": "object", "required": ["currency_code", "value"],
        "properties": {
            "currency_code": {"type": "string", "minLength": 3, "maxLength": 3},
            "value": {"type": "string", "pattern": "^[0-9]+(\\.[0-9]{1,2})?$"},
            "id": {"type": "string", "readOnly": true},
            "kind": {"type": "string", "enum": ["A", "B"]},
            "count": {"type": "integer", "maximum": 10},
        },
    }}}});
    let schema = serde_json::json!({"$ref": "#/components/schemas/Amount"});
    let problems = |value: Value, form: bool| {
        let mut found = Vec::new();
        Checker { doc: &doc, form }.check(&schema, &value, "body", &mut found, 0);
        found
    };
    let fine =
        serde_json::json!({"currency_code": "USD", "value": "18.00", "kind": "A", "count": 3});
    assert_eq!(problems(fine, false), Vec::<String>::new());
    let wrong = serde_json::json!({"currency_code": "US", "value": "18.001", "id": "x", "kind": "C",
        "count": 11, "extra": 1});
    let found = problems(wrong, false);
    assert_eq!(found.len(), 6, "{found:#?}");
    assert_eq!(
        problems(serde_json::json!({"value": "1"}), false),
        vec!["body: the required field currency_code is missing".to_string()]
    );
    // In a form every value is text: "3" is an integer there, never in JSON.
    let counted = serde_json::json!({"currency_code": "USD", "value": "1", "count": "3"});
    assert!(problems(counted.clone(), true).is_empty());
    assert_eq!(problems(counted, false).len(), 1);
}
