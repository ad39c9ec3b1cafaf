//! The order lists as the pages and the CSV see them: parse the filter form (a bad value is a
//! message, never a 500), resolve the search text, read one keyset page with its lines (one query
//! for all of them) and, for merchants, the totals per currency.

use crate::model::utc::{parse_day_end_ms, parse_day_start_ms};
use crate::model::{
    Currency, CurrencyTotal, ListedItem, ListedOrder, Money, OrderListPage, OrderListQuery,
    OrderStatus, ProviderId,
};
use crate::server::db::order_search::{self, Cursor, ListRow, OrderFilter, Scope, SearchMatch};
use crate::server::db::Db;
use crate::server::error::{ServerError, ServerResult};
use sqlx::AnyConnection;
use std::collections::HashMap;

/// Orders per page of a customer's history.
pub const HISTORY_PAGE: i64 = 20;
/// Orders per page of the merchant's list.
pub const ADMIN_PAGE: i64 = 50;
/// Longer search text is refused (nothing stored is that long).
const MAX_SEARCH: usize = 200;

/// Who is listing: a customer sees their own orders, a merchant everyone's (and may filter by
/// currency and search by email or provider id).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lister {
    Customer(i64),
    Merchant,
}

fn refuse(message: &str) -> ServerError {
    ServerError::invalid(message)
}

fn choice<T>(text: &str, parse: impl Fn(&str) -> Option<T>, what: &str) -> ServerResult<Option<T>> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    parse(text)
        .map(Some)
        .ok_or_else(|| refuse(&format!("Unknown {what}. Please pick one from the list.")))
}

fn day(text: &str, end: bool, label: &str) -> ServerResult<Option<i64>> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    let parsed = if end {
        parse_day_end_ms(text)
    } else {
        parse_day_start_ms(text)
    };
    parsed.map(Some).ok_or_else(|| {
        refuse(&format!(
            "{label} must be a date written YYYY-MM-DD, for example 2026-03-31."
        ))
    })
}

/// `ORD-000123`, `ord-123` or `123`: the order id a reference names.
pub fn reference_id(text: &str) -> Option<i64> {
    let digits = match text.get(..4) {
        Some(prefix) if prefix.eq_ignore_ascii_case("ord-") => &text[4..],
        _ => text,
    };
    if digits.is_empty() || digits.len() > 15 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// What the search text can mean for this lister, looked up where a small table answers first.
async fn resolve_search(
    conn: &mut AnyConnection,
    text: &str,
    lister: Lister,
) -> ServerResult<Option<SearchMatch>> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    if text.chars().count() > MAX_SEARCH {
        return Err(refuse("The search text is too long."));
    }
    let mut found = SearchMatch::default();
    if let Some(id) = reference_id(text) {
        found.order_ids.push(id);
    }
    found.product_ids = order_search::products_named(conn, text).await?;
    if lister == Lister::Merchant {
        if text.contains('@') {
            found.email = Some(text.to_lowercase());
        } else {
            let ids = order_search::orders_with_provider_id(conn, text).await?;
            found.order_ids.extend(ids);
        }
    }
    Ok(Some(found))
}

/// Parse the form into a filter for this lister (the cursor is parsed by [`cursor`]).
pub async fn filter(
    conn: &mut AnyConnection,
    query: &OrderListQuery,
    lister: Lister,
) -> ServerResult<OrderFilter> {
    let currency = match lister {
        Lister::Merchant => choice(&query.currency, |c| c.parse::<Currency>().ok(), "currency")?,
        Lister::Customer(_) => None,
    };
    let from_ms = day(&query.from, false, "From")?;
    let until_ms = day(&query.to, true, "To")?;
    if let (Some(from), Some(until)) = (from_ms, until_ms) {
        if until <= from {
            return Err(refuse("From must not be after To."));
        }
    }
    Ok(OrderFilter {
        scope: match lister {
            Lister::Customer(id) => Scope::Customer(id),
            Lister::Merchant => Scope::All,
        },
        status: choice(&query.status, OrderStatus::parse, "status")?,
        provider: choice(&query.provider, ProviderId::parse, "payment method")?,
        currency,
        from_ms,
        until_ms,
        search: resolve_search(conn, &query.q, lister).await?,
    })
}

/// The page cursor: `before` or `after` (a link from the list itself; anything else is refused).
pub fn cursor(query: &OrderListQuery) -> ServerResult<Cursor> {
    let parse = |text: &str| {
        text.trim()
            .parse::<i64>()
            .ok()
            .filter(|id| *id > 0)
            .ok_or_else(|| refuse("That page link is not valid. Please start from the first page."))
    };
    match (query.before.trim(), query.after.trim()) {
        ("", "") => Ok(Cursor::First),
        (before, "") => parse(before).map(Cursor::Before),
        ("", after) => parse(after).map(Cursor::After),
        _ => Err(refuse(
            "That page link is not valid. Please start from the first page.",
        )),
    }
}

fn listed(row: ListRow, items: Vec<ListedItem>, merchant: bool) -> ServerResult<ListedOrder> {
    let corrupt = |what: &str| ServerError::Internal(format!("order {}: unknown {what}", row.id));
    let currency: Currency = row.currency.parse().map_err(|_| corrupt("currency"))?;
    let provider = match &row.provider {
        Some(p) => Some(ProviderId::parse(p).ok_or_else(|| corrupt("provider"))?),
        None => None,
    };
    Ok(ListedOrder {
        status: OrderStatus::parse(&row.status).ok_or_else(|| corrupt("status"))?,
        reference: row.reference,
        created_at: row.created_at,
        items,
        total: Money::new(row.total_minor, currency),
        refunded: Money::new(row.refunded_minor, currency),
        provider,
        customer: merchant.then_some((row.email, row.name)),
    })
}

/// One page of the lister's orders for the form's filters.
pub async fn list(db: &Db, lister: Lister, query: &OrderListQuery) -> ServerResult<OrderListPage> {
    let mut conn = db.pool.acquire().await?;
    let filter = filter(&mut conn, query, lister).await?;
    let cursor = cursor(query)?;
    let size = match lister {
        Lister::Customer(_) => HISTORY_PAGE,
        Lister::Merchant => ADMIN_PAGE,
    };
    let (rows, more) = order_search::page(&mut conn, &filter, cursor, size).await?;
    let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
    let mut items: HashMap<i64, Vec<ListedItem>> = HashMap::new();
    for line in order_search::lines_of(&mut conn, &ids).await? {
        items.entry(line.order_id).or_default().push(ListedItem {
            name: line.name,
            quantity: line.quantity,
        });
    }
    let (first, last) = (ids.first().copied(), ids.last().copied());
    let (older, newer) = match cursor {
        Cursor::First => (more.then_some(last).flatten(), None),
        Cursor::Before(id) => (
            more.then_some(last).flatten(),
            Some(first.unwrap_or(id - 1)),
        ),
        Cursor::After(id) => (
            Some(last.unwrap_or(id + 1)),
            more.then_some(first).flatten(),
        ),
    };
    let merchant = lister == Lister::Merchant;
    let orders = rows
        .into_iter()
        .map(|row| {
            let lines = items.remove(&row.id).unwrap_or_default();
            listed(row, lines, merchant)
        })
        .collect::<ServerResult<Vec<_>>>()?;
    let totals = if merchant {
        totals(&mut conn, &filter).await?
    } else {
        Vec::new()
    };
    Ok(OrderListPage {
        orders,
        older: older.map(|id| id.to_string()),
        newer: newer.map(|id| id.to_string()),
        totals,
    })
}

async fn totals(
    conn: &mut AnyConnection,
    filter: &OrderFilter,
) -> ServerResult<Vec<CurrencyTotal>> {
    order_search::totals(conn, filter)
        .await?
        .into_iter()
        .map(|(code, orders, total, refunded)| {
            let currency: Currency = code
                .parse()
                .map_err(|_| ServerError::Internal(format!("unknown currency {code:?}")))?;
            Ok(CurrencyTotal {
                orders,
                total: Money::new(total, currency),
                refunded: Money::new(refunded, currency),
            })
        })
        .collect()
}

/// Whether the logged-in customer placed this order (the order page links back to the history).
pub async fn in_history(db: &Db, user_id: i64, reference: &str) -> ServerResult<bool> {
    let mut conn = db.pool.acquire().await?;
    Ok(order_search::owner_of(&mut conn, reference).await? == Some(Some(user_id)))
}

/// The merchant check for the plain routes (CSV, live stream): the session's account is a merchant.
pub async fn is_merchant(db: &Db, user_id: Option<i64>) -> ServerResult<bool> {
    let Some(id) = user_id else { return Ok(false) };
    let mut conn = db.pool.acquire().await?;
    Ok(crate::server::db::users::by_id(&mut conn, id)
        .await?
        .is_some_and(|u| u.role == crate::model::Role::Merchant))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_in_any_case_or_as_digits() {
        assert_eq!(reference_id("ORD-000123"), Some(123));
        assert_eq!(reference_id("ord-123"), Some(123));
        assert_eq!(reference_id("000123"), Some(123));
        for other in [
            "ORD-",
            "Mug",
            "ORD-12a",
            "cs_test_1",
            "ORD-000123-A1",
            "1234567890123456",
        ] {
            assert_eq!(reference_id(other), None, "{other}");
        }
    }

    #[test]
    fn cursors_are_one_positive_id() {
        let q = |before: &str, after: &str| OrderListQuery {
            before: before.into(),
            after: after.into(),
            ..Default::default()
        };
        assert_eq!(cursor(&q("", "")).unwrap(), Cursor::First);
        assert_eq!(cursor(&q("42", "")).unwrap(), Cursor::Before(42));
        assert_eq!(cursor(&q("", "7")).unwrap(), Cursor::After(7));
        for (b, a) in [("1", "2"), ("x", ""), ("", "-3"), ("0", "")] {
            assert!(cursor(&q(b, a)).is_err(), "{b} {a}");
        }
    }
}
