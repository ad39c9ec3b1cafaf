//! The catalogue's plain routes, for what a server function's small form body cannot carry:
//! uploading a product photo, importing a catalogue CSV (both multipart), exporting it, and
//! serving the photos' files from `MEDIA_DIR`. Each merchant route checks who asks first; anyone
//! else gets a 404. Every form comes back to its page (303) with what happened kept in the session.

use app::model::FormEcho;
use app::server::auth::ShopSession;
use app::server::error::ServerError;
use app::server::media::{self, Upload};
use app::server::services::order_search::is_merchant;
use app::server::services::{catalogue_csv, photos};
use app::server::state::AppState;
use axum::extract::multipart::{Field, Multipart};
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use tower_http::services::ServeDir;
use tower_http::set_header::SetResponseHeader;
use tower_sessions::Session;

/// The import page, where the import forms come back to.
pub const IMPORT_PAGE: &str = "/admin/products/import";
/// The most an upload's request may carry: a file over its own cap is read to its end (and
/// thrown away) up to this, so the browser gets the page that says so.
const DRAIN_LIMIT: usize = 64 * 1024 * 1024;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/admin/products/{id}/photos",
            post(upload_photo).layer(DefaultBodyLimit::max(DRAIN_LIMIT)),
        )
        .route("/admin/products.csv", get(export_csv))
        .route(
            "/admin/products/import/file",
            post(import_csv).layer(DefaultBodyLimit::max(DRAIN_LIMIT)),
        )
        .route("/admin/products/import/confirm", post(confirm_import))
}

/// `/media/…`: the photos' files. Their names are hashes of their bytes, so a year's immutable
/// caching is safe.
pub fn media(dir: &std::path::Path) -> SetResponseHeader<ServeDir, HeaderValue> {
    SetResponseHeader::overriding(
        ServeDir::new(dir),
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=31536000, immutable"),
    )
}

fn failed(e: impl std::fmt::Display) -> Response {
    tracing::error!(error = %e, "catalogue route failed");
    StatusCode::INTERNAL_SERVER_ERROR.into_response()
}

/// The merchant's user id, or the 404 anyone else gets.
async fn merchant(state: &AppState, session: &Session) -> Result<i64, Response> {
    let user_id = ShopSession(session.clone())
        .user_id()
        .await
        .map_err(failed)?;
    match is_merchant(&state.db, user_id).await {
        Ok(true) => Ok(user_id.unwrap_or_default()),
        Ok(false) => Err(StatusCode::NOT_FOUND.into_response()),
        Err(e) => Err(failed(e)),
    }
}

/// A file field's name and its bytes, up to `cap`: past it the rest is read and thrown away, so the
/// browser finishes sending and reads the answer (a reset connection would show no message), and
/// `Err(name)` says the file was too large. A body past [`DRAIN_LIMIT`] is cut off (400).
async fn read_file(
    mut field: Field<'_>,
    cap: usize,
) -> Result<Result<(String, Vec<u8>), String>, StatusCode> {
    let name = field.file_name().unwrap_or_default().to_string();
    let mut bytes = Vec::new();
    let mut over = false;
    loop {
        match field.chunk().await {
            Ok(Some(chunk)) => {
                if !over && bytes.len() + chunk.len() <= cap {
                    bytes.extend_from_slice(&chunk);
                } else {
                    over = true;
                    bytes = Vec::new();
                }
            }
            Ok(None) => break,
            Err(e) => return Err(e.status()),
        }
    }
    Ok(if over { Err(name) } else { Ok((name, bytes)) })
}

/// `POST /admin/products/{id}/photos` (`photo`, `alt`): add a photo, back to the Edit page.
async fn upload_photo(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<i64>,
    mut form: Multipart,
) -> Response {
    if let Err(refused) = merchant(&state, &session).await {
        return refused;
    }
    let mut upload = Upload {
        file_name: String::new(),
        bytes: Vec::new(),
    };
    let mut alt = String::new();
    let mut too_large = false;
    loop {
        match form.next_field().await {
            Ok(Some(field)) => match field.name() {
                Some("photo") => match read_file(field, media::MAX_UPLOAD_BYTES).await {
                    Ok(Ok((name, bytes))) => {
                        upload.file_name = name;
                        upload.bytes = bytes;
                    }
                    Ok(Err(name)) => {
                        upload.file_name = name;
                        too_large = true;
                    }
                    Err(status) => return status.into_response(),
                },
                Some("alt") => alt = field.text().await.unwrap_or_default(),
                _ => {}
            },
            Ok(None) => break,
            Err(e) => return e.status().into_response(),
        }
    }
    let shop = ShopSession(session);
    let form_name = photos::photo_form(id);
    let result = if too_large {
        let mut errors = app::model::FieldErrors::new();
        let refusal = media::PhotoRefusal::TooLarge {
            name: upload.file_name,
        };
        errors.add("photo", refusal.to_string());
        Err(ServerError::Fields(errors))
    } else {
        photos::add(&state, id, upload, &alt).await
    };
    let saved = match result {
        Ok(message) => shop.set_notice(&form_name, &message).await,
        Err(ServerError::Fields(errors)) => {
            let mut echo = FormEcho {
                errors,
                ..FormEcho::default()
            };
            echo.values
                .insert("alt".into(), alt.trim().chars().take(250).collect());
            shop.set_form_echo(&form_name, &echo).await
        }
        Err(ServerError::User(app::error::AppError::NotFound)) => {
            return StatusCode::NOT_FOUND.into_response()
        }
        Err(e) => return failed(e),
    };
    if let Err(e) = saved {
        return failed(e);
    }
    Redirect::to(&format!("/admin/products/{id}/edit#photos")).into_response()
}

/// `GET /admin/products.csv`: the catalogue, for a spreadsheet or another shop.
async fn export_csv(State(state): State<AppState>, session: Session) -> Response {
    if let Err(refused) = merchant(&state, &session).await {
        return refused;
    }
    match catalogue_csv::export(&state).await {
        Ok(bytes) => (
            [
                (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
                (
                    header::CONTENT_DISPOSITION,
                    "attachment; filename=\"catalogue.csv\"",
                ),
                (header::CACHE_CONTROL, "no-store"),
            ],
            bytes,
        )
            .into_response(),
        Err(e) => failed(e),
    }
}

/// `POST /admin/products/import/file` (`file`, `mode` = `check` or `import`): check the file (a dry
/// run, keeping it for Import when it has no problem) or import it at once.
async fn import_csv(
    State(state): State<AppState>,
    session: Session,
    mut form: Multipart,
) -> Response {
    let user_id = match merchant(&state, &session).await {
        Ok(id) => id,
        Err(refused) => return refused,
    };
    let mut file = None;
    let mut apply = false;
    let mut too_large = false;
    loop {
        match form.next_field().await {
            Ok(Some(field)) => match field.name() {
                Some("file") => match read_file(field, catalogue_csv::MAX_FILE_BYTES).await {
                    Ok(Ok(read)) => file = Some(read),
                    Ok(Err(_)) => too_large = true,
                    Err(status) => return status.into_response(),
                },
                Some("mode") => apply = field.text().await.unwrap_or_default() == "import",
                _ => {}
            },
            Ok(None) => break,
            Err(e) => return e.status().into_response(),
        }
    }
    let (file_name, bytes) = match file {
        Some(file) if !file.1.is_empty() && !too_large => file,
        _ => {
            let message = if too_large {
                "The file is larger than 8 MB: split it in two."
            } else {
                "Choose a CSV file to check or import."
            };
            let report = app::model::ImportReport {
                problems: vec![app::model::LineProblem {
                    line: 0,
                    message: message.into(),
                }],
                ..Default::default()
            };
            return back_with(&session, &report).await;
        }
    };
    let mut report = match catalogue_csv::import(&state, &file_name, &bytes, apply).await {
        Ok(report) => report,
        Err(e) => return failed(e),
    };
    if !apply && report.problem_count() == 0 {
        let token = uuid::Uuid::new_v4().simple().to_string();
        let body = String::from_utf8_lossy(&bytes);
        let kept = match state.db.write().await {
            Ok(mut conn) => {
                app::server::db::catalogue_imports::keep(
                    &mut conn, &token, user_id, &file_name, &body,
                )
                .await
            }
            Err(e) => Err(e),
        };
        if let Err(e) = kept {
            return failed(e);
        }
        report.token = Some(token);
    }
    back_with(&session, &report).await
}

#[derive(serde::Deserialize)]
struct Confirm {
    token: String,
}

/// `POST /admin/products/import/confirm` (`token`): import the file a check kept.
async fn confirm_import(
    State(state): State<AppState>,
    session: Session,
    Form(confirm): Form<Confirm>,
) -> Response {
    let user_id = match merchant(&state, &session).await {
        Ok(id) => id,
        Err(refused) => return refused,
    };
    let kept = match state.db.pool.acquire().await {
        Ok(mut conn) => {
            app::server::db::catalogue_imports::get(&mut conn, &confirm.token, user_id).await
        }
        Err(e) => Err(e),
    };
    let report = match kept {
        Ok(Some((file_name, body))) => {
            match catalogue_csv::import(&state, &file_name, body.as_bytes(), true).await {
                Ok(report) => {
                    if report.applied {
                        if let Ok(mut conn) = state.db.write().await {
                            let _ = app::server::db::catalogue_imports::forget(
                                &mut conn,
                                &confirm.token,
                            )
                            .await;
                        }
                    }
                    report
                }
                Err(e) => return failed(e),
            }
        }
        Ok(None) => app::model::ImportReport {
            problems: vec![app::model::LineProblem {
                line: 0,
                message: "That checked file is no longer kept (after a day, or once imported). Choose it again.".into(),
            }],
            ..Default::default()
        },
        Err(e) => return failed(e),
    };
    back_with(&session, &report).await
}

async fn back_with(session: &Session, report: &app::model::ImportReport) -> Response {
    match ShopSession(session.clone()).set_import_report(report).await {
        Ok(()) => Redirect::to(IMPORT_PAGE).into_response(),
        Err(e) => failed(e),
    }
}
