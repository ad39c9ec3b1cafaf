//! `bare-axum`: the physical limit the benchmarks compare the shop's read path with
//! (`docs/benchmarks.md`). One axum 0.8 route that answers every GET of `/` with a page held in
//! memory, on the same runtime the shop uses (tokio's multi-threaded scheduler, one worker per
//! core), with nothing else but `TCP_NODELAY` (as the shop sets it): no middleware, no state, no
//! database. Not part of the shop.
//!
//! `bare-axum <address> <page.html>`; `.ci/bench.sh` builds it in release and hands it a copy of the
//! catalogue page, so both serve the same number of bytes.

use axum::body::Bytes;
use axum::http::header::CONTENT_TYPE;
use axum::routing::get;
use axum::serve::ListenerExt;
use axum::Router;

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let (Some(addr), Some(file)) = (args.next(), args.next()) else {
        eprintln!("usage: bare-axum <address> <page.html>");
        std::process::exit(2);
    };
    let page = match std::fs::read(&file) {
        Ok(page) => Bytes::from(page),
        Err(e) => {
            eprintln!("bare-axum: cannot read {file}: {e}");
            std::process::exit(2);
        }
    };
    let app = Router::new().route(
        "/",
        get(move || {
            let page = page.clone();
            async move { ([(CONTENT_TYPE, "text/html; charset=utf-8")], page) }
        }),
    );
    let listener = match tokio::net::TcpListener::bind(&addr).await {
        Ok(listener) => listener,
        Err(e) => {
            eprintln!("bare-axum: cannot listen on {addr}: {e}");
            std::process::exit(1);
        }
    };
    // As the shop does: no Nagle delay, so the two differ only in what happens per request.
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    if let Err(e) = axum::serve(listener, app).await {
        eprintln!("bare-axum: {e}");
        std::process::exit(1);
    }
}
