//! Logging: `RUST_LOG` filters (default `info`); `LOG_FORMAT=json` writes one JSON object per
//! line with the fields of the spans it was logged in (so `request_id`), for log shippers.
//! Safe to call more than once (tests).
//!
//! This runs before the settings are read, so it reads `LOG_FORMAT` itself; an unknown value
//! falls back to text here and then stops start-up with the usual configuration error.

use app::server::config::LogFormat;
use tracing_subscriber::EnvFilter;

pub fn init() {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn"));
    let format = std::env::var("LOG_FORMAT")
        .ok()
        .and_then(|v| LogFormat::parse(&v))
        .unwrap_or_default();
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder
            .json()
            .with_current_span(false)
            .with_span_list(true)
            .try_init(),
    };
}
