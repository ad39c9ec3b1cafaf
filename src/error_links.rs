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
        let mut response = next.run(request).await;
        sign_location(&links, &mut response);
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

/// Sign the error a redirect's `Location` carries, if any. The server-function layer appends
/// `__path` and `__err` to the page's own URL, which may still hold an earlier error (a second
/// refusal posted from an error page): only the last pair is the new one, so earlier pairs and any
/// old signature are dropped.
fn sign_location(links: &ErrorLinks, response: &mut Response) {
    let Some(location) = response
        .headers()
        .get(header::LOCATION)
        .and_then(|v| v.to_str().ok())
    else {
        return;
    };
    if !location.contains(ERROR_PARAM)
        && !location.contains(PATH_PARAM)
        && !location.contains(SIGNATURE_PARAM)
    {
        return;
    }
    let relative = location.starts_with('/');
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
    let error = last(PATH_PARAM).zip(last(ERROR_PARAM));
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

/// For a page request whose error is not validly signed: the same path and query without the
/// error parameters. `None` when there is nothing to remove.
fn unsigned_error_removed(links: &ErrorLinks, request: &Request) -> Option<String> {
    let query = request.uri().query()?;
    if !query.contains(ERROR_PARAM) && !query.contains(PATH_PARAM) {
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
    let kept = pairs
        .into_iter()
        .filter(|(k, _)| !contract.contains(&k.as_str()))
        .collect();
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

fn path_and_query(url: &Url) -> String {
    match url.query() {
        Some(q) => format!("{}?{q}", url.path()),
        None => url.path().to_string(),
    }
}
