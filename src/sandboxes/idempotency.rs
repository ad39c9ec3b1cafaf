//! The sandboxes' one idempotency implementation: a key is claimed before the request acts, and
//! the reply is stored under it when the request is done, so that a repeat gets the first reply,
//! a twin still in progress is told so, and (where the provider does this) the same key with
//! another request is refused.
//!
//! Providers differ in two rules, written down in [`Rules`] with the provider's documentation as
//! the source:
//!
//! | provider | key | compares the request | keeps a 5xx reply |
//! |---|---|---|---|
//! | Stripe | `Idempotency-Key` header | yes (`idempotency_error`) | yes: "including 500 errors" |
//! | PayPal | `PayPal-Request-Id` header | no: "a replay returns the original result" | no |
//! | Square | `idempotency_key` in the body | yes (`IDEMPOTENCY_KEY_REUSED`) | no |
//!
//! Sources: Stripe's API reference, "Idempotent requests"; PayPal's REST API reference,
//! "PayPal-Request-Id" (and the doc comments of its server SDKs); Square's "Idempotency" guide.
//! PayPal and Square say nothing of server errors; a reply that is not kept lets the next try act
//! again, which is what their SDKs' retries expect. Alipay, SSLCOMMERZ, Braintree and
//! Authorize.Net have no idempotency key (their merchant references are unique instead).
//!
//! How a repeat is answered (status, error body, headers) is each provider's dialect
//! ([`Keyed::repeat`]); [`once`] is the one path a keyed request takes.

use super::dialect::{Dialect, Refusal, Reply};
use super::store::{self, Claim, SandboxObject};
use app::server::db::Db;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::Value;
use sha2::{Digest, Sha256};
use sqlx::AnyConnection;

/// One provider's idempotency rules.
#[derive(Debug)]
pub struct Rules {
    /// The provider's name in the store.
    pub provider: &'static str,
    /// The prefix of its records' ids.
    pub prefix: &'static str,
    /// Whether a repeated key with a different request is refused ([`Repeat::OtherRequest`]).
    pub compares_request: bool,
    /// Whether a 5xx reply is stored and replayed; if not, the claim is given back and the next
    /// try acts again.
    pub keeps_server_errors: bool,
}

pub const STRIPE: Rules = Rules {
    provider: "stripe",
    prefix: "idem",
    compares_request: true,
    keeps_server_errors: true,
};

pub const PAYPAL: Rules = Rules {
    provider: "paypal",
    prefix: "pp-idem",
    compares_request: false,
    keeps_server_errors: false,
};

pub const SQUARE: Rules = Rules {
    provider: "square",
    prefix: "sq-idem",
    compares_request: true,
    keeps_server_errors: false,
};

/// What a repeated key gets instead of acting.
#[derive(Debug)]
pub enum Repeat {
    /// The first request's reply, to send again.
    Replay { status: StatusCode, body: Value },
    /// The first request with this key is still being worked on.
    InProgress,
    /// The key was first used with another request.
    OtherRequest,
}

/// A provider whose requests may carry an idempotency key: its rules, and its words for a repeat.
pub trait Keyed: Dialect<Body = Json<Value>> {
    const RULES: &'static Rules;
    /// What a repeated key gets instead of acting.
    fn repeat(repeat: Repeat) -> Response;
    /// The answer to a request that acted (Stripe adds a request id).
    fn answer(status: StatusCode, body: Value) -> Response {
        (status, Json(body)).into_response()
    }
}

/// Act once per key: claim `key` (when the request has one; already scoped by the caller where
/// the provider scopes keys, e.g. per endpoint), run `act`, and keep its reply under the key, so
/// that a repeat gets [`Keyed::repeat`] instead. In `tx` (the claim, the work and the reply in one
/// commit: a refusal is kept, but a server error returns at once and the caller does not commit),
/// or without one in write transactions of their own (every reply is kept as the rules say).
pub async fn once<P: Keyed>(
    db: &Db,
    mut tx: Option<&mut AnyConnection>,
    key: Option<&str>,
    request: &[u8],
    act: impl AsyncFnOnce(Option<&mut AnyConnection>) -> Result<(StatusCode, Value), Refusal<P>>,
) -> Reply<P> {
    let rules = P::RULES;
    let record_id = match key {
        Some(key) => {
            let id = format!("{}:{}", rules.prefix, hex::encode(Sha256::digest(key)));
            let fingerprint = hex::encode(Sha256::digest(request));
            let claim = async |conn: &mut AnyConnection| {
                store::claim(conn, rules.provider, &id, key, &fingerprint).await
            };
            match store::within(db, tx.as_deref_mut(), claim).await? {
                Claim::Claimed => Some(id),
                Claim::Taken(None) => return Err(sqlx::Error::RowNotFound.into()),
                Claim::Taken(Some(first)) => {
                    return Ok(P::repeat(repeat(rules, first, &fingerprint)))
                }
            }
        }
        None => None,
    };
    let (status, body) = match act(tx.as_deref_mut()).await {
        Ok(reply) => reply,
        Err(failed) if tx.is_some() && failed.status.is_server_error() => return Err(failed),
        Err(refused) => (refused.status, refused.body.0),
    };
    if let Some(id) = record_id {
        // The reply is kept under the key, or the key given back (a 5xx the provider does not keep).
        let keep = !status.is_server_error() || rules.keeps_server_errors;
        let (code, data) = (i64::from(status.as_u16()), body.to_string());
        let finish = async |conn: &mut AnyConnection| {
            if keep {
                store::update(conn, &id, code, &data, None).await?;
                Ok(())
            } else {
                store::delete(conn, &id).await
            }
        };
        store::within(db, tx, finish).await?;
    }
    Ok(P::answer(status, body))
}

/// What a repeated key gets: the first request's record tells.
fn repeat(rules: &Rules, first: SandboxObject, fingerprint: &str) -> Repeat {
    if rules.compares_request && first.fingerprint != fingerprint {
        Repeat::OtherRequest
    } else if first.status_code == 0 {
        Repeat::InProgress
    } else {
        Repeat::Replay {
            status: StatusCode::from_u16(first.status_code as u16).unwrap_or(StatusCode::OK),
            body: serde_json::from_str(&first.data).unwrap_or(Value::Null),
        }
    }
}
