//! The order lists (a customer's transaction history, the merchant's orders): the query as typed
//! into the filter form and carried by the Older / Newer / Export links, and one page of results.

use super::{Money, OrderStatus, ProviderId};
use serde::{Deserialize, Serialize};

/// The filter form's fields and the page cursor, as raw text; the server parses them (a bad value
/// is a message on the page). Every field is optional: empty means "any".
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct OrderListQuery {
    pub status: String,
    pub provider: String,
    /// Merchants only.
    pub currency: String,
    /// `YYYY-MM-DD`, UTC, inclusive.
    pub from: String,
    /// `YYYY-MM-DD`, UTC, inclusive.
    pub to: String,
    /// A reference, a product name, and for merchants a customer's email or a provider's id.
    pub q: String,
    /// Opaque cursor: the page of orders older than this one.
    pub before: String,
    /// Opaque cursor: the page of orders newer than this one.
    pub after: String,
}

impl OrderListQuery {
    /// The filters (no cursor) as a URL query string, `status=paid&q=mug`; empty fields left out.
    pub fn filters(&self) -> String {
        [
            ("status", &self.status),
            ("provider", &self.provider),
            ("currency", &self.currency),
            ("from", &self.from),
            ("to", &self.to),
            ("q", &self.q),
        ]
        .into_iter()
        .filter(|(_, v)| !v.trim().is_empty())
        .map(|(k, v)| format!("{k}={}", encode_component(v.trim())))
        .collect::<Vec<_>>()
        .join("&")
    }

    /// `path?filters&cursor=value`: a link that keeps the filters.
    pub fn link(&self, path: &str, cursor: Option<(&str, &str)>) -> String {
        let mut query = self.filters();
        if let Some((name, value)) = cursor {
            if !query.is_empty() {
                query.push('&');
            }
            query.push_str(&format!("{name}={}", encode_component(value)));
        }
        if query.is_empty() {
            path.to_string()
        } else {
            format!("{path}?{query}")
        }
    }
}

/// Percent-encode everything but RFC 3986's unreserved characters.
pub fn encode_component(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// Where to go after logging in: `next` resolved as a browser would (dot segments, `%2e` among
/// them, removed) and kept only if the result is a path on this site: one leading `/`, never `//`
/// or `/\` (which browsers read as another host), no backslash or control character anywhere.
/// Returns the resolved path (with its query), else `None`.
pub fn safe_next(next: &str) -> Option<String> {
    if !next.starts_with('/') || next.contains('\\') || next.chars().any(char::is_control) {
        return None;
    }
    let (path, rest) = match next.find(['?', '#']) {
        Some(i) => next.split_at(i),
        None => (next, ""),
    };
    let resolved = remove_dot_segments(path);
    let local = resolved.starts_with('/') && !resolved.starts_with("//");
    local.then(|| format!("{resolved}{rest}"))
}

/// RFC 3986 §5.2.4 on an absolute path, reading `%2e` as `.` the way browsers do.
fn remove_dot_segments(path: &str) -> String {
    let mut out: Vec<&str> = Vec::new();
    let segments: Vec<&str> = path.split('/').skip(1).collect();
    let last = segments.len().saturating_sub(1);
    for (i, segment) in segments.iter().enumerate() {
        let dots = segment.to_ascii_lowercase().replace("%2e", ".");
        match dots.as_str() {
            "." | ".." => {
                if dots == ".." {
                    out.pop();
                }
                // A dot segment at the end leaves the path ending in `/`.
                if i == last {
                    out.push("");
                }
            }
            _ => out.push(segment),
        }
    }
    format!("/{}", out.join("/"))
}

/// One product of a listed order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListedItem {
    pub name: String,
    pub quantity: i64,
}

/// One row of an order list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ListedOrder {
    pub reference: String,
    /// When it was placed (ms since the epoch).
    pub created_at: i64,
    pub items: Vec<ListedItem>,
    pub total: Money,
    pub refunded: Money,
    pub provider: Option<ProviderId>,
    pub status: OrderStatus,
    /// The customer's email and name: merchants' lists only.
    pub customer: Option<(String, String)>,
}

/// The filtered set's figures in one currency (merchants' list).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CurrencyTotal {
    pub orders: i64,
    pub total: Money,
    pub refunded: Money,
}

/// One page of an order list, newest first, with the cursors of its neighbours.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrderListPage {
    pub orders: Vec<ListedOrder>,
    /// Cursor for the Older link, if there are older orders.
    pub older: Option<String>,
    /// Cursor for the Newer link, if there are newer orders.
    pub newer: Option<String>,
    /// Per currency, for the whole filtered set (merchants' list; empty in the history).
    pub totals: Vec<CurrencyTotal>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_keep_filters_and_encode_them() {
        let query = OrderListQuery {
            status: "paid".into(),
            q: "Mug & co".into(),
            before: "ignored".into(),
            ..Default::default()
        };
        assert_eq!(
            query.link("/account/orders", Some(("before", "42"))),
            "/account/orders?status=paid&q=Mug%20%26%20co&before=42"
        );
        assert_eq!(OrderListQuery::default().link("/a", None), "/a");
    }

    #[test]
    fn next_is_a_local_path_only() {
        assert_eq!(
            safe_next("/account/orders?status=paid").as_deref(),
            Some("/account/orders?status=paid")
        );
        assert_eq!(safe_next("/a/./b/../c").as_deref(), Some("/a/c"));
        assert_eq!(safe_next("/a/..").as_deref(), Some("/"));
        assert_eq!(safe_next("/..").as_deref(), Some("/"));
        for bad in [
            "//evil.example",
            "https://evil.example",
            "/\\evil.example",
            "evil",
            "",
            "/a\nb",
            // Resolved, these start with `//`: another host to a browser.
            "/.//evil.example?__sig=x",
            "/%2e//evil.example",
            "/%2E%2E//evil.example",
            "/a/..//evil.example",
        ] {
            assert_eq!(safe_next(bad), None, "{bad}");
        }
    }
}
