//! The order lists' queries: one filter, one `WHERE` builder, shared by the customer's history,
//! the merchant's list, its totals and the CSV export. Every value is bound; the SQL text is built
//! only from fixed fragments. Pages are keyset-paginated on `id` (newest first), so a page never
//! shifts when new orders arrive. Each filter has an index (migration 0008).

use crate::model::{Currency, OrderStatus, ProviderId};
use sqlx::any::AnyArguments;
use sqlx::query::Query;
use sqlx::{Any, AnyConnection, Row as _};

/// Whose orders.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// One customer's (placed while logged in).
    Customer(i64),
    /// Every order (merchants).
    All,
}

/// What the search text matched, resolved before the list query; the order matches any of them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SearchMatch {
    /// Orders named directly: by reference, or by a provider's id of one of their attempts.
    pub order_ids: Vec<i64>,
    /// Catalogue products whose name matched: orders with a line of one of them.
    pub product_ids: Vec<i64>,
    /// A customer's email (merchants), exact and lower-case.
    pub email: Option<String>,
}

impl SearchMatch {
    pub fn is_empty(&self) -> bool {
        self.order_ids.is_empty() && self.product_ids.is_empty() && self.email.is_none()
    }
}

/// A parsed filter; `None` means "any".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderFilter {
    pub scope: Scope,
    pub status: Option<OrderStatus>,
    pub provider: Option<ProviderId>,
    pub currency: Option<Currency>,
    /// Placed at or after (ms).
    pub from_ms: Option<i64>,
    /// Placed before (ms).
    pub until_ms: Option<i64>,
    pub search: Option<SearchMatch>,
}

/// Which side of a cursor a page lies on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cursor {
    First,
    /// Orders with a smaller id (older).
    Before(i64),
    /// Orders with a larger id (newer).
    After(i64),
}

enum Bind {
    Int(i64),
    Text(String),
}

/// SQL text plus its bound values, numbered `$1…` in order.
#[derive(Default)]
struct Sql {
    text: String,
    binds: Vec<Bind>,
}

impl Sql {
    fn int(&mut self, value: i64) -> String {
        self.binds.push(Bind::Int(value));
        format!("${}", self.binds.len())
    }

    fn text(&mut self, value: &str) -> String {
        self.binds.push(Bind::Text(value.to_string()));
        format!("${}", self.binds.len())
    }

    fn ints(&mut self, values: &[i64]) -> String {
        values
            .iter()
            .map(|v| self.int(*v))
            .collect::<Vec<_>>()
            .join(", ")
    }

    fn query(&self) -> Query<'_, Any, AnyArguments<'_>> {
        let mut query = sqlx::query(&self.text);
        for bind in &self.binds {
            query = match bind {
                Bind::Int(v) => query.bind(*v),
                Bind::Text(v) => query.bind(v.clone()),
            };
        }
        query
    }

    /// `AND`-joined conditions on `orders o` for the filter (always at least `1 = 1`).
    fn conditions(&mut self, f: &OrderFilter) -> String {
        let mut parts = vec!["1 = 1".to_string()];
        if let Scope::Customer(user_id) = f.scope {
            parts.push(format!("o.user_id = {}", self.int(user_id)));
        }
        if let Some(status) = f.status {
            parts.push(format!("o.status = {}", self.text(status.as_str())));
        }
        if let Some(provider) = f.provider {
            parts.push(format!("o.provider = {}", self.text(provider.as_str())));
        }
        if let Some(currency) = f.currency {
            parts.push(format!("o.currency = {}", self.text(currency.code())));
        }
        if let Some(from) = f.from_ms {
            parts.push(format!("o.created_at >= {}", self.int(from)));
        }
        if let Some(until) = f.until_ms {
            parts.push(format!("o.created_at < {}", self.int(until)));
        }
        if let Some(search) = &f.search {
            parts.push(self.search(search));
        }
        parts.join(" AND ")
    }

    fn search(&mut self, s: &SearchMatch) -> String {
        let mut any = Vec::new();
        if !s.order_ids.is_empty() {
            any.push(format!("o.id IN ({})", self.ints(&s.order_ids)));
        }
        if !s.product_ids.is_empty() {
            any.push(format!(
                "o.id IN (SELECT l.order_id FROM order_lines l WHERE l.product_id IN ({}))",
                self.ints(&s.product_ids)
            ));
        }
        if let Some(email) = &s.email {
            any.push(format!("o.email = {}", self.text(email)));
        }
        if any.is_empty() {
            // Nothing matched the text: no order does.
            return "1 = 0".to_string();
        }
        format!("({})", any.join(" OR "))
    }
}

/// One listed order as stored.
#[derive(Debug, Clone)]
pub struct ListRow {
    pub id: i64,
    pub reference: String,
    pub created_at: i64,
    pub email: String,
    pub name: String,
    pub currency: String,
    pub total_minor: i64,
    pub refunded_minor: i64,
    pub status: String,
    pub provider: Option<String>,
}

const LIST_COLUMNS: &str = "o.id, o.reference, o.created_at, o.email, o.name, o.currency, \
     o.total_minor, o.refunded_minor, o.status, o.provider";

fn list_row(r: &super::Row) -> Result<ListRow, sqlx::Error> {
    Ok(ListRow {
        id: r.try_get("id")?,
        reference: r
            .try_get::<Option<String>, _>("reference")?
            .unwrap_or_default(),
        created_at: r.try_get("created_at")?,
        email: r.try_get("email")?,
        name: r.try_get("name")?,
        currency: r.try_get("currency")?,
        total_minor: r.try_get("total_minor")?,
        refunded_minor: r.try_get("refunded_minor")?,
        status: r.try_get("status")?,
        provider: r.try_get("provider")?,
    })
}

fn page_sql(filter: &OrderFilter, cursor: Cursor, limit: i64) -> (Sql, bool) {
    let mut sql = Sql::default();
    let mut conditions = sql.conditions(filter);
    let ascending = match cursor {
        Cursor::First => false,
        Cursor::Before(id) => {
            conditions.push_str(&format!(" AND o.id < {}", sql.int(id)));
            false
        }
        Cursor::After(id) => {
            conditions.push_str(&format!(" AND o.id > {}", sql.int(id)));
            true
        }
    };
    let order = if ascending { "ASC" } else { "DESC" };
    sql.text = format!(
        "SELECT {LIST_COLUMNS} FROM orders o WHERE {conditions} ORDER BY o.id {order} LIMIT {}",
        limit + 1
    );
    (sql, ascending)
}

/// Up to `limit` orders on the cursor's side, always returned newest first. One extra row is read
/// to tell whether more lie beyond: the `bool` says so.
pub async fn page(
    conn: &mut AnyConnection,
    filter: &OrderFilter,
    cursor: Cursor,
    limit: i64,
) -> Result<(Vec<ListRow>, bool), sqlx::Error> {
    let (sql, ascending) = page_sql(filter, cursor, limit);
    let mut rows = sql
        .query()
        .fetch_all(conn)
        .await?
        .iter()
        .map(list_row)
        .collect::<Result<Vec<_>, _>>()?;
    let more = rows.len() as i64 > limit;
    rows.truncate(limit as usize);
    if ascending {
        rows.reverse();
    }
    Ok((rows, more))
}

/// The database's plan for a page query and the totals query (for the benchmark's report): each
/// line of `EXPLAIN QUERY PLAN` (SQLite) or `EXPLAIN` (PostgreSQL).
pub async fn explain(
    conn: &mut AnyConnection,
    backend: super::Backend,
    filter: &OrderFilter,
    cursor: Cursor,
    limit: i64,
) -> Result<Vec<String>, sqlx::Error> {
    let prefix = match backend {
        super::Backend::Sqlite => "EXPLAIN QUERY PLAN ",
        super::Backend::Postgres => "EXPLAIN ",
    };
    let (page, _) = page_sql(filter, cursor, limit);
    let mut lines = Vec::new();
    for mut sql in [page, totals_sql(filter)] {
        sql.text = format!("{prefix}{}", sql.text);
        for row in sql.query().fetch_all(&mut *conn).await? {
            let line: String = match backend {
                super::Backend::Sqlite => row.try_get("detail")?,
                super::Backend::Postgres => row.try_get(0)?,
            };
            lines.push(line);
        }
        lines.push("--".into());
    }
    Ok(lines)
}

/// A line of a listed order.
#[derive(Debug, Clone)]
pub struct ListLine {
    pub order_id: i64,
    pub name: String,
    pub quantity: i64,
}

/// The lines of all the listed orders, in one query.
pub async fn lines_of(
    conn: &mut AnyConnection,
    order_ids: &[i64],
) -> Result<Vec<ListLine>, sqlx::Error> {
    if order_ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut sql = Sql::default();
    let ids = sql.ints(order_ids);
    sql.text = format!(
        "SELECT order_id, name, quantity FROM order_lines WHERE order_id IN ({ids}) \
         ORDER BY order_id, name"
    );
    sql.query()
        .fetch_all(conn)
        .await?
        .iter()
        .map(|r| {
            Ok(ListLine {
                order_id: r.try_get("order_id")?,
                name: r.try_get("name")?,
                quantity: r.try_get("quantity")?,
            })
        })
        .collect()
}

fn totals_sql(filter: &OrderFilter) -> Sql {
    let mut sql = Sql::default();
    let conditions = sql.conditions(filter);
    sql.text = format!(
        "SELECT o.currency, COUNT(*) AS n, CAST(SUM(o.total_minor) AS BIGINT) AS total, \
         CAST(SUM(o.refunded_minor) AS BIGINT) AS refunded \
         FROM orders o WHERE {conditions} GROUP BY o.currency ORDER BY o.currency"
    );
    sql
}

/// Per currency: how many orders of the filtered set, their total and what was refunded.
pub async fn totals(
    conn: &mut AnyConnection,
    filter: &OrderFilter,
) -> Result<Vec<(String, i64, i64, i64)>, sqlx::Error> {
    totals_sql(filter)
        .query()
        .fetch_all(conn)
        .await?
        .iter()
        .map(|r| {
            Ok((
                r.try_get("currency")?,
                r.try_get("n")?,
                r.try_get("total")?,
                r.try_get("refunded")?,
            ))
        })
        .collect()
}

/// Ids of catalogue products whose name contains `text` (any case). The catalogue is small; the
/// orders are then found through `order_lines (product_id, order_id)`.
pub async fn products_named(conn: &mut AnyConnection, text: &str) -> Result<Vec<i64>, sqlx::Error> {
    let escaped = text
        .to_lowercase()
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    sqlx::query("SELECT id FROM products WHERE lower(name) LIKE $1 ESCAPE '\\' ORDER BY id")
        .bind(format!("%{escaped}%"))
        .fetch_all(conn)
        .await?
        .iter()
        .map(|r| r.try_get("id"))
        .collect()
}

/// Orders with an attempt that carries this provider id (its session or its captured payment).
pub async fn orders_with_provider_id(
    conn: &mut AnyConnection,
    provider_id: &str,
) -> Result<Vec<i64>, sqlx::Error> {
    sqlx::query(
        "SELECT order_id FROM payment_attempts WHERE provider_session_id = $1 \
         UNION SELECT order_id FROM payment_attempts WHERE provider_payment_id = $1",
    )
    .bind(provider_id)
    .fetch_all(conn)
    .await?
    .iter()
    .map(|r| r.try_get("order_id"))
    .collect()
}

/// The order whose owner is asked about, by reference: its customer (`None` for a guest order).
pub async fn owner_of(
    conn: &mut AnyConnection,
    reference: &str,
) -> Result<Option<Option<i64>>, sqlx::Error> {
    sqlx::query("SELECT user_id FROM orders WHERE reference = $1")
        .bind(reference)
        .fetch_optional(conn)
        .await?
        .map(|r| r.try_get("user_id"))
        .transpose()
}

/// The CSV export's query for the filter, newest first: the SQL and its values, to be streamed
/// with [`export_query`] by a task that owns them.
pub struct ExportSql(Sql);

/// The export's columns for every order of the filter.
pub fn export_sql(filter: &OrderFilter) -> ExportSql {
    let mut sql = Sql::default();
    let conditions = sql.conditions(filter);
    sql.text = format!(
        "SELECT {LIST_COLUMNS}, \
         (SELECT COUNT(*) FROM order_lines l WHERE l.order_id = o.id) AS line_count, \
         (SELECT COALESCE(a.provider_payment_id, a.provider_session_id) FROM payment_attempts a \
          WHERE a.order_id = o.id ORDER BY a.id DESC LIMIT 1) AS provider_ref \
         FROM orders o WHERE {conditions} ORDER BY o.id DESC"
    );
    ExportSql(sql)
}

/// One exported order.
#[derive(Debug, Clone)]
pub struct ExportRow {
    pub order: ListRow,
    pub line_count: i64,
    pub provider_ref: Option<String>,
}

impl ExportSql {
    /// The query to stream (`.fetch(pool)`), borrowing this SQL.
    pub fn query(&self) -> Query<'_, Any, AnyArguments<'_>> {
        self.0.query()
    }
}

/// Decode one row of the export query.
pub fn export_row(r: &super::Row) -> Result<ExportRow, sqlx::Error> {
    Ok(ExportRow {
        order: list_row(r)?,
        line_count: r.try_get("line_count")?,
        provider_ref: r.try_get("provider_ref")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_value_is_bound_never_spliced() {
        let filter = OrderFilter {
            scope: Scope::Customer(7),
            status: Some(OrderStatus::Paid),
            provider: Some(ProviderId::Stripe),
            currency: Some(Currency::Usd),
            from_ms: Some(1),
            until_ms: Some(2),
            search: Some(SearchMatch {
                order_ids: vec![3],
                product_ids: vec![4, 5],
                email: Some("a'b@example.com".into()),
            }),
        };
        let mut sql = Sql::default();
        let text = sql.conditions(&filter);
        assert!(!text.contains("a'b"), "{text}");
        assert!(!text.contains("stripe") && !text.contains("USD"), "{text}");
        assert_eq!(sql.binds.len(), 10, "{text}");
        assert!(text.contains("$10"), "{text}");
    }

    #[test]
    fn a_search_that_matched_nothing_matches_no_order() {
        let mut sql = Sql::default();
        assert_eq!(sql.search(&SearchMatch::default()), "1 = 0");
    }
}
