//! A size limit on request bodies sent to the server functions (`/api/…`): a form or JSON body
//! there is small, so anything over [`API_BODY_LIMIT`] is answered `413 Payload Too Large` before a
//! server function reads it, whether or not the client announced its length. (Without this, axum's
//! 2 MB default applied: a 1 MB form was read and run, and a bigger one was a 500.)

use axum::body::Body;
use axum::extract::Request;
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use std::time::Duration;

/// The largest body a server function accepts, in bytes.
pub const API_BODY_LIMIT: usize = 64 * 1024;
/// After an unannounced body passes the limit, up to this much more is read and thrown away (for
/// at most [`DRAIN_TIME`]) so the client finishes sending and reads the 413 instead of a reset.
const DRAIN_LIMIT: usize = 1024 * 1024;
const DRAIN_TIME: Duration = Duration::from_secs(2);

pub async fn limit(request: Request, next: Next) -> Response {
    if !request.uri().path().starts_with("/api/") {
        return next.run(request).await;
    }
    let announced = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if announced.is_some_and(|n| n > API_BODY_LIMIT as u64) {
        return too_large(request.uri().path(), false);
    }
    // Read at most the limit (a chunked body has no announced length), then hand the bytes on.
    let (parts, body) = request.into_parts();
    match read_limited(body).await {
        Ok(bytes) => {
            next.run(Request::from_parts(parts, Body::from(bytes)))
                .await
        }
        Err(BodyError::TooLarge { read_all }) => too_large(parts.uri.path(), read_all),
        Err(BodyError::Unreadable(e)) => {
            tracing::debug!(error = %e, "request body not read");
            (
                StatusCode::BAD_REQUEST,
                "The request body could not be read.",
            )
                .into_response()
        }
    }
}

enum BodyError {
    /// Over the limit; `read_all` when the rest of the body was read (and thrown away) anyway.
    TooLarge {
        read_all: bool,
    },
    Unreadable(axum::Error),
}

async fn read_limited(body: Body) -> Result<Vec<u8>, BodyError> {
    let mut stream = body.into_data_stream();
    let mut bytes = Vec::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(BodyError::Unreadable)?;
        if bytes.len() + chunk.len() > API_BODY_LIMIT {
            let drain = async {
                let mut thrown_away = 0;
                while let Some(chunk) = stream.next().await {
                    let Ok(chunk) = chunk else {
                        return false;
                    };
                    thrown_away += chunk.len();
                    if thrown_away > DRAIN_LIMIT {
                        return false;
                    }
                }
                true
            };
            let finished = matches!(tokio::time::timeout(DRAIN_TIME, drain).await, Ok(true));
            return Err(BodyError::TooLarge { read_all: finished });
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(bytes)
}

/// The 413. When the body was not read to its end the connection cannot carry another request,
/// so the answer says `Connection: close` and clients do not reuse it.
fn too_large(path: &str, read_all: bool) -> Response {
    tracing::warn!(
        path,
        limit = API_BODY_LIMIT,
        "refused an oversized request body"
    );
    let mut response = (
        StatusCode::PAYLOAD_TOO_LARGE,
        "Request body too large (the limit is 64 KB).",
    )
        .into_response();
    if !read_all {
        response.headers_mut().insert(
            header::CONNECTION,
            header::HeaderValue::from_static("close"),
        );
    }
    response
}
