//! The render cache of the catalogue (`/`), product pages (`/products/{slug}`) and a guest's cart
//! (`/cart`).
//!
//! Every visitor with the same header sees the same bytes on these pages, apart from the CSP nonce:
//! the product grid or product in the visitor's currency, and a header that shows the account,
//! currency, cart count and test mode ([`HeaderInfo`]); the cart page shows the guest's cart,
//! re-priced. So the first render of a page for one header (and, on the cart page, one cart) is
//! kept and served again to every request with an equal one, until the catalogue changes:
//!
//! - **Per visitor, every request:** the header's facts (and a guest's cart) are read from the
//!   session and the price cache, not the database, once seen (`SessionCache`, `PriceCache`), and
//!   are part of the cache key, so no visitor is ever served another visitor's header or cart. The
//!   nonce is spliced in fresh. A customer's cart is in the database, so their cart page is
//!   rendered each time.
//! - **Exact invalidation:** each entry remembers the catalogue version it was rendered at
//!   ([`OrderEvents::catalogue_version`]). Every price, stock or visibility change, here or on
//!   another instance sharing PostgreSQL (`NOTIFY`), bumps that version, so the next request renders
//!   anew. A page is stored only if the version and the visitor's header were the same before and
//!   after its render, so a change during a render is never kept. While another instance's changes
//!   could go unseen (the listener reconnecting), nothing is served from or stored in the cache.
//! - **Only plain page views:** GET without a query string (a no-JavaScript form error comes back
//!   as `?__err=…`), or the catalogue's own (`/?category=…&q=…&after=…`: a category, a search or
//!   a later page, kept only while there is room), and only a `200 text/html` answer is kept.
//!
//! Checkout re-prices from the database whatever a page showed.

use app::model::HeaderInfo;
use app::server::auth::ShopSession;
use app::server::context::Ctx;
use app::server::csp::CspNonce;
use app::server::state::AppState;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::collections::HashMap;
use std::sync::{Arc, RwLock};

/// At most this many rendered pages (each about 20 KB); when full, older versions go first, then
/// everything. Visitors without an account share one entry per page and currency.
const MAX_ENTRIES: usize = 512;
/// The longest catalogue query kept (a category, a search of up to 100 characters and a page).
const MAX_QUERY: usize = 400;
/// The most of a rendered page read into memory (the shop's pages are about 20 KB; a catalogue of
/// thousands of products stays under it). A larger page is answered 500 and logged, since its body
/// was read in part.
const MAX_PAGE_BYTES: usize = 16 * 1024 * 1024;

/// The cache and what it needs to compute a visitor's header.
pub struct PageCache {
    state: AppState,
    entries: RwLock<HashMap<String, Arc<Entry>>>,
}

/// One rendered page: its bytes split where the nonce was, and its headers.
struct Entry {
    version: u64,
    parts: Vec<Bytes>,
    headers: HeaderMap,
}

impl PageCache {
    pub fn new(state: AppState) -> Arc<PageCache> {
        Arc::new(PageCache {
            state,
            entries: RwLock::new(HashMap::new()),
        })
    }

    fn get(&self, key: &str, version: u64) -> Option<Arc<Entry>> {
        let entries = self.entries.read().unwrap_or_else(|e| e.into_inner());
        entries
            .get(key)
            .filter(|entry| entry.version == version)
            .cloned()
    }

    /// Keep `entry`; when full, `make_room` drops older versions (then everything) for it, else it
    /// is not kept.
    fn put(&self, key: String, entry: Entry, make_room: bool) {
        let mut entries = self.entries.write().unwrap_or_else(|e| e.into_inner());
        if entries.len() >= MAX_ENTRIES && !entries.contains_key(&key) {
            if !make_room {
                return;
            }
            let current = entry.version;
            entries.retain(|_, e| e.version == current);
            if entries.len() >= MAX_ENTRIES {
                entries.clear();
            }
        }
        entries.insert(key, Arc::new(entry));
    }
}

/// The middleware: serve from the cache, or render and keep.
pub async fn serve(State(cache): State<Arc<PageCache>>, request: Request, next: Next) -> Response {
    if !cacheable(&request) {
        return next.run(request).await;
    }
    let (Some(nonce), Some(session)) = (
        request.extensions().get::<CspNonce>().cloned(),
        request
            .extensions()
            .get::<tower_sessions::Session>()
            .cloned(),
    ) else {
        return next.run(request).await;
    };
    let ctx = Ctx {
        state: cache.state.clone(),
        session: ShopSession(session),
    };
    // A category, search or later page: kept only while there is room, so a stranger's stream of
    // searches never pushes out the plain pages.
    let queried = request.uri().query().is_some();
    let path = request.uri().to_string();
    let Some((key, version)) = lookup_key(&cache, &ctx, &path).await else {
        return next.run(request).await;
    };
    if let Some(entry) = cache.get(&key, version) {
        metrics::counter!("storefront_page_cache_total", "result" => "hit").increment(1);
        return entry.response(&nonce);
    }
    metrics::counter!("storefront_page_cache_total", "result" => "miss").increment(1);
    let response = next.run(request).await;
    if response.status() != StatusCode::OK || !is_html(response.headers()) {
        return response;
    }
    let (parts, body) = response.into_parts();
    let bytes = match axum::body::to_bytes(body, MAX_PAGE_BYTES).await {
        Ok(bytes) => bytes,
        Err(e) => {
            tracing::warn!(error = %e, "could not read a rendered page");
            return StatusCode::INTERNAL_SERVER_ERROR.into_response();
        }
    };
    // Keep it only if nothing it shows changed while it was rendered.
    let unchanged = lookup_key(&cache, &ctx, &path)
        .await
        .is_some_and(|after| after == (key.clone(), version));
    if let Some(entry) = unchanged
        .then(|| Entry::new(version, &bytes, nonce.as_str(), &parts.headers))
        .flatten()
    {
        cache.put(key, entry, !queried);
    }
    Response::from_parts(parts, Body::from(bytes))
}

/// A plain view of one product, or of the catalogue: all of it, or a category, a search or a
/// page of them (`/?category=…&q=…&after=…`, nothing else in the query, each once).
fn cacheable(request: &Request) -> bool {
    if request.method() != Method::GET {
        return false;
    }
    let path = request.uri().path();
    match request.uri().query() {
        None => {
            path == "/"
                || path == "/cart"
                || path
                    .strip_prefix("/products/")
                    .is_some_and(|slug| !slug.is_empty() && !slug.contains('/'))
        }
        Some(query) => path == "/" && is_catalogue_query(query),
    }
}

/// The catalogue's own query: `category`, `q`, `after` and `before`, each at most once, short.
fn is_catalogue_query(query: &str) -> bool {
    const KEYS: [&str; 4] = ["category", "q", "after", "before"];
    let mut seen = Vec::new();
    query.len() <= MAX_QUERY
        && query.split('&').all(|pair| {
            let key = pair.split('=').next().unwrap_or_default();
            KEYS.contains(&key) && !seen.contains(&key) && {
                seen.push(key);
                true
            }
        })
}

/// The cache key (path, header, and on the cart page the guest's cart) and the catalogue version,
/// or `None` when the page must be rendered without the cache (version unknown, the session could
/// not be read, or a customer's cart page).
async fn lookup_key(cache: &PageCache, ctx: &Ctx, path: &str) -> Option<(String, u64)> {
    let version = cache.state.events.catalogue_version()?;
    let header: HeaderInfo = match ctx.header_info().await {
        Ok(header) => header,
        Err(e) => {
            tracing::debug!(error = %e, "page cache: no header for this visitor");
            return None;
        }
    };
    let mut key = format!("{path}\n{}", serde_json::to_string(&header).ok()?);
    if path == "/cart" {
        if header.user.is_some() {
            return None;
        }
        // The lines as stored, with the prices they were last seen at: the page's notices
        // depend on them, and showing them records the new ones (a new key).
        let cart = ctx.session.guest_cart().await.ok()?;
        key.push('\n');
        key.push_str(&serde_json::to_string(&cart).ok()?);
    }
    Some((key, version))
}

impl Entry {
    /// `None` when the page is not UTF-8 or has no nonce to replace (then it is not kept).
    fn new(version: u64, page: &Bytes, nonce: &str, headers: &HeaderMap) -> Option<Entry> {
        let text = std::str::from_utf8(page)
            .ok()
            .filter(|_| !nonce.is_empty())?;
        let mut parts = Vec::new();
        let mut start = 0;
        for (at, _) in text.match_indices(nonce) {
            parts.push(page.slice(start..at));
            start = at + nonce.len();
        }
        parts.push(page.slice(start..));
        let mut kept = headers.clone();
        kept.remove(header::SET_COOKIE);
        kept.remove(header::CONTENT_LENGTH);
        Some(Entry {
            version,
            parts,
            headers: kept,
        })
    }

    /// The page with this request's nonce.
    fn response(&self, nonce: &CspNonce) -> Response {
        let nonce = nonce.as_str().as_bytes();
        let length = self.parts.iter().map(Bytes::len).sum::<usize>()
            + nonce.len() * self.parts.len().saturating_sub(1);
        let mut body = Vec::with_capacity(length);
        for (i, part) in self.parts.iter().enumerate() {
            if i > 0 {
                body.extend_from_slice(nonce);
            }
            body.extend_from_slice(part);
        }
        let mut response = Response::new(Body::from(body));
        *response.headers_mut() = self.headers.clone();
        response
    }
}

fn is_html(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/html"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_nonce_is_spliced_where_it_was() {
        let page = Bytes::from_static(b"<script nonce=\"N0NCE\">a</script><p>N0NCE</p>end");
        let entry = Entry::new(1, &page, "N0NCE", &HeaderMap::new()).unwrap();
        assert_eq!(entry.parts.len(), 3);
        let nonce = CspNonce::generate();
        let body = entry
            .parts
            .iter()
            .map(|p| String::from_utf8_lossy(p))
            .collect::<Vec<_>>();
        assert_eq!(body.join(nonce.as_str()), page_with(nonce.as_str()));
    }

    fn page_with(nonce: &str) -> String {
        format!("<script nonce=\"{nonce}\">a</script><p>{nonce}</p>end")
    }

    #[test]
    fn only_plain_page_views_are_cacheable() {
        let get = |uri: &str| Request::builder().uri(uri).body(Body::empty()).unwrap();
        assert!(cacheable(&get("/")));
        assert!(cacheable(&get("/products/mug")));
        assert!(!cacheable(&get("/?__err=x")));
        assert!(cacheable(&get("/?category=kitchen&q=mug&after=3.4")));
        assert!(!cacheable(&get("/?q=a&q=b")));
        assert!(!cacheable(&get("/?added=7")));
        assert!(!cacheable(&get("/products/mug?category=x")));
        assert!(!cacheable(&get(&format!("/?q={}", "x".repeat(500)))));
        assert!(!cacheable(&get("/products/")));
        assert!(!cacheable(&get("/products/a/b")));
        assert!(cacheable(&get("/cart")));
        assert!(!cacheable(&get("/cart?__err=x")));
        assert!(!cacheable(&get("/checkout")));
        let post = Request::builder()
            .method(Method::POST)
            .uri("/")
            .body(Body::empty())
            .unwrap();
        assert!(!cacheable(&post));
    }
}
