//! The order lists' plain routes: the live streams of the customer's history and the merchant's
//! list, and the merchant's CSV export. Each checks who asks before it reads anything; anyone
//! else gets a 404 and no data.

use crate::live_stream::{admit, sse};
use app::model::OrderListQuery;
use app::server::auth::ShopSession;
use app::server::client_addr::ClientAddr;
use app::server::services::order_export;
use app::server::services::order_search::{filter, is_merchant, Lister};
use app::server::state::AppState;
use axum::body::Body;
use axum::extract::{Query, State};
use axum::http::{header, StatusCode};
use axum::response::sse::Event;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use futures_util::StreamExt;
use tokio_stream::wrappers::{BroadcastStream, ReceiverStream};
use tower_sessions::Session;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/events/account/orders", get(history_stream))
        .route("/events/admin/orders", get(admin_stream))
        .route("/admin/orders.csv", get(export_csv))
}

fn failed(e: impl std::fmt::Display) -> Response {
    tracing::error!(error = %e, "order list route failed");
    StatusCode::INTERNAL_SERVER_ERROR.into_response()
}

fn status_event(status: &app::model::OrderStatusJson) -> Event {
    Event::default()
        .event("status")
        .json_data(status)
        .unwrap_or_else(|_| Event::default().comment("unencodable"))
}

/// `GET /events/account/orders`: status changes of the logged-in customer's own orders only. Each
/// change carries its order's owner, so a shop-wide event costs each open stream a comparison, not
/// a query.
async fn history_stream(
    State(state): State<AppState>,
    ClientAddr(client): ClientAddr,
    headers: axum::http::HeaderMap,
    session: Session,
) -> Response {
    let changes = BroadcastStream::new(state.events.subscribe());
    let user_id = match ShopSession(session.clone()).user_id().await {
        Ok(Some(id)) => id,
        Ok(None) => return StatusCode::NOT_FOUND.into_response(),
        Err(e) => return failed(e),
    };
    let Some(slot) = admit(&state, &session, client) else {
        return crate::live_stream::too_many(&headers);
    };
    let events = changes.filter_map(move |message| {
        std::future::ready(match message {
            Ok(status) => (status.owner == Some(user_id)).then(|| Ok(status_event(&status))),
            // Fell behind: the page may re-read.
            Err(_) => Some(Ok(Event::default().event("resync").data("{}"))),
        })
    });
    sse(&state, slot, events)
}

async fn merchant(state: &AppState, session: Session) -> Result<(), Response> {
    let user_id = ShopSession(session).user_id().await.map_err(failed)?;
    match is_merchant(&state.db, user_id).await {
        Ok(true) => Ok(()),
        Ok(false) => Err(StatusCode::NOT_FOUND.into_response()),
        Err(e) => Err(failed(e)),
    }
}

/// `GET /events/admin/orders`: every new order and status change, for merchants.
async fn admin_stream(
    State(state): State<AppState>,
    ClientAddr(client): ClientAddr,
    headers: axum::http::HeaderMap,
    session: Session,
) -> Response {
    let changes = BroadcastStream::new(state.events.subscribe());
    if let Err(refused) = merchant(&state, session.clone()).await {
        return refused;
    }
    let Some(slot) = admit(&state, &session, client) else {
        return crate::live_stream::too_many(&headers);
    };
    let events = changes.map(|message| {
        Ok(match message {
            Ok(status) => status_event(&status),
            Err(_) => Event::default().event("resync").data("{}"),
        })
    });
    sse(&state, slot, events)
}

/// `GET /admin/orders.csv?status=…`: the filtered orders as CSV, streamed.
async fn export_csv(
    State(state): State<AppState>,
    session: Session,
    Query(query): Query<OrderListQuery>,
) -> Response {
    if let Err(refused) = merchant(&state, session).await {
        return refused;
    }
    let parsed = match state.db.pool.acquire().await {
        Ok(mut conn) => filter(&mut conn, &query, Lister::Merchant).await,
        Err(e) => return failed(e),
    };
    let filter = match parsed {
        Ok(filter) => filter,
        Err(app::server::error::ServerError::User(e)) => {
            return (StatusCode::BAD_REQUEST, e.to_string()).into_response()
        }
        Err(e) => return failed(e),
    };
    let chunks = ReceiverStream::new(order_export::stream(&state.db, filter));
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"orders.csv\"",
            ),
            (header::CACHE_CONTROL, "no-store"),
        ],
        Body::from_stream(chunks),
    )
        .into_response()
}
