//! Everything that runs only on the server. This module is the one `ssr` gate: nothing below it is
//! compiled into the browser bundle.

pub mod auth;
pub mod background;
pub mod client_addr;
pub mod config;
pub mod context;
pub mod csp;
pub mod db;
pub mod error;
pub mod error_links;
pub mod events;
pub mod html;
pub mod http;
pub mod limits;
pub mod media;
pub mod metrics;
pub mod notify;
pub mod payments;
pub mod services;
pub mod state;
