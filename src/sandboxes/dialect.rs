//! How each sandbox says no. A provider refuses a request in its own envelope and status (Stripe's
//! `{"error": {…}}`, PayPal's `name`/`details[]`, Square's `errors[]`, Braintree's XML, Alipay's
//! signed answers…), and answers its own way when something breaks inside. A handler returns
//! [`Reply<P>`] for its provider `P`: it refuses with `Err(…)` in `P`'s words, and `?` on a store
//! error gives `P`'s internal error (logged with its cause).

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

/// One provider's way of refusing.
pub trait Dialect: Sized + 'static {
    /// The sandbox's name in the log.
    const NAME: &'static str;
    /// What a refusal carries besides its status: a JSON error body (`Json<Value>`), or a whole
    /// answer (a page, a signed document).
    type Body: IntoResponse;
    /// The provider's answer when the sandbox fails inside.
    fn internal() -> Refusal<Self>;
}

/// A refused request (or one the sandbox failed), in provider `P`'s dialect. (Its body is boxed:
/// handlers pass refusals up with `?`, and a whole `Response` is large.)
pub struct Refusal<P: Dialect> {
    pub status: StatusCode,
    pub body: Box<P::Body>,
}

/// What a handler of provider `P` answers.
pub type Reply<P> = Result<Response, Refusal<P>>;

impl<P: Dialect> Refusal<P> {
    pub fn new(status: StatusCode, body: P::Body) -> Refusal<P> {
        Refusal {
            status,
            body: Box::new(body),
        }
    }

    /// `P`'s internal error, with its cause in the log.
    pub fn internal(cause: impl std::fmt::Display) -> Refusal<P> {
        tracing::error!(error = %cause, "{} sandbox failed", P::NAME);
        P::internal()
    }
}

impl<P: Dialect> From<sqlx::Error> for Refusal<P> {
    fn from(e: sqlx::Error) -> Refusal<P> {
        Refusal::internal(e)
    }
}

/// A whole answer (a page, a signed refusal) as a refusal, for dialects whose refusals are answers.
impl<P: Dialect<Body = Response>> From<Response> for Refusal<P> {
    fn from(response: Response) -> Refusal<P> {
        Refusal::new(response.status(), response)
    }
}

impl<P: Dialect> IntoResponse for Refusal<P> {
    fn into_response(self) -> Response {
        (self.status, *self.body).into_response()
    }
}

/// The internal error of a provider whose API has no envelope for one: a plain 500.
pub fn plain_internal<P: Dialect<Body = Response>>() -> Refusal<P> {
    (StatusCode::INTERNAL_SERVER_ERROR, "sandbox error")
        .into_response()
        .into()
}
