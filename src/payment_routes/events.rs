//! `GET /events/orders/{reference}`: Server-Sent Events with the order's status, first as it is
//! now and then on every change, for the owner (session or guest link) or a merchant.

use super::status::KeyQuery;
use app::server::auth::ShopSession;
use app::server::client_addr::ClientAddr;
use app::server::services::orders::{self, Viewer};
use app::server::state::AppState;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::sse::Event;
use axum::response::{IntoResponse, Response};
use futures_util::stream::{self, StreamExt};
use std::convert::Infallible;
use tokio_stream::wrappers::BroadcastStream;
use tower_sessions::Session;

pub async fn order_stream(
    State(state): State<AppState>,
    ClientAddr(client): ClientAddr,
    headers: axum::http::HeaderMap,
    session: Session,
    Path(reference): Path<String>,
    Query(query): Query<KeyQuery>,
) -> Response {
    let Some(slot) = crate::live_stream::admit(&state, &session, client) else {
        return crate::live_stream::too_many(&headers);
    };
    // Listen before reading, so a change between the two is not missed.
    let changes = BroadcastStream::new(state.events.subscribe());
    let session = ShopSession(session);
    let viewer = Viewer {
        session: &session,
        key: query.key.as_deref(),
    };
    let order = match orders::visible(&state.db, &viewer, &reference).await {
        Ok(Some(order)) => order,
        Ok(None) => return StatusCode::NOT_FOUND.into_response(),
        Err(e) => {
            tracing::error!(error = %e, "order stream failed");
            return StatusCode::INTERNAL_SERVER_ERROR.into_response();
        }
    };
    let now = match orders::status(&state.db, &order).await {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(error = %e, "order stream failed");
            return StatusCode::INTERNAL_SERVER_ERROR.into_response();
        }
    };
    let to_event = |status: &app::model::OrderStatusJson| {
        Event::default()
            .event("status")
            .json_data(status)
            .unwrap_or_else(|_| Event::default().comment("unencodable"))
    };
    let first = stream::once(std::future::ready(Ok::<_, Infallible>(to_event(&now))));
    let reference_owned = reference.clone();
    let later = changes.filter_map(move |message| {
        let event = match message {
            Ok(status) if status.reference == reference_owned => Some(Ok(to_event(&status))),
            Ok(_) => None,
            // Fell behind: tell the page to re-read rather than guess.
            Err(_) => Some(Ok(Event::default().event("resync").data("{}"))),
        };
        std::future::ready(event)
    });
    crate::live_stream::sse(&state, slot, first.chain(later))
}
