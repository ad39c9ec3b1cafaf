//! The one way this shop answers with Server-Sent Events. Every stream ends when the instance
//! stops (SIGTERM): its last message is a `retry:` hint, so the browser's `EventSource` comes back
//! after a moment — to another instance behind the load balancer — instead of the shutdown
//! waiting forever on a stream that never ends.

use app::server::limits::{StreamLimits, StreamSlot};
use app::server::state::AppState;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures_util::stream::{self, Stream, StreamExt};
use std::convert::Infallible;
use std::net::IpAddr;
use std::time::Duration;
use tower_sessions::Session;

/// How often an idle stream sends a comment, so proxies keep it open.
const KEEP_ALIVE: Duration = Duration::from_secs(15);
/// How long a browser waits before reconnecting after the instance said goodbye.
pub const RECONNECT_AFTER: Duration = Duration::from_secs(2);

/// How long a browser refused a stream (too many open) waits before it tries again.
const RETRY_REFUSED_AFTER: Duration = Duration::from_secs(30);

/// A place for one more stream for this session and client address, or `None` when too many
/// are open (per session, per address or on this instance; `app::server::limits`): answer
/// [`too_many`] then.
pub fn admit(state: &AppState, session: &Session, client: IpAddr) -> Option<StreamSlot> {
    let session = session.id().map(|id| id.to_string());
    let slot = StreamLimits::open(&state.limits, session, client);
    if slot.is_none() {
        tracing::warn!(client = %client, "live stream refused: too many open");
    }
    slot
}

/// The answer to a stream refused by [`admit`]. A browser's `EventSource` (it asks for
/// `text/event-stream`) treats any status but 200 as final and would never come back, so it gets a
/// 200 that says only `retry:` and ends: it reconnects after [`RETRY_REFUSED_AFTER`]. Anything else
/// gets a plain 429 with `Retry-After`.
pub fn too_many(headers: &HeaderMap) -> Response {
    let event_source = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("text/event-stream"));
    let body = format!(
        "retry: {}\n: too many live streams are open; try again later\n\n",
        RETRY_REFUSED_AFTER.as_millis()
    );
    let status = if event_source {
        StatusCode::OK
    } else {
        StatusCode::TOO_MANY_REQUESTS
    };
    (
        status,
        [
            (header::CONTENT_TYPE, "text/event-stream".to_string()),
            (
                header::RETRY_AFTER,
                RETRY_REFUSED_AFTER.as_secs().to_string(),
            ),
        ],
        body,
    )
        .into_response()
}

/// `events` as a Server-Sent Events response that ends, with a reconnect hint, on shutdown; the
/// stream's place (`slot`) is given back when it ends.
pub fn sse<S>(state: &AppState, slot: StreamSlot, events: S) -> Response
where
    S: Stream<Item = Result<Event, Infallible>> + Send + 'static,
{
    let events = events.map(move |event| {
        let _held = &slot;
        event
    });
    let background = state.background.clone();
    let stopping = async move { background.stopped().await };
    let goodbye = stream::once(async {
        Ok(Event::default()
            .retry(RECONNECT_AFTER)
            .comment("this instance is stopping; reconnect"))
    });
    Sse::new(events.take_until(stopping).chain(goodbye))
        .keep_alive(KeepAlive::new().interval(KEEP_ALIVE))
        .into_response()
}
