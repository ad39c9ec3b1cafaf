//! The storefront server: configuration, start-up and the plain HTTP routes around the Leptos app.

// The pages' view types are deeply nested generics; the release build (which computes their
// layout for the server's render) needs more than the default 128 levels.
#![recursion_limit = "256"]

pub mod body_limit;
pub mod catalogue_files;
pub mod csrf;
pub mod error_links;
pub mod health;
pub mod live_stream;
pub mod metrics;
pub mod order_lists;
pub mod page_cache;
pub mod payment_routes;
pub mod request_id;
#[cfg(feature = "sandboxes")]
pub mod sandboxes;
pub mod security_headers;
pub mod startup;
pub mod static_assets;
pub mod telemetry;
