//! The render cache of the catalogue (`/`), product pages (`/products/{slug}`) and a visitor's
//! cart (`/cart`).
//!
//! Every visitor with the same header sees the same bytes on these pages, apart from the CSP nonce:
//! the product grid or product in the visitor's currency, and a header that shows the account,
//! currency, cart count and test mode ([`HeaderInfo`]); the cart page shows the visitor's cart,
//! re-priced. So the first render of a page for one header (and, on the cart page, one cart) is
//! kept and served again to every request with an equal one, until the catalogue changes:
//!
//! - **Per visitor, every request:** the header's facts (and the visitor's cart: a guest's in the
//!   session, a customer's saved one) are read from memory, not the database, once seen
//!   (`SessionCache`, `PriceCache`), and are part of the cache key, so no visitor is ever served
//!   another visitor's header or cart. The nonce is spliced in fresh.
//! - **Exact invalidation:** each entry remembers the catalogue version it was rendered at
//!   ([`OrderEvents::catalogue_version`]). Every price, stock or visibility change, here or on
//!   another instance sharing PostgreSQL (`NOTIFY`), bumps that version, so the next request renders
//!   anew. A page is stored only if the version and the visitor's header were the same before and
//!   after its render, so a change during a render is never kept. While another instance's changes
//!   could go unseen (the listener reconnecting), nothing is served from or stored in the cache.
//! - **Only plain page views:** GET without a query string (a no-JavaScript form error comes back
//!   as `?__err=…`), or the catalogue's own (`/?category=…&q=…&after=…`: a category, a search or
//!   a later page, kept only while there is room, as are cart pages), and only a `200 text/html`
//!   answer is kept.
//!
//! - **Compressed once:** each kept page is also gzip-compressed once, piece by piece between the
//!   nonces ([`gzip`]), and a browser that accepts gzip gets those pieces with this request's
//!   nonce stored (uncompressed) in between: a valid gzip stream of the page, at no compression
//!   cost per request.
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
use std::convert::Infallible;
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

/// One rendered page: its bytes split where the nonce was, the same pieces compressed, and its
/// headers.
struct Entry {
    version: u64,
    parts: Vec<Bytes>,
    gzip: gzip::Pieces,
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
    // A category, search or later page, or a visitor's cart: kept only while there is room, so a
    // stranger's stream of searches (or many carts) never pushes out the plain pages.
    let shared = request.uri().query().is_none() && request.uri().path() != "/cart";
    let path = request.uri().to_string();
    let Some((key, version)) = lookup_key(&cache, &ctx, &path).await else {
        return next.run(request).await;
    };
    if let Some(entry) = cache.get(&key, version) {
        metrics::counter!("storefront_page_cache_total", "result" => "hit").increment(1);
        let gzip = crate::static_assets::accepts(request.headers(), "gzip");
        return entry.response(&nonce, gzip);
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
        cache.put(key, entry, shared);
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

/// The cache key (path, header, and on the cart page the visitor's cart) and the catalogue
/// version, or `None` when the page must be rendered without the cache (version unknown, or the
/// session or cart could not be read).
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
        // The lines as stored (a guest's in the session, a customer's kept with theirs), with the
        // prices they were last seen at: the page's notices depend on them, and showing them
        // records the new ones (a new key).
        let cart = ctx.cart().await.ok()?.items().await.ok()?;
        key.push('\n');
        key.push_str(&serde_json::to_string(&cart).ok()?);
    }
    Some((key, version))
}

/// Headers the layers outside the cache add to a kept page (the security headers, the request
/// id, the date), with some to spare.
const RESPONSE_HEADER_ROOM: usize = 16;

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
        // Whichever copy is sent, a cache between must tell them apart.
        kept.insert(
            header::VARY,
            header::HeaderValue::from_static("accept-encoding"),
        );
        Some(Entry {
            version,
            gzip: gzip::Pieces::compress(&parts),
            parts,
            headers: kept,
        })
    }

    /// The page with this request's nonce, gzip-compressed if `gzip`. Uncompressed, the kept
    /// pieces go out as they are, with the nonce in between: nothing of the page is copied.
    fn response(&self, nonce: &CspNonce, gzip: bool) -> Response {
        let nonce = nonce.as_str().as_bytes();
        let (body, length) = if gzip {
            let body = self.gzip.with(&self.parts, nonce);
            let length = body.len();
            (Body::from(body), length)
        } else {
            let nonce = Bytes::copy_from_slice(nonce);
            let length = self.parts.iter().map(Bytes::len).sum::<usize>()
                + nonce.len() * self.parts.len().saturating_sub(1);
            let pieces = self.parts.iter().enumerate().flat_map(move |(i, part)| {
                let before = (i > 0).then(|| nonce.clone());
                before
                    .into_iter()
                    .chain([part.clone()])
                    .map(Ok::<_, Infallible>)
            });
            let pieces: Vec<_> = pieces.collect();
            (
                Body::from_stream(futures_util::stream::iter(pieces)),
                length,
            )
        };
        let mut response = Response::new(body);
        let headers = response.headers_mut();
        // Room for the layers' headers too (security headers, request id): a clone of the kept
        // map would be full, and grow (and copy itself) twice on the way out.
        headers.reserve(self.headers.len() + RESPONSE_HEADER_ROOM);
        headers.extend(self.headers.iter().map(|(k, v)| (k.clone(), v.clone())));
        headers.insert(header::CONTENT_LENGTH, header::HeaderValue::from(length));
        if gzip {
            headers.insert(
                header::CONTENT_ENCODING,
                header::HeaderValue::from_static("gzip"),
            );
        }
        response
    }
}

/// A page compressed once, for every nonce: gzip (RFC 1952) around a DEFLATE stream (RFC 1951)
/// made of the page's pieces, each compressed on its own and ended at a byte boundary (a sync
/// flush), with the nonce in between as a stored block (a 5-byte header, then the bytes as they
/// are). Only the checksum and the length in gzip's trailer depend on the nonce.
mod gzip {
    use axum::body::Bytes;
    use flate2::{Compress, Compression, FlushCompress};

    /// gzip's header: deflate, no name or time, unknown OS.
    const HEADER: [u8; 10] = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff];

    pub struct Pieces(Vec<Vec<u8>>);

    impl Pieces {
        pub fn compress(parts: &[Bytes]) -> Pieces {
            let last = parts.len().saturating_sub(1);
            Pieces(
                parts
                    .iter()
                    .enumerate()
                    .map(|(i, part)| {
                        let flush = if i == last {
                            FlushCompress::Finish
                        } else {
                            FlushCompress::Sync
                        };
                        deflate(part, flush)
                    })
                    .collect(),
            )
        }

        /// The gzip stream of `parts` joined by `nonce` (at most 65,535 bytes; a CSP nonce is 22).
        pub fn with(&self, parts: &[Bytes], nonce: &[u8]) -> Vec<u8> {
            let compressed = self.0.iter().map(Vec::len).sum::<usize>();
            let gaps = self.0.len().saturating_sub(1);
            let mut out =
                Vec::with_capacity(HEADER.len() + compressed + gaps * (5 + nonce.len()) + 8);
            out.extend_from_slice(&HEADER);
            let mut crc = crc32fast::Hasher::new();
            let mut length = 0u64;
            let stored = u16::try_from(nonce.len()).unwrap_or(u16::MAX);
            for (i, (piece, part)) in self.0.iter().zip(parts).enumerate() {
                if i > 0 {
                    // A stored block that is not the last: BFINAL 0, BTYPE 00, then LEN, NLEN.
                    out.push(0);
                    out.extend_from_slice(&stored.to_le_bytes());
                    out.extend_from_slice(&(!stored).to_le_bytes());
                    out.extend_from_slice(&nonce[..usize::from(stored)]);
                    crc.update(&nonce[..usize::from(stored)]);
                    length += u64::from(stored);
                }
                out.extend_from_slice(piece);
                crc.update(part);
                length += part.len() as u64;
            }
            out.extend_from_slice(&crc.finalize().to_le_bytes());
            // ISIZE: the length modulo 2^32, as gzip defines it.
            out.extend_from_slice(&((length & 0xffff_ffff) as u32).to_le_bytes());
            out
        }
    }

    fn deflate(input: &[u8], flush: FlushCompress) -> Vec<u8> {
        let mut compress = Compress::new(Compression::default(), false);
        let mut out = Vec::with_capacity(input.len() / 3 + 64);
        loop {
            let consumed = compress.total_in() as usize;
            let status = compress
                .compress_vec(&input[consumed..], &mut out, flush)
                .expect("deflate of a buffer in memory");
            let done = compress.total_in() as usize == input.len()
                && match flush {
                    FlushCompress::Finish => status == flate2::Status::StreamEnd,
                    // Ended at a byte boundary once it stops filling the buffer.
                    _ => out.len() < out.capacity(),
                };
            if done {
                return out;
            }
            out.reserve(out.capacity().max(1024));
        }
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

    #[tokio::test]
    async fn the_plain_copy_is_sent_in_pieces_with_its_length() {
        let page = Bytes::from_static(b"N0NCE<script nonce=\"N0NCE\">a</script><p>N0NCE</p>end");
        let entry = Entry::new(1, &page, "N0NCE", &HeaderMap::new()).unwrap();
        let nonce = CspNonce::generate();
        let response = entry.response(&nonce, false);
        let length = response.headers()[header::CONTENT_LENGTH].clone();
        let body = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        let expected = format!(
            "{0}<script nonce=\"{0}\">a</script><p>{0}</p>end",
            nonce.as_str()
        );
        assert_eq!(std::str::from_utf8(&body).unwrap(), expected);
        assert_eq!(length, expected.len().to_string().as_str());
    }

    fn page_with(nonce: &str) -> String {
        format!("<script nonce=\"{nonce}\">a</script><p>{nonce}</p>end")
    }

    /// What a browser makes of the gzip copy: the page with the nonce where it was.
    fn gunzip(bytes: &[u8]) -> String {
        use std::io::Read;
        let mut text = String::new();
        flate2::read::GzDecoder::new(bytes)
            .read_to_string(&mut text)
            .expect("a valid gzip stream");
        text
    }

    #[test]
    fn the_gzip_copy_is_the_page_with_each_requests_nonce() {
        // A page like the shop's: long, repetitive, the nonce in the head and near the end.
        let body = "<li class=\"card\">Canvas Tote Bag $18.00</li>".repeat(800);
        let page = Bytes::from(format!(
            "<head><script nonce=\"N0NCE\">a</script></head>{body}<script nonce=\"N0NCE\"></script>"
        ));
        let entry = Entry::new(1, &page, "N0NCE", &HeaderMap::new()).unwrap();
        for _ in 0..3 {
            let nonce = CspNonce::generate();
            let compressed = entry.gzip.with(&entry.parts, nonce.as_str().as_bytes());
            assert!(
                compressed.len() < page.len() / 10,
                "{} bytes",
                compressed.len()
            );
            assert_eq!(gunzip(&compressed), page_with_body(nonce.as_str(), &body));
            let response = entry.response(&nonce, true);
            assert_eq!(response.headers()[header::CONTENT_ENCODING], "gzip");
            assert_eq!(response.headers()[header::VARY], "accept-encoding");
        }
        // No nonce at all, and one right at the start and the end.
        for text in ["plain", "N0NCEmiddleN0NCE"] {
            let page = Bytes::from(text);
            let entry = Entry::new(1, &page, "N0NCE", &HeaderMap::new()).unwrap();
            let compressed = entry.gzip.with(&entry.parts, b"fresh");
            assert_eq!(gunzip(&compressed), text.replace("N0NCE", "fresh"));
        }
    }

    fn page_with_body(nonce: &str, body: &str) -> String {
        format!("<head><script nonce=\"{nonce}\">a</script></head>{body}<script nonce=\"{nonce}\"></script>")
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
