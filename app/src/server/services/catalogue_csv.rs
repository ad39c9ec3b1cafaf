//! The catalogue as CSV: export every product, and import a file that creates products or updates
//! them by SKU. An import is checked whole first (every line's problems, by line number); it is
//! applied only if no line has one, in one transaction, so it is all or nothing. A check alone is
//! a dry run: it changes nothing and keeps the file for **Import**.
//!
//! Columns (the header names them, in any order; only `sku` is required): `sku`, `name`, `slug`,
//! `description`, `category` (a category's name or slug; a new name creates it), `status`
//! (`on sale` or `hidden`), `stock`, `price_usd` … `price_jpy` (empty: not sold in that currency),
//! `photos` (the shop's own media, space-separated, as the export writes them). A column left out
//! keeps each updated product's value (a new product gets the form's defaults).
//!
//! Spreadsheet formulas: a text cell starting with `=`, `+`, `-` or `@` is refused (a spreadsheet
//! would run it); one starting with `'` followed by one of those is taken without the `'`, which is
//! how the export writes such values.

use crate::model::{Category, FieldErrors, ImportReport, LineProblem, ProductValues};
use crate::server::db::catalog_admin::{self as rows, ProductRecord};
use crate::server::db::{self, photos::NewPhoto, photos::PhotoRow};
use crate::server::error::{ServerError, ServerResult};
use crate::server::services::catalog_admin::{checked, is_slug, slug_from, values_of, NO_PHOTO};
use crate::server::state::AppState;
use std::collections::{BTreeSet, HashMap};

/// The largest file accepted, in bytes.
pub const MAX_FILE_BYTES: usize = 8 * 1024 * 1024;
/// The most product lines one file may hold.
pub const MAX_LINES: usize = 10_000;
/// How many problems a report lists (the rest are counted).
const LISTED_PROBLEMS: usize = 200;

const PRICE_COLUMNS: [&str; 5] = [
    "price_usd",
    "price_eur",
    "price_bdt",
    "price_cny",
    "price_jpy",
];
/// Every column, in the export's order.
pub const COLUMNS: [&str; 13] = [
    "sku",
    "name",
    "slug",
    "description",
    "category",
    "status",
    "stock",
    PRICE_COLUMNS[0],
    PRICE_COLUMNS[1],
    PRICE_COLUMNS[2],
    PRICE_COLUMNS[3],
    PRICE_COLUMNS[4],
    "photos",
];

/// A text cell a spreadsheet would run as a formula (OWASP's CSV injection list).
fn looks_like_formula(cell: &str) -> bool {
    match cell.chars().next() {
        Some('=' | '+' | '@' | '\t' | '\r') => true,
        // "- wool" is a Markdown list item; "-2+3" or "-cmd" is a formula.
        Some('-') => !cell[1..].starts_with([' ', '\n']) && cell.len() > 1,
        _ => false,
    }
}

/// A cell as written to a CSV a spreadsheet may open: a formula-like value gets a leading `'`.
fn export_cell(value: &str) -> String {
    if looks_like_formula(value) || (value.starts_with('\'') && looks_like_formula(&value[1..])) {
        format!("'{value}")
    } else {
        value.to_string()
    }
}

/// A text cell as imported: the export's `'` taken off again; `None` if it is a formula.
fn import_cell(value: &str) -> Option<&str> {
    match value.strip_prefix('\'') {
        Some(rest) if looks_like_formula(rest) || rest.starts_with('\'') => Some(rest),
        _ if looks_like_formula(value) => None,
        _ => Some(value),
    }
}

/// The whole catalogue (archived products left out) as CSV.
pub async fn export(state: &AppState) -> ServerResult<Vec<u8>> {
    let mut conn = state.db.pool.acquire().await?;
    let categories = rows::categories(&mut conn).await?;
    let products = rows::all_records(&mut conn).await?;
    let photos = db::photos::all(&mut conn).await?;
    drop(conn);
    let mut out = csv::Writer::from_writer(Vec::new());
    out.write_record(COLUMNS)
        .map_err(|e| ServerError::Internal(e.to_string()))?;
    for (id, archived, record) in products {
        if archived {
            continue;
        }
        let values = values_of(&record);
        let category = record
            .category_id
            .and_then(|id| categories.iter().find(|c| c.id == id))
            .map(|c| c.name.clone())
            .unwrap_or_default();
        let photo_list = photos
            .get(&id)
            .map(|list| {
                list.iter()
                    .map(photo_reference)
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .unwrap_or_default();
        let mut line = vec![
            export_cell(&record.sku),
            export_cell(&record.name),
            record.slug.clone(),
            export_cell(&record.description),
            export_cell(&category),
            if record.active { "on sale" } else { "hidden" }.to_string(),
            record.stock.to_string(),
        ];
        for column in PRICE_COLUMNS {
            line.push(values.get(column).cloned().unwrap_or_default());
        }
        line.push(photo_list);
        out.write_record(&line)
            .map_err(|e| ServerError::Internal(e.to_string()))?;
    }
    out.into_inner()
        .map_err(|e| ServerError::Internal(e.to_string()))
}

/// How a photo is named in the CSV: its largest file's path.
fn photo_reference(photo: &PhotoRow) -> String {
    let width = photo.widths.last().copied().unwrap_or_default();
    format!(
        "/media/{}",
        crate::server::media::file_name(&photo.name, width, &photo.format)
    )
}

/// The photo name in a reference: `/media/{name}-{width}.{format}`, with or without the shop's
/// origin or `/media/`, or the bare name.
fn photo_name(reference: &str, public_url: &str) -> Option<String> {
    let path = reference
        .strip_prefix(public_url)
        .unwrap_or(reference)
        .trim_start_matches('/');
    let file = path.strip_prefix("media/").unwrap_or(path);
    let name = file.split(['-', '.']).next()?;
    (name.len() == 20 && name.chars().all(|c| c.is_ascii_hexdigit())).then(|| name.to_string())
}

/// One line of the file, checked.
struct Planned {
    line: u64,
    /// The product it updates, if its SKU exists.
    existing: Option<i64>,
    record: ProductRecord,
    /// The category by name when it is new (its id is made on import).
    new_category: Option<String>,
    /// `Some`: the product's photos become these (by name); `None`: left as they are.
    photos: Option<Vec<String>>,
}

/// Check `file` and, if `apply` and no line has a problem, import it. Nothing is written unless
/// every line is good.
pub async fn import(
    state: &AppState,
    file_name: &str,
    file: &[u8],
    apply: bool,
) -> ServerResult<ImportReport> {
    let mut report = ImportReport {
        file_name: file_name.to_string(),
        ..ImportReport::default()
    };
    let mut problems = Vec::new();
    let planned = plan(state, file, &mut report, &mut problems).await?;
    let count = problems.len();
    report.problems = problems.into_iter().take(LISTED_PROBLEMS).collect();
    report.more_problems = count.saturating_sub(LISTED_PROBLEMS);
    if count > 0 || !apply {
        return Ok(report);
    }
    let dropped_photos = write(state, &planned).await?;
    report.applied = true;
    state.events.catalogue_changed();
    crate::server::services::photos::remove_unused_files(state, &dropped_photos).await?;
    tracing::info!(
        created = report.created,
        updated = report.updated,
        "catalogue imported"
    );
    Ok(report)
}

async fn plan(
    state: &AppState,
    file: &[u8],
    report: &mut ImportReport,
    problems: &mut Vec<LineProblem>,
) -> ServerResult<Vec<Planned>> {
    macro_rules! problem {
        ($line:expr, $message:expr $(,)?) => {
            problems.push(LineProblem {
                line: $line,
                message: $message,
            })
        };
    }
    if file.len() > MAX_FILE_BYTES {
        problem!(0, "The file is larger than 8 MB: split it in two.".into());
        return Ok(Vec::new());
    }
    let text = match std::str::from_utf8(file.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(file)) {
        Ok(text) => text,
        Err(e) => {
            problem!(
                0,
                format!(
                    "The file is not UTF-8 text (byte {}): save it as “CSV UTF-8”.",
                    e.valid_up_to() + 1
                ),
            );
            return Ok(Vec::new());
        }
    };
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .from_reader(text.as_bytes());
    let header: Vec<String> = match reader.headers() {
        Ok(h) => h.iter().map(|c| c.trim().to_ascii_lowercase()).collect(),
        Err(e) => {
            problem!(1, format!("The header line cannot be read: {e}"));
            return Ok(Vec::new());
        }
    };
    let mut seen = BTreeSet::new();
    for column in &header {
        if let Some(code) = column
            .strip_prefix("price_")
            .filter(|_| !COLUMNS.contains(&column.as_str()))
        {
            problem!(
                1,
                format!(
                    "The shop does not sell in {}: price columns are {}.",
                    code.to_ascii_uppercase(),
                    PRICE_COLUMNS.join(", ")
                )
            );
        } else if !COLUMNS.contains(&column.as_str()) {
            problem!(
                1,
                format!(
                    "Unknown column “{column}”. The columns are: {}.",
                    COLUMNS.join(", ")
                ),
            );
        } else if !seen.insert(column.clone()) {
            problem!(1, format!("The column {column} is named twice."));
        }
    }
    if !header.iter().any(|c| c == "sku") {
        problem!(
            1,
            "The header has no sku column: each line is matched by SKU.".into()
        );
    }
    if !problems.is_empty() {
        return Ok(Vec::new());
    }

    let mut conn = state.db.pool.acquire().await?;
    let mut categories = rows::categories(&mut conn).await?;
    let stored = rows::all_records(&mut conn).await?;
    let known_photos = db::photos::all(&mut conn).await?;
    drop(conn);
    let known_names: BTreeSet<&str> = known_photos
        .values()
        .flatten()
        .map(|p| p.name.as_str())
        .collect();
    let by_sku: HashMap<&str, (i64, bool, &ProductRecord)> = stored
        .iter()
        .map(|(id, archived, r)| (r.sku.as_str(), (*id, *archived, r)))
        .collect();
    let slug_owner: HashMap<&str, &str> = stored
        .iter()
        .map(|(_, _, r)| (r.slug.as_str(), r.sku.as_str()))
        .collect();
    // New categories get stand-in ids below zero until they are made.
    let mut new_categories: Vec<String> = Vec::new();
    let mut file_skus: HashMap<String, u64> = HashMap::new();
    let mut file_slugs: HashMap<String, (u64, String)> = HashMap::new();
    let mut planned = Vec::new();

    for (index, result) in reader.records().enumerate() {
        let record = match result {
            Ok(record) => record,
            Err(e) => {
                let line = e.position().map_or(index as u64 + 2, |p| p.line());
                problem!(line, format!("This line cannot be read as CSV: {e}"));
                continue;
            }
        };
        let line = record.position().map_or(index as u64 + 2, |p| p.line());
        if record.iter().all(|cell| cell.trim().is_empty()) {
            continue;
        }
        report.lines += 1;
        if report.lines > MAX_LINES {
            problem!(
                line,
                format!("A file may hold at most {MAX_LINES} products: split it.")
            );
            break;
        }
        if record.len() > header.len() {
            problem!(
                line,
                format!(
                    "This line has {} cells; the header names {}.",
                    record.len(),
                    header.len()
                ),
            );
            continue;
        }
        let mut cells: HashMap<&str, String> = HashMap::new();
        let mut formula = None;
        for (column, cell) in header.iter().zip(record.iter()) {
            let numeric = column == "stock" || PRICE_COLUMNS.contains(&column.as_str());
            let value = if numeric {
                Some(cell.trim())
            } else {
                import_cell(cell.trim())
            };
            match value {
                Some(value) => {
                    cells.insert(column.as_str(), value.to_string());
                }
                None => formula = formula.or(Some(column.clone())),
            }
        }
        if let Some(column) = formula {
            problem!(
                line,
                format!(
                    "{column}: the cell starts like a spreadsheet formula (= + - @). Put a ' before it if it is meant as text."
                ),
            );
            continue;
        }
        let sku = cells
            .get("sku")
            .cloned()
            .unwrap_or_default()
            .to_ascii_uppercase();
        let label = if sku.is_empty() {
            String::new()
        } else {
            format!("SKU {sku}: ")
        };
        let existing = by_sku.get(sku.as_str()).copied();
        if let Some((_, true, _)) = existing {
            problem!(
                line,
                format!("SKU {sku} belongs to an archived product; give this product another SKU."),
            );
            continue;
        }
        if let Some(first) = file_skus.insert(sku.clone(), line) {
            if !sku.is_empty() {
                problem!(line, format!("SKU {sku} is on line {first} too."));
                continue;
            }
        }
        let mut values: ProductValues = match existing {
            Some((_, _, record)) => values_of(record),
            None => ProductValues::from([
                ("status".to_string(), "active".to_string()),
                ("stock".to_string(), "0".to_string()),
            ]),
        };
        let mut new_category = None;
        let mut errors = FieldErrors::new();
        for (column, value) in &cells {
            match *column {
                "category" => {
                    let wanted = value.trim();
                    let found = categories.iter().find(|c| {
                        c.name.eq_ignore_ascii_case(wanted) || c.slug.eq_ignore_ascii_case(wanted)
                    });
                    let id = match (wanted, found) {
                        ("", _) => String::new(),
                        (_, Some(c)) => {
                            // A category an earlier line of this file creates.
                            if c.id < 0 {
                                new_category = Some(c.name.clone());
                            }
                            c.id.to_string()
                        }
                        (name, None) => {
                            let slug = slug_from(name);
                            if !is_slug(&slug) || name.chars().count() > 60 {
                                errors.add(
                                    "category",
                                    format!("“{name}” cannot be a new category's name (at most 60 characters, with Latin letters or digits for its address). Add it on the Categories page first."),
                                );
                                String::new()
                            } else {
                                if !new_categories.iter().any(|n| n.eq_ignore_ascii_case(name)) {
                                    new_categories.push(name.to_string());
                                    categories.push(Category {
                                        id: -(new_categories.len() as i64),
                                        slug,
                                        name: name.to_string(),
                                        position: 0,
                                    });
                                }
                                new_category = Some(name.to_string());
                                categories
                                    .iter()
                                    .find(|c| c.name.eq_ignore_ascii_case(name))
                                    .map(|c| c.id.to_string())
                                    .unwrap_or_default()
                            }
                        }
                    };
                    values.insert("category".into(), id);
                }
                "status" => {
                    let status = match value.trim().to_ascii_lowercase().as_str() {
                        "" | "on sale" | "active" => "active",
                        "hidden" => "hidden",
                        _ => "?",
                    };
                    values.insert("status".into(), status.into());
                }
                "photos" => {}
                // An updated product keeps its slug when the cell is empty (a new one's is made
                // from its name).
                "slug" if value.is_empty() && existing.is_some() => {}
                other => {
                    values.insert(other.to_string(), value.clone());
                }
            }
        }
        let checked_record = checked(&values, &categories);
        let record = match checked_record {
            Ok(record) if errors.is_empty() => record,
            Ok(_) => {
                problem!(line, line_message(&label, &errors));
                continue;
            }
            Err(mut more) => {
                for e in errors.0 {
                    more.add(&e.field, e.message);
                }
                if values.get("status").map(String::as_str) == Some("?") {
                    more.0.retain(|e| e.field != "status");
                    more.add("status", "Write on sale or hidden.");
                }
                problem!(line, line_message(&label, &more));
                continue;
            }
        };
        if let Some(owner) = slug_owner.get(record.slug.as_str()) {
            if *owner != record.sku {
                problem!(
                    line,
                    format!(
                        "{label}slug: another product (SKU {owner}) already has the slug {}.",
                        record.slug
                    ),
                );
                continue;
            }
        }
        if let Some((first, other_sku)) =
            file_slugs.insert(record.slug.clone(), (line, record.sku.clone()))
        {
            if other_sku != record.sku {
                problem!(
                    line,
                    format!("The slug {} is on line {first} too.", record.slug)
                );
                continue;
            }
        }
        let photos = match cells.get("photos").map(|p| p.trim()) {
            None | Some("") => None,
            Some(list) => {
                let mut names = Vec::new();
                let mut unknown = Vec::new();
                for reference in list.split_whitespace() {
                    match photo_name(reference, &state.settings.public_url) {
                        Some(name) if known_names.contains(name.as_str()) => names.push(name),
                        _ => unknown.push(reference.to_string()),
                    }
                }
                if !unknown.is_empty() {
                    problem!(
                        line,
                        format!(
                            "photos: {} {} not in this shop's media; upload photos on a product's Edit page first.",
                            unknown.join(", "),
                            if unknown.len() == 1 { "is" } else { "are" }
                        ),
                    );
                    continue;
                }
                Some(names)
            }
        };
        match existing {
            Some(_) => report.updated += 1,
            None => report.created += 1,
        }
        planned.push(Planned {
            line,
            existing: existing.map(|(id, _, _)| id),
            record,
            new_category,
            photos,
        });
    }
    if report.lines == 0 && problems.is_empty() {
        problems.push(LineProblem {
            line: 2,
            message: "The file has a header but no products.".into(),
        });
    }
    report.new_categories = new_categories
        .into_iter()
        .filter(|name| {
            planned
                .iter()
                .any(|p| p.new_category.as_deref() == Some(name))
        })
        .collect();
    Ok(planned)
}

/// "SKU MUG-1: stock: Stock cannot be negative. price_usd: …"
fn line_message(label: &str, errors: &FieldErrors) -> String {
    let parts: Vec<String> = errors
        .0
        .iter()
        .map(|e| format!("{}: {}", e.field, e.message))
        .collect();
    format!("{label}{}", parts.join(" "))
}

/// Apply the checked lines in one transaction; the photos taken off products (their files may be
/// unused now).
async fn write(state: &AppState, planned: &[Planned]) -> ServerResult<Vec<PhotoRow>> {
    let mut dropped = Vec::new();
    let mut tx = state.db.begin_write().await?;
    let mut category_ids: HashMap<String, i64> = HashMap::new();
    let mut templates: HashMap<String, PhotoRow> = HashMap::new();
    for plan in planned {
        let mut record = plan.record.clone();
        if let Some(name) = &plan.new_category {
            let id = match category_ids.get(&name.to_lowercase()) {
                Some(id) => *id,
                None => {
                    let id = rows::insert_category(
                        &mut tx,
                        &Category {
                            id: 0,
                            slug: slug_from(name),
                            name: name.clone(),
                            position: 0,
                        },
                    )
                    .await?;
                    category_ids.insert(name.to_lowercase(), id);
                    id
                }
            };
            record.category_id = Some(id);
        }
        let id = match plan.existing {
            Some(id) => {
                let before = rows::product(&mut tx, id).await?;
                rows::update_product(&mut tx, id, &record).await?;
                if let Some(before) = before.filter(|b| b.slug != record.slug) {
                    rows::moved_slug(&mut tx, id, &before.slug, &record.slug).await?;
                }
                id
            }
            None => {
                let id = rows::insert_product(&mut tx, &record, NO_PHOTO).await?;
                rows::forget_old_slug(&mut tx, &record.slug).await?;
                id
            }
        };
        rows::replace_prices(&mut tx, id, &record.prices).await?;
        if let Some(names) = &plan.photos {
            let kept = db::photos::of_product(&mut tx, id).await?;
            db::photos::delete_of_product(&mut tx, id).await?;
            for name in names {
                let template = match templates.get(name) {
                    Some(t) => t.clone(),
                    None => {
                        let Some(found) = db::photos::by_name(&mut tx, name).await? else {
                            return Err(ServerError::Internal(format!(
                                "line {}: photo {name} went away during the import",
                                plan.line
                            )));
                        };
                        templates.insert(name.clone(), found.clone());
                        found
                    }
                };
                // The product's own alt text for a photo it keeps, else its name.
                let alt = kept
                    .iter()
                    .find(|p| &p.name == name)
                    .map(|p| p.alt.clone())
                    .unwrap_or_else(|| record.name.clone());
                db::photos::insert(
                    &mut tx,
                    &NewPhoto {
                        product_id: id,
                        name,
                        format: &template.format,
                        widths: &template.widths,
                        width: template.width as u32,
                        height: template.height as u32,
                        alt: &alt,
                    },
                )
                .await?;
            }
            dropped.extend(kept.into_iter().filter(|p| !names.contains(&p.name)));
        }
    }
    tx.commit().await?;
    Ok(dropped)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formulas_are_recognised_and_a_markdown_list_is_not_one() {
        for cell in ["=SUM(A1)", "+1", "@cmd", "-2+3", "=HYPERLINK(\"x\")"] {
            assert!(looks_like_formula(cell), "{cell}");
            assert_eq!(import_cell(cell), None, "{cell}");
        }
        for cell in ["- wool\n- cotton", "Mug", "", "-", "3-pack"] {
            assert!(!looks_like_formula(cell), "{cell}");
            assert_eq!(import_cell(cell), Some(cell), "{cell}");
        }
    }

    #[test]
    fn the_exports_quote_round_trips() {
        for value in ["=SUM(A1)", "+1", "'=x", "plain", "- wool"] {
            let written = export_cell(value);
            assert!(!looks_like_formula(&written), "{written}");
            assert_eq!(import_cell(&written), Some(value), "{value}");
        }
    }

    #[test]
    fn photo_references_name_the_shops_own_media() {
        let origin = "https://shop.example";
        let name = "0123456789abcdef0123";
        for reference in [
            format!("/media/{name}-1280.jpg"),
            format!("{origin}/media/{name}-640.png"),
            format!("media/{name}-320.jpg"),
            name.to_string(),
        ] {
            assert_eq!(
                photo_name(&reference, origin).as_deref(),
                Some(name),
                "{reference}"
            );
        }
        for reference in ["https://other.example/cat.jpg", "/media/../x", "cat.jpg"] {
            assert_eq!(photo_name(reference, origin), None, "{reference}");
        }
    }
}
