//! How the sandboxes deliver webhooks and IPNs to the shop: in the background, retried with
//! back-off until acknowledged with a 2xx (for Alipay, with the body `success` too), and, for
//! tests, delayed, duplicated, reordered or never.

use super::Sandbox;
use std::collections::HashMap;
use std::time::Duration;

/// A test control chosen on a sandbox's hosted page (`webhook=` form field).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DeliveryPlan {
    /// Sent at once, in order, retried until acknowledged.
    #[default]
    Normal,
    /// Sent after [`DELAY`].
    Delayed,
    /// Each message sent five times at once.
    Duplicated,
    /// The messages of one payment sent last-first.
    Reordered,
    /// Never sent: only a lookup (the return, the reconciler) can find out.
    Never,
}

const DELAY: Duration = Duration::from_secs(3);
const COPIES: usize = 5;
const MAX_TRIES: u32 = 8;

impl DeliveryPlan {
    /// The plan chosen on a hosted page's form (`webhook=`).
    pub fn chosen(form: &HashMap<String, String>) -> DeliveryPlan {
        DeliveryPlan::parse(form.get("webhook").map(String::as_str))
    }

    pub fn parse(value: Option<&str>) -> DeliveryPlan {
        match value.unwrap_or("") {
            "delayed" => DeliveryPlan::Delayed,
            "duplicated" => DeliveryPlan::Duplicated,
            "reordered" => DeliveryPlan::Reordered,
            "never" => DeliveryPlan::Never,
            _ => DeliveryPlan::Normal,
        }
    }
}

/// One message to deliver.
#[derive(Debug, Clone)]
pub struct Message {
    pub url: String,
    pub content_type: &'static str,
    pub headers: Vec<(&'static str, String)>,
    pub body: Vec<u8>,
    /// The body the answer must have besides a 2xx status, if any (Alipay's `success`).
    pub answer: Option<&'static str>,
}

impl Message {
    pub fn new(url: String, content_type: &'static str, body: impl Into<Vec<u8>>) -> Message {
        Message {
            url,
            content_type,
            headers: Vec::new(),
            body: body.into(),
            answer: None,
        }
    }

    pub fn header(mut self, name: &'static str, value: impl Into<String>) -> Message {
        self.headers.push((name, value.into()));
        self
    }

    /// Acknowledged only by a 2xx whose body is exactly `answer`; anything else is sent again.
    pub fn answered_by(mut self, answer: &'static str) -> Message {
        self.answer = Some(answer);
        self
    }
}

/// Deliver `messages` in the background according to `plan`.
pub fn spawn(state: &Sandbox, mut messages: Vec<Message>, plan: DeliveryPlan) {
    if plan == DeliveryPlan::Never {
        tracing::info!(
            count = messages.len(),
            "sandbox: webhooks withheld (test control)"
        );
        return;
    }
    let http = state.http.clone();
    tokio::spawn(async move {
        match plan {
            DeliveryPlan::Delayed => tokio::time::sleep(DELAY).await,
            DeliveryPlan::Reordered => messages.reverse(),
            _ => {}
        }
        for message in messages {
            if plan == DeliveryPlan::Duplicated {
                let copies = (0..COPIES).map(|_| send_until_acknowledged(&http, &message));
                futures_util::future::join_all(copies).await;
            } else {
                send_until_acknowledged(&http, &message).await;
            }
        }
    });
}

async fn send_until_acknowledged(http: &reqwest::Client, message: &Message) {
    let mut wait = Duration::from_millis(250);
    for attempt in 1..=MAX_TRIES {
        let mut request = http
            .post(&message.url)
            .header("content-type", message.content_type)
            .body(message.body.clone());
        for (name, value) in &message.headers {
            request = request.header(*name, value);
        }
        match request.send().await {
            Ok(response) => {
                let status = response.status();
                let answered = match message.answer {
                    None => true,
                    Some(answer) => response
                        .bytes()
                        .await
                        .is_ok_and(|body| body == answer.as_bytes()),
                };
                if status.is_success() && answered {
                    return;
                }
                tracing::warn!(
                    url = %message.url, %status, attempt,
                    "sandbox: webhook not acknowledged; will retry"
                );
            }
            Err(e) => tracing::warn!(
                url = %message.url, error = %e.without_url(), attempt,
                "sandbox: webhook delivery failed; will retry"
            ),
        }
        tokio::time::sleep(wait).await;
        wait = (wait * 2).min(Duration::from_secs(10));
    }
    tracing::error!(url = %message.url, "sandbox: gave up delivering a webhook");
}
