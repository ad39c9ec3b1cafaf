//! A product's photos: upload (checked and re-encoded, [`media`]), alt text, order, remove. The
//! first photo is the product's card image. Every change drops the cached catalogue pages.

use crate::error::AppError;
use crate::model::{FieldErrors, Photo, ProductCard};
use crate::server::db::{self, photos::NewPhoto, photos::PhotoRow};
use crate::server::error::{ServerError, ServerResult};
use crate::server::media::{self, Upload};
use crate::server::state::AppState;
use sqlx::AnyConnection;
use std::sync::LazyLock;
use tokio::sync::Semaphore;

/// The name the photo form's refusal and notice are kept under in the session.
pub fn photo_form(product_id: i64) -> String {
    format!("photos:{product_id}")
}

/// The longest alt text accepted.
pub const MAX_ALT: usize = 250;
/// The most photos one product may have.
pub const MAX_PHOTOS: usize = 12;

/// At most two photos are decoded at once (each may take a few hundred megabytes and a core).
static DECODING: LazyLock<Semaphore> = LazyLock::new(|| Semaphore::new(2));

/// The URL path of one of a photo's files.
fn url(row: &PhotoRow, width: u32) -> String {
    format!("/media/{}", media::file_name(&row.name, width, &row.format))
}

/// How a page draws a stored photo: `src` is the widest file up to 640 pixels.
pub fn view(row: &PhotoRow) -> Photo {
    let src_width = row
        .widths
        .iter()
        .copied()
        .filter(|w| *w <= 640)
        .max()
        .or_else(|| row.widths.first().copied())
        .unwrap_or_default();
    Photo {
        id: row.id,
        src: url(row, src_width),
        srcset: row
            .widths
            .iter()
            .map(|w| format!("{} {w}w", url(row, *w)))
            .collect::<Vec<_>>()
            .join(", "),
        width: row.width,
        height: row.height,
        alt: row.alt.clone(),
    }
}

/// Give each card its product's first photo.
pub async fn add_first_photos(
    conn: &mut AnyConnection,
    cards: &mut [ProductCard],
) -> Result<(), sqlx::Error> {
    let ids: Vec<i64> = cards.iter().map(|c| c.id).collect();
    let first = db::photos::first_of(conn, &ids).await?;
    for card in cards {
        card.photo = first.get(&card.id).map(view);
    }
    Ok(())
}

/// Every photo of a product, first first.
pub async fn of_product(conn: &mut AnyConnection, product_id: i64) -> ServerResult<Vec<Photo>> {
    Ok(db::photos::of_product(conn, product_id)
        .await?
        .iter()
        .map(view)
        .collect())
}

fn refused(field: &str, message: impl Into<String>) -> ServerError {
    let mut errors = FieldErrors::new();
    errors.add(field, message);
    ServerError::Fields(errors)
}

/// Add an uploaded photo as the product's last. Refusals name the field (`photo` or `alt`).
/// Returns what the merchant reads: "Added the photo (1280 × 960)."
pub async fn add(
    state: &AppState,
    product_id: i64,
    upload: Upload,
    alt: &str,
) -> ServerResult<String> {
    let alt = alt.trim();
    let mut errors = FieldErrors::new();
    if upload.bytes.is_empty() {
        errors.add("photo", "Choose a photo to upload.");
    }
    if alt.is_empty() {
        errors.add(
            "alt",
            "Describe the photo for shoppers who cannot see it (alt text).",
        );
    } else if alt.chars().count() > MAX_ALT {
        errors.add(
            "alt",
            format!("Keep the alt text under {MAX_ALT} characters."),
        );
    }
    if !errors.is_empty() {
        return Err(ServerError::Fields(errors));
    }
    {
        let mut conn = state.db.pool.acquire().await?;
        // Archived products are not found here.
        db::catalog_admin::product(&mut conn, product_id)
            .await?
            .ok_or(AppError::NotFound)?;
        if db::photos::of_product(&mut conn, product_id).await?.len() >= MAX_PHOTOS {
            return Err(refused(
                "photo",
                format!("A product has at most {MAX_PHOTOS} photos: remove one first."),
            ));
        }
    }
    let processed = {
        let _turn = DECODING.acquire().await.expect("never closed");
        tokio::task::spawn_blocking(move || media::process(&upload))
            .await
            .map_err(|e| ServerError::Internal(format!("photo decoding stopped: {e}")))?
    }
    .map_err(|refusal| refused("photo", refusal.to_string()))?;
    media::write_files(&state.settings.catalogue.media_dir, &processed)
        .await
        .map_err(|e| ServerError::Internal(format!("writing a photo to MEDIA_DIR: {e}")))?;
    let widths: Vec<u32> = processed.files.iter().map(|f| f.width).collect();
    let (width, height) = processed.size();
    state
        .db
        .committed(async |tx| {
            db::photos::insert(
                tx,
                &NewPhoto {
                    product_id,
                    name: &processed.name,
                    format: processed.format,
                    widths: &widths,
                    width,
                    height,
                    alt,
                },
            )
            .await
        })
        .await?;
    state.events.catalogue_changed();
    Ok(format!("Added the photo ({width} × {height})."))
}

/// Change a photo's alt text.
pub async fn set_alt(
    state: &AppState,
    product_id: i64,
    photo_id: i64,
    alt: &str,
) -> ServerResult<String> {
    let alt = alt.trim();
    if alt.is_empty() {
        return Err(AppError::invalid(
            "Describe the photo for shoppers who cannot see it (alt text).",
        )
        .into());
    }
    if alt.chars().count() > MAX_ALT {
        return Err(
            AppError::invalid(format!("Keep the alt text under {MAX_ALT} characters.")).into(),
        );
    }
    state
        .db
        .committed(async |tx| {
            let found = db::photos::get(tx, product_id, photo_id).await?;
            if found.is_some() {
                db::photos::set_alt(tx, photo_id, alt).await?;
            }
            Ok(found)
        })
        .await?
        .ok_or(AppError::NotFound)?;
    state.events.catalogue_changed();
    Ok("Saved the photo's alt text.".into())
}

/// Move a photo one place earlier (`up`) or later; the first photo is the card image.
pub async fn move_photo(
    state: &AppState,
    product_id: i64,
    photo_id: i64,
    up: bool,
) -> ServerResult<String> {
    let moved = state
        .db
        .committed(async |tx| {
            let mut photos = db::photos::of_product(tx, product_id).await?;
            let Some(at) = photos.iter().position(|p| p.id == photo_id) else {
                return Ok(None);
            };
            let to = if up {
                at.saturating_sub(1)
            } else {
                (at + 1).min(photos.len() - 1)
            };
            photos.swap(at, to);
            for (i, photo) in photos.iter().enumerate() {
                let position = i as i64 + 1;
                if photo.position != position {
                    db::photos::set_position(tx, photo.id, position).await?;
                }
            }
            Ok(Some(to))
        })
        .await?
        .ok_or(AppError::NotFound)?;
    state.events.catalogue_changed();
    Ok(if moved == 0 {
        "Moved the photo first: it is the product's card image now.".into()
    } else {
        format!("Moved the photo to place {}.", moved + 1)
    })
}

/// Remove a photo; its files go too unless another photo row is the same upload.
pub async fn remove(state: &AppState, product_id: i64, photo_id: i64) -> ServerResult<String> {
    let removed = state
        .db
        .committed(async |tx| {
            let found = db::photos::get(tx, product_id, photo_id).await?;
            if found.is_some() {
                db::photos::delete(tx, photo_id).await?;
            }
            Ok(found)
        })
        .await?
        .ok_or(AppError::NotFound)?;
    state.events.catalogue_changed();
    remove_unused_files(state, &[removed]).await?;
    Ok("Removed the photo.".into())
}

/// Delete the files of photos whose rows are gone, unless another row (the same upload on another
/// product) still names them.
pub async fn remove_unused_files(state: &AppState, removed: &[PhotoRow]) -> ServerResult<()> {
    let mut conn = state.db.pool.acquire().await?;
    for photo in removed {
        if !db::photos::name_in_use(&mut conn, &photo.name).await? {
            media::remove_files(
                &state.settings.catalogue.media_dir,
                &photo.name,
                &photo.format,
                &photo.widths,
            )
            .await;
        }
    }
    Ok(())
}
