//! `GET /api/orders/{reference}/status`: the order's status as JSON for its owner (session or guest
//! link `?key=`) or a merchant; 404 for anyone else.

use app::server::auth::ShopSession;
use app::server::services::orders::{self, Viewer};
use app::server::state::AppState;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use tower_sessions::Session;

#[derive(Deserialize)]
pub struct KeyQuery {
    pub key: Option<String>,
}

pub async fn order_status(
    State(state): State<AppState>,
    session: Session,
    Path(reference): Path<String>,
    Query(query): Query<KeyQuery>,
) -> Response {
    let session = ShopSession(session);
    let viewer = Viewer {
        session: &session,
        key: query.key.as_deref(),
    };
    let found = match orders::visible(&state.db, &viewer, &reference).await {
        Ok(found) => found,
        Err(e) => {
            tracing::error!(error = %e, "order status failed");
            return StatusCode::INTERNAL_SERVER_ERROR.into_response();
        }
    };
    let Some(order) = found else {
        return (
            StatusCode::NOT_FOUND,
            Json(serde_json::json!({"error": "not found"})),
        )
            .into_response();
    };
    match orders::status(&state.db, &order).await {
        Ok(status) => Json(status).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "order status failed");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}
