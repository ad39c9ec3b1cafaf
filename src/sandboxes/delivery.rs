//! How the sandboxes deliver webhooks and IPNs to the shop: in the background, retried with
//! back-off until acknowledged with a 2xx, and, for tests, delayed, duplicated, reordered or never.

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

pub const DELAY: Duration = Duration::from_secs(3);
const COPIES: usize = 5;
const MAX_TRIES: u32 = 8;

impl DeliveryPlan {
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
}

/// Deliver `messages` in the background according to `plan`.
pub fn spawn(http: reqwest::Client, mut messages: Vec<Message>, plan: DeliveryPlan) {
    if plan == DeliveryPlan::Never {
        tracing::info!(
            count = messages.len(),
            "sandbox: webhooks withheld (test control)"
        );
        return;
    }
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
            Ok(response) if response.status().is_success() => return,
            Ok(response) => tracing::warn!(
                url = %message.url, status = %response.status(), attempt,
                "sandbox: webhook not acknowledged; will retry"
            ),
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
