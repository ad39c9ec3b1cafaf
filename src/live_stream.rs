//! The one way this shop answers with Server-Sent Events. Every stream ends when the instance
//! stops (SIGTERM): its last message is a `retry:` hint, so the browser's `EventSource` comes back
//! after a moment — to another instance behind the load balancer — instead of the shutdown
//! waiting forever on a stream that never ends.

use app::server::state::AppState;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures_util::stream::{self, Stream, StreamExt};
use std::convert::Infallible;
use std::time::Duration;

/// How often an idle stream sends a comment, so proxies keep it open.
const KEEP_ALIVE: Duration = Duration::from_secs(15);
/// How long a browser waits before reconnecting after the instance said goodbye.
pub const RECONNECT_AFTER: Duration = Duration::from_secs(2);

/// `events` as a Server-Sent Events response that ends, with a reconnect hint, on shutdown.
pub fn sse<S>(state: &AppState, events: S) -> Response
where
    S: Stream<Item = Result<Event, Infallible>> + Send + 'static,
{
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
