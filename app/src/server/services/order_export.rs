//! `GET /admin/orders.csv`: the merchant's orders for the list's filters, streamed from the
//! database a row at a time through a small channel (the file is never held in memory), written
//! with the `csv` crate, with cells that a spreadsheet would run as a formula defused.

use crate::model::utc::rfc3339;
use crate::model::{Currency, Money};
use crate::server::db::order_search::{self, ExportRow, OrderFilter};
use crate::server::db::Db;
use futures_util::TryStreamExt;
use std::borrow::Cow;
use tokio::sync::mpsc;

/// The file's first row.
pub const HEADER: [&str; 11] = [
    "reference",
    "created",
    "email",
    "name",
    "status",
    "provider",
    "provider_id",
    "currency",
    "total",
    "refunded",
    "lines",
];

/// Bytes gathered before they are handed to the response (a chunk, not the file).
const CHUNK: usize = 16 * 1024;
/// Chunks waiting for a slow client before the database read pauses.
const QUEUED_CHUNKS: usize = 4;

/// A cell that starts like a formula (`=`, `+`, `-`, `@`, tab, carriage return) gets a leading `'`
/// so spreadsheets show it as text.
pub fn guard(cell: &str) -> Cow<'_, str> {
    match cell.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => Cow::Owned(format!("'{cell}")),
        _ => Cow::Borrowed(cell),
    }
}

fn record(writer: &mut csv::Writer<Vec<u8>>, row: &ExportRow) -> csv::Result<()> {
    let o = &row.order;
    let currency: Option<Currency> = o.currency.parse().ok();
    let amount = |minor: i64| match currency {
        Some(c) => Money::new(minor, c).to_decimal_string(),
        None => minor.to_string(),
    };
    let cells = [
        o.reference.clone(),
        rfc3339(o.created_at),
        o.email.clone(),
        o.name.clone(),
        o.status.clone(),
        o.provider.clone().unwrap_or_default(),
        row.provider_ref.clone().unwrap_or_default(),
        o.currency.clone(),
        amount(o.total_minor),
        amount(o.refunded_minor),
        row.line_count.to_string(),
    ];
    writer.write_record(cells.iter().map(|c| guard(c).into_owned()))
}

fn writer() -> csv::Writer<Vec<u8>> {
    csv::WriterBuilder::new()
        .has_headers(false)
        .from_writer(Vec::with_capacity(CHUNK + 1024))
}

/// Take the bytes written so far, leaving an empty writer.
fn take(w: &mut csv::Writer<Vec<u8>>) -> std::io::Result<Vec<u8>> {
    std::mem::replace(w, writer())
        .into_inner()
        .map_err(|e| std::io::Error::other(e.to_string()))
}

/// Start streaming the export of `filter`; the receiver yields the file in chunks, or an error
/// (the response then ends early, which the client sees as a broken download, never as data).
pub fn stream(db: &Db, filter: OrderFilter) -> mpsc::Receiver<std::io::Result<Vec<u8>>> {
    let (sender, receiver) = mpsc::channel(QUEUED_CHUNKS);
    let pool = db.pool.clone();
    tokio::spawn(async move {
        let sql = order_search::export_sql(&filter);
        let mut w = writer();
        let result: Result<(), String> = async {
            w.write_record(HEADER).map_err(|e| e.to_string())?;
            let mut rows = sql.query().fetch(&pool);
            while let Some(row) = rows.try_next().await.map_err(|e| e.to_string())? {
                let row = order_search::export_row(&row).map_err(|e| e.to_string())?;
                record(&mut w, &row).map_err(|e| e.to_string())?;
                if w.get_ref().len() >= CHUNK {
                    let chunk = take(&mut w).map_err(|e| e.to_string())?;
                    if sender.send(Ok(chunk)).await.is_err() {
                        return Ok(()); // The client went away.
                    }
                }
            }
            let rest = take(&mut w).map_err(|e| e.to_string())?;
            let _ = sender.send(Ok(rest)).await;
            Ok(())
        }
        .await;
        if let Err(e) = result {
            tracing::error!(error = %e, "CSV export failed");
            let _ = sender
                .send(Err(std::io::Error::other("export failed")))
                .await;
        }
    });
    receiver
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formula_cells_are_defused() {
        for bad in ["=1+1", "+1", "-1", "@SUM(A1)", "\tx", "\rx"] {
            assert_eq!(guard(bad), format!("'{bad}"));
        }
        assert_eq!(guard("Ada"), "Ada");
        assert_eq!(guard(""), "");
    }
}
