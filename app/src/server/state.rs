//! Shared application state, handed to axum handlers and server functions.
//!
//! One `Arc`: extractors, middleware and every server function clone the state, so a clone is one
//! atomic increment, not a copy of each field (docs/benchmarks.md#where-a-request-goes).

use super::config::Settings;
use super::db::Db;
use super::events::OrderEvents;
use super::payments::Payments;
use axum::extract::FromRef;
use leptos::config::LeptosOptions;
use std::sync::Arc;

#[derive(Clone)]
pub struct AppState(Arc<Shared>);

/// What every request may use; reached through [`AppState`] (`state.db`, `state.settings`, …).
pub struct Shared {
    pub leptos_options: LeptosOptions,
    pub db: Db,
    pub settings: Arc<Settings>,
    /// The configured payment providers.
    pub payments: Payments,
    /// Live order-status changes, for Server-Sent Events.
    pub events: OrderEvents,
    /// How this instance reaches itself (`http://127.0.0.1:{port}`): its sandboxes call the shop's
    /// webhooks here, and the shop calls its sandboxes here.
    pub internal_url: Arc<str>,
    /// HTTP client for the sandboxes' webhook deliveries.
    pub http: reqwest::Client,
    /// Per-address budget of webhook deliveries that fail verification.
    pub webhook_rejections: Arc<super::payments::rejections::RejectionLimiter>,
    /// Provider lookups from return links and open live streams, limited per instance.
    pub limits: Arc<super::limits::Limits>,
    /// The background workers' last runs and the shutdown signal.
    pub background: Arc<super::background::Background>,
    /// Carts' products priced, kept while the catalogue is unchanged (the cart pages only).
    pub prices: super::services::price_cache::PriceCache,
    /// Sessions read from the database, kept until written (`GatedStore`).
    pub sessions: Arc<super::auth::session_cache::SessionCache>,
}

impl AppState {
    pub fn new(shared: Shared) -> AppState {
        AppState(Arc::new(shared))
    }
}

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

/// For Leptos' own handlers (the file and error fallback), which ask for the options by type.
impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> LeptosOptions {
        state.leptos_options.clone()
    }
}
