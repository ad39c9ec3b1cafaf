//! The shop's frame around a hand-off page (`/payments/{provider}/go/{attempt}`): the page that
//! posts a form to Alipay or Authorize.Net, or holds Braintree's card form. It is written by hand
//! (each provider's fields and scripts, allowed by hash in its own policy), but reads like the rest
//! of the shop at the moment of paying: the shop's stylesheet, header and footer, and the order's
//! summary beside what the provider needs.

use app::model::{Money, OrderLineView};
use app::server::html::escape;
use leptos::config::LeptosOptions;
use std::sync::OnceLock;

/// What the page shows about the order.
pub struct Summary<'a> {
    pub reference: &'a str,
    pub lines: &'a [OrderLineView],
    pub total: Money,
}

/// The whole page: `title` as its heading, the order summary, then `body` (the provider's part).
pub fn page(options: &LeptosOptions, title: &str, summary: &Summary<'_>, body: &str) -> String {
    let lines: String = summary
        .lines
        .iter()
        .map(|l| {
            format!(
                "<li><span>{} × {}</span> <span class=\"money\">{}</span></li>",
                l.quantity,
                escape(&l.name),
                escape(&l.line_total.to_string())
            )
        })
        .collect();
    format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title}</title><link rel=\"icon\" href=\"/favicon.svg\" type=\"image/svg+xml\">\
         <link rel=\"stylesheet\" href=\"{css}\"></head>\
         <body><header class=\"site-header\"><a href=\"/\" class=\"brand\">Storefront</a></header>\
         <main id=\"main\"><h1>{title}</h1><div class=\"checkout-layout\">\
         <aside class=\"checkout-summary\" aria-labelledby=\"summary-heading\">\
         <h2 id=\"summary-heading\">Order {reference}</h2><ul class=\"summary\">{lines}</ul>\
         <p class=\"summary-total\">Total <strong>{total}</strong></p></aside>\
         <section class=\"handoff\">{body}</section></div></main>\
         <footer class=\"site-footer\"><p>Storefront: prices are always confirmed by the server.</p>\
         </footer></body></html>",
        title = escape(title),
        css = escape(stylesheet_href(options)),
        reference = escape(summary.reference),
        total = escape(&summary.total.to_string()),
    )
}

/// The shop's stylesheet as the pages link it: `/pkg/storefront.<hash>.css` when the build hashed
/// its assets (the hash is in cargo-leptos' `hash.txt` beside the binary), else
/// `/pkg/storefront.css`. Read once: a running binary's assets do not change.
fn stylesheet_href(options: &LeptosOptions) -> &'static str {
    static HREF: OnceLock<String> = OnceLock::new();
    HREF.get_or_init(|| {
        let name = options.output_name.to_string();
        let pkg = options.site_pkg_dir.to_string();
        let hash = options
            .hash_files
            .then(|| {
                let file = std::env::current_exe()
                    .ok()?
                    .parent()?
                    .join(options.hash_file.as_ref());
                let text = std::fs::read_to_string(file).ok()?;
                text.lines()
                    .filter_map(|line| line.trim().split_once(':'))
                    .find(|(kind, _)| kind.trim() == "css")
                    .map(|(_, hash)| hash.trim().to_string())
            })
            .flatten();
        match hash {
            Some(hash) => format!("/{pkg}/{name}.{hash}.css"),
            None => format!("/{pkg}/{name}.css"),
        }
    })
}
