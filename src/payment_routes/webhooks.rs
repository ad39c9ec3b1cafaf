//! `POST /webhooks/{provider}`: the HTTP edge of the webhook intake
//! (`services::webhook_intake`, which stores, verifies and applies the delivery).

use app::server::client_addr::ClientAddr;
use app::server::services::webhook_intake::{self, Answer};
use app::server::state::AppState;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

pub use webhook_intake::MAX_BODY;

pub async fn receive(
    State(state): State<AppState>,
    ClientAddr(client): ClientAddr,
    Path(provider): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    match webhook_intake::receive(&state, &provider, client, &headers, &body).await {
        Answer::UnknownProvider => (StatusCode::NOT_FOUND, "unknown provider").into_response(),
        Answer::NotVerified => (StatusCode::BAD_REQUEST, "webhook not verified").into_response(),
        Answer::TooMany => (
            StatusCode::TOO_MANY_REQUESTS,
            [(header::RETRY_AFTER, "60")],
            "too many unverified webhooks",
        )
            .into_response(),
        Answer::Acknowledged(ack) => (StatusCode::OK, ack).into_response(),
        Answer::TryAgain(why) => (StatusCode::SERVICE_UNAVAILABLE, why).into_response(),
        Answer::Failed => (StatusCode::INTERNAL_SERVER_ERROR, "try again").into_response(),
    }
}
