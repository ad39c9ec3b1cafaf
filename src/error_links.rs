//! The HTTP side of signed error links (see `app::server::error_links`): responses from `/api/…`
//! that redirect with an error get its signature; a page request carrying an error without a valid
//! signature is redirected (303) to the same page without the error, so neither the server render
//! nor the browser's hydration ever sees text that the shop did not produce.

use app::server::error_links::{ErrorLinks, ERROR_PARAM, PATH_PARAM, SIGNATURE_PARAM};
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use reqwest::Url;
use std::sync::Arc;

/// Any origin will do: only the path and query of a parsed URL are used.
const PLACEHOLDER_ORIGIN: &str = "http://shop.invalid";

pub async fn guard(State(links): State<Arc<ErrorLinks>>, request: Request, next: Next) -> Response {
    if request.uri().path().starts_with("/api/") {
        let path = request.uri().path().to_string();
        let mut response = next.run(request).await;
        sign_location(&links, &path, &mut response);
        return response;
    }
    if matches!(*request.method(), Method::GET | Method::HEAD) {
        if let Some(clean) = unsigned_error_removed(&links, &request) {
            tracing::warn!(path = %request.uri().path(), "dropped an unsigned error from a page link");
            return match HeaderValue::from_str(&clean) {
                Ok(location) => {
                    (StatusCode::SEE_OTHER, [(header::LOCATION, location)]).into_response()
                }
                Err(_) => StatusCode::BAD_REQUEST.into_response(),
            };
        }
    }
    next.run(request).await
}

/// Sign the error a redirect's `Location` carries, if the server-function layer's error path put
/// it there: that path marks its response with the `serverfnerror` header naming the function, and
/// appends `__path` (the same function) and `__err` to the page's own URL, which may still hold an
/// earlier error (a second refusal posted from an error page). Only the last pair is the new one,
/// so earlier pairs and any old signature are dropped. Any other redirect (a success going to
/// `next`, say) never gets a signature, whatever its URL holds: its error parameters came from the
/// request. Either way the `Location` never starts with `//` (another host to a browser).
fn sign_location(links: &ErrorLinks, function: &str, response: &mut Response) {
    let Some(location) = response
        .headers()
        .get(header::LOCATION)
        .and_then(|v| v.to_str().ok())
    else {
        return;
    };
    let from_error_path = response
        .headers()
        .get(SERVER_FN_ERROR_HEADER)
        .is_some_and(|v| v.as_bytes() == function.as_bytes());
    let relative = location.starts_with('/');
    if !location.contains(ERROR_PARAM)
        && !location.contains(PATH_PARAM)
        && !location.contains(SIGNATURE_PARAM)
    {
        if relative {
            let safe = same_host(location);
            if safe != location {
                if let Ok(value) = HeaderValue::from_str(&safe) {
                    response.headers_mut().insert(header::LOCATION, value);
                }
            }
        }
        return;
    }
    let Ok(mut url) = Url::parse(PLACEHOLDER_ORIGIN).and_then(|base| base.join(location)) else {
        return;
    };
    let pairs: Vec<(String, String)> = url
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let last = |name: &str| {
        pairs
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    let error = last(PATH_PARAM)
        .zip(last(ERROR_PARAM))
        .filter(|(path, _)| from_error_path && path == function);
    let mut kept: Vec<(String, String)> = pairs
        .iter()
        .filter(|(k, _)| ![PATH_PARAM, ERROR_PARAM, SIGNATURE_PARAM].contains(&k.as_str()))
        .cloned()
        .collect();
    let signature = error.map(|(path, error)| {
        let signature = links.sign(&path, &error);
        kept.push((PATH_PARAM.to_string(), path));
        kept.push((ERROR_PARAM.to_string(), error));
        signature
    });
    set_query(&mut url, kept, signature);
    let signed = if relative {
        path_and_query(&url)
    } else {
        url.to_string()
    };
    if let Ok(value) = HeaderValue::from_str(&signed) {
        response.headers_mut().insert(header::LOCATION, value);
    }
}

/// The response header server functions' error path sets (server_fn's `SERVER_FN_ERROR_HEADER`).
const SERVER_FN_ERROR_HEADER: &str = "serverfnerror";

/// A relative `Location` as a path on this host: leading `/` and `\` runs (which a browser reads
/// as `//host`) become one `/`.
fn same_host(location: &str) -> String {
    let rest = location.trim_start_matches(['/', '\\']);
    if rest.len() + 1 == location.len() {
        return location.to_string();
    }
    format!("/{rest}")
}

/// For a page request whose error is not validly signed: the same path and query without the
/// error parameters. `None` when there is nothing to remove.
fn unsigned_error_removed(links: &ErrorLinks, request: &Request) -> Option<String> {
    let query = request.uri().query()?;
    // The page reads the *decoded* query (`%5F%5Ferr` is `__err` to it), so only a query that can
    // spell neither name, even percent-encoded, is let through unparsed.
    if !query.contains(ERROR_PARAM) && !query.contains(PATH_PARAM) && !query.contains('%') {
        return None;
    }
    let mut url = Url::parse(PLACEHOLDER_ORIGIN)
        .ok()?
        .join(&request.uri().to_string())
        .ok()?;
    let pairs: Vec<(String, String)> = url
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let value = |name: &str| {
        pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let contract = [PATH_PARAM, ERROR_PARAM, SIGNATURE_PARAM];
    if let (Some(path), Some(error), Some(signature)) = (
        value(PATH_PARAM),
        value(ERROR_PARAM),
        value(SIGNATURE_PARAM),
    ) {
        let single = |name: &str| pairs.iter().filter(|(k, _)| k == name).count() == 1;
        if contract.iter().all(|n| single(n)) && links.verify(path, error, signature) {
            return None;
        }
    }
    let kept: Vec<(String, String)> = pairs
        .iter()
        .filter(|(k, _)| !contract.contains(&k.as_str()))
        .cloned()
        .collect();
    // Only a parameter *named* `__err` or `__path` is the contract's; a value that merely contains
    // the text (`?q=__path`) is the page's own business, and removing nothing would redirect to
    // the same URL for ever.
    if kept.len() == pairs.len() {
        return None;
    }
    set_query(&mut url, kept, None);
    Some(path_and_query(&url))
}

fn set_query(url: &mut Url, pairs: Vec<(String, String)>, signature: Option<String>) {
    url.set_query(None);
    if pairs.is_empty() && signature.is_none() {
        return;
    }
    let mut query = url.query_pairs_mut();
    query.extend_pairs(pairs);
    if let Some(signature) = signature {
        query.append_pair(SIGNATURE_PARAM, &signature);
    }
}

/// The URL's path and query, as a `Location` on this host (never `//…`).
fn path_and_query(url: &Url) -> String {
    let path = same_host(url.path());
    match url.query() {
        Some(q) => format!("{path}?{q}"),
        None => path,
    }
}
