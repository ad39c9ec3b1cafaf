//! The built assets (`/pkg`: the WebAssembly, its JavaScript glue, the stylesheet).
//!
//! With content-hashed names (release builds) a file's URL changes with its content, so the files
//! are read into memory once at start-up, with the gzip and brotli copies made at build time
//! (`--precompress`), and answered from there: the copy the browser accepts (`Accept-Encoding`),
//! a strong `ETag` (`304` to a matching `If-None-Match`), and a year of caching. A name not found
//! in memory (a build made after start-up) is looked up on disk. Without hashed names (development
//! builds, rebuilt while the server runs) every request goes to disk and browsers must ask again.

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::header::{
    ACCEPT_ENCODING, CACHE_CONTROL, CONTENT_ENCODING, CONTENT_LENGTH, CONTENT_TYPE, ETAG,
    IF_NONE_MATCH, VARY,
};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tower::ServiceExt;
use tower_http::services::ServeDir;
use tower_http::set_header::SetResponseHeaderLayer;

/// A hashed name never changes content: browsers and CDNs may keep it for a year.
const IMMUTABLE: &str = "public, max-age=31536000, immutable";
/// Files larger than this stay on disk (the shop's largest, the WebAssembly, is under 1 MB).
const MAX_FILE: u64 = 16 * 1024 * 1024;

/// One file and its precompressed copies.
struct Asset {
    content_type: HeaderValue,
    etag: HeaderValue,
    identity: Bytes,
    gzip: Option<Bytes>,
    brotli: Option<Bytes>,
}

/// The files of the asset folder, by their path under it (`storefront.3fa9….wasm`).
struct InMemory {
    files: HashMap<String, Asset>,
    disk: ServeDir,
}

/// The `/pkg` router: from memory when the names are hashed, else from disk, uncached.
pub fn router<S: Clone + Send + Sync + 'static>(dir: PathBuf, hashed: bool) -> Router<S> {
    if !hashed {
        return Router::new().fallback_service(on_disk(&dir)).layer(
            SetResponseHeaderLayer::overriding(CACHE_CONTROL, HeaderValue::from_static("no-cache")),
        );
    }
    let files = load(&dir);
    tracing::debug!(files = files.len(), dir = %dir.display(), "built assets held in memory");
    let state = Arc::new(InMemory {
        files,
        disk: on_disk(&dir),
    });
    Router::new().fallback(serve).with_state(state)
}

fn on_disk(dir: &Path) -> ServeDir {
    ServeDir::new(dir).precompressed_br().precompressed_gzip()
}

/// Every file under `dir` but the precompressed copies, which go with their original.
fn load(dir: &Path) -> HashMap<String, Asset> {
    let mut files = HashMap::new();
    let mut folders = vec![dir.to_path_buf()];
    while let Some(folder) = folders.pop() {
        let Ok(entries) = std::fs::read_dir(&folder) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let Ok(meta) = entry.metadata() else { continue };
            if meta.is_dir() {
                folders.push(path);
                continue;
            }
            let extension = path.extension().and_then(|e| e.to_str()).unwrap_or("");
            if matches!(extension, "gz" | "br") || meta.len() > MAX_FILE {
                continue;
            }
            let (Ok(name), Ok(identity)) = (path.strip_prefix(dir), std::fs::read(&path)) else {
                continue;
            };
            let Some(name) = name.to_str().map(|n| n.replace('\\', "/")) else {
                continue;
            };
            let copy = |suffix: &str| {
                let mut name = path.clone().into_os_string();
                name.push(suffix);
                std::fs::read(name).ok().map(Bytes::from)
            };
            let content_type = mime_guess::from_path(&path).first_or_octet_stream();
            let etag = format!("\"{:016x}\"", fingerprint(&identity));
            let (Ok(content_type), Ok(etag)) = (
                HeaderValue::from_str(content_type.as_ref()),
                HeaderValue::from_str(&etag),
            ) else {
                continue;
            };
            files.insert(
                name,
                Asset {
                    content_type,
                    etag,
                    gzip: copy(".gz"),
                    brotli: copy(".br"),
                    identity: Bytes::from(identity),
                },
            );
        }
    }
    files
}

/// FNV-1a over the content: an `ETag` only has to change when the bytes do.
fn fingerprint(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, b| {
        (hash ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

async fn serve(State(assets): State<Arc<InMemory>>, request: Request) -> Response {
    let name = request.uri().path().trim_start_matches('/');
    let Some(asset) = assets.files.get(name) else {
        let mut response = assets
            .disk
            .clone()
            .oneshot(request)
            .await
            .map(IntoResponse::into_response)
            .unwrap_or_else(|e| match e {});
        if response.status().is_success() {
            response
                .headers_mut()
                .insert(CACHE_CONTROL, HeaderValue::from_static(IMMUTABLE));
        }
        return response;
    };
    if !matches!(*request.method(), Method::GET | Method::HEAD) {
        return StatusCode::METHOD_NOT_ALLOWED.into_response();
    }
    let mut headers = HeaderMap::new();
    headers.insert(CACHE_CONTROL, HeaderValue::from_static(IMMUTABLE));
    headers.insert(ETAG, asset.etag.clone());
    headers.insert(VARY, HeaderValue::from_static("accept-encoding"));
    if matches_etag(request.headers(), &asset.etag) {
        return (StatusCode::NOT_MODIFIED, headers).into_response();
    }
    headers.insert(CONTENT_TYPE, asset.content_type.clone());
    let accepted = |coding| accepts(request.headers(), coding);
    let (body, coding) = match (&asset.brotli, &asset.gzip) {
        (Some(brotli), _) if accepted("br") => (brotli.clone(), Some("br")),
        (_, Some(gzip)) if accepted("gzip") => (gzip.clone(), Some("gzip")),
        _ => (asset.identity.clone(), None),
    };
    if let Some(coding) = coding {
        headers.insert(CONTENT_ENCODING, HeaderValue::from_static(coding));
    }
    headers.insert(CONTENT_LENGTH, HeaderValue::from(body.len()));
    if request.method() == Method::HEAD {
        return (headers, Body::empty()).into_response();
    }
    (headers, body).into_response()
}

/// Whether `If-None-Match` names this `ETag` (or is `*`).
fn matches_etag(headers: &HeaderMap, etag: &HeaderValue) -> bool {
    let Some(wanted) = headers.get(IF_NONE_MATCH).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let etag = etag.to_str().unwrap_or_default();
    wanted
        .split(',')
        .map(str::trim)
        .any(|tag| tag == "*" || tag == etag || tag.strip_prefix("W/") == Some(etag))
}

/// Whether `Accept-Encoding` accepts `coding` (named, or `*`, with a quality above zero).
pub fn accepts(headers: &HeaderMap, coding: &str) -> bool {
    let mut star = false;
    for value in headers.get_all(ACCEPT_ENCODING) {
        let Ok(value) = value.to_str() else { continue };
        for item in value.split(',') {
            let mut parts = item.split(';');
            let name = parts.next().unwrap_or("").trim();
            let refused = parts.any(|p| {
                p.trim()
                    .strip_prefix("q=")
                    .and_then(|q| q.trim().parse::<f32>().ok())
                    .is_some_and(|q| q <= 0.0)
            });
            if name.eq_ignore_ascii_case(coding) {
                return !refused;
            }
            if name == "*" {
                star = !refused;
            }
        }
    }
    star
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(ACCEPT_ENCODING, HeaderValue::from_str(value).unwrap());
        headers
    }

    #[test]
    fn accept_encoding_is_read_with_its_qualities() {
        assert!(accepts(&with("gzip, deflate, br, zstd"), "br"));
        assert!(accepts(&with("gzip;q=1.0, br;q=0.5"), "br"));
        assert!(!accepts(&with("gzip, br;q=0"), "br"));
        assert!(accepts(&with("gzip, br;q=0"), "gzip"));
        assert!(!accepts(&with("gzip"), "br"));
        assert!(accepts(&with("*"), "br"));
        assert!(!accepts(&with("*, br;q=0"), "br"));
        assert!(!accepts(&with("identity"), "gzip"));
        assert!(!accepts(&HeaderMap::new(), "gzip"));
    }

    /// A hashed asset folder like cargo-leptos leaves it: a file and its precompressed copies.
    fn folder() -> PathBuf {
        let dir = std::env::temp_dir().join(format!("assets-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(dir.join("snippets")).unwrap();
        std::fs::write(dir.join("shop.abc.css"), "body{}").unwrap();
        std::fs::write(dir.join("shop.abc.css.br"), "BROTLI").unwrap();
        std::fs::write(dir.join("shop.abc.css.gz"), "GZIP").unwrap();
        std::fs::write(dir.join("snippets/glue.js"), "let x;").unwrap();
        dir
    }

    async fn ask(
        router: &Router,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
    ) -> Response {
        let mut request = Request::builder().method(method).uri(path);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        router
            .clone()
            .oneshot(request.body(Body::empty()).unwrap())
            .await
            .unwrap()
    }

    async fn body(response: Response) -> String {
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .unwrap();
        String::from_utf8(bytes.to_vec()).unwrap()
    }

    #[tokio::test]
    async fn hashed_assets_are_served_from_memory_in_the_encoding_asked_for() {
        let dir = folder();
        let router: Router = router(dir.clone(), true);
        // Gone from disk: what is answered now comes from memory.
        std::fs::remove_file(dir.join("shop.abc.css")).unwrap();

        let plain = ask(&router, Method::GET, "/shop.abc.css", &[]).await;
        assert_eq!(plain.status(), StatusCode::OK);
        assert_eq!(plain.headers()[CONTENT_TYPE], "text/css");
        assert_eq!(plain.headers()[CACHE_CONTROL], IMMUTABLE);
        assert_eq!(plain.headers()[VARY], "accept-encoding");
        assert_eq!(plain.headers()[CONTENT_LENGTH], "6");
        assert!(plain.headers().get(CONTENT_ENCODING).is_none());
        let etag = plain.headers()[ETAG].clone();
        assert_eq!(body(plain).await, "body{}");

        let br = ask(
            &router,
            Method::GET,
            "/shop.abc.css",
            &[("accept-encoding", "gzip, br")],
        )
        .await;
        assert_eq!(br.headers()[CONTENT_ENCODING], "br");
        assert_eq!(body(br).await, "BROTLI");
        let gzip = ask(
            &router,
            Method::GET,
            "/shop.abc.css",
            &[("accept-encoding", "gzip, br;q=0")],
        )
        .await;
        assert_eq!(gzip.headers()[CONTENT_ENCODING], "gzip");
        assert_eq!(body(gzip).await, "GZIP");

        let again = ask(
            &router,
            Method::GET,
            "/shop.abc.css",
            &[("if-none-match", etag.to_str().unwrap())],
        )
        .await;
        assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
        assert_eq!(body(again).await, "");
        let head = ask(&router, Method::HEAD, "/shop.abc.css", &[]).await;
        assert_eq!(head.headers()[CONTENT_LENGTH], "6");
        assert_eq!(body(head).await, "");
        assert_eq!(
            ask(&router, Method::POST, "/shop.abc.css", &[])
                .await
                .status(),
            StatusCode::METHOD_NOT_ALLOWED
        );

        // In a folder, and a file written after start-up, from disk.
        assert_eq!(
            body(ask(&router, Method::GET, "/snippets/glue.js", &[]).await).await,
            "let x;"
        );
        std::fs::write(dir.join("later.def.js"), "late").unwrap();
        let later = ask(&router, Method::GET, "/later.def.js", &[]).await;
        assert_eq!(later.headers()[CACHE_CONTROL], IMMUTABLE);
        assert_eq!(body(later).await, "late");
        assert_eq!(
            ask(&router, Method::GET, "/missing.js", &[]).await.status(),
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            ask(&router, Method::GET, "/../Cargo.toml", &[])
                .await
                .status(),
            StatusCode::NOT_FOUND
        );
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[tokio::test]
    async fn without_hashed_names_every_request_goes_to_disk() {
        let dir = folder();
        let router: Router = router(dir.clone(), false);
        std::fs::write(dir.join("shop.abc.css"), "body{color:red}").unwrap();
        let response = ask(&router, Method::GET, "/shop.abc.css", &[]).await;
        assert_eq!(response.headers()[CACHE_CONTROL], "no-cache");
        assert_eq!(body(response).await, "body{color:red}");
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn if_none_match_names_the_etag() {
        let etag = HeaderValue::from_static("\"00ff\"");
        let asking = |v: &str| {
            let mut h = HeaderMap::new();
            h.insert(IF_NONE_MATCH, HeaderValue::from_str(v).unwrap());
            matches_etag(&h, &etag)
        };
        assert!(asking("\"00ff\""));
        assert!(asking("\"aa\", W/\"00ff\""));
        assert!(asking("*"));
        assert!(!asking("\"00fe\""));
        assert!(!matches_etag(&HeaderMap::new(), &etag));
    }
}
