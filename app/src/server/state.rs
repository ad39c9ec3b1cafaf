//! Shared application state, handed to axum handlers and server functions.

use super::config::Settings;
use super::db::Db;
use super::events::OrderEvents;
use super::payments::Payments;
use axum::extract::FromRef;
use leptos::config::LeptosOptions;
use std::sync::Arc;

#[derive(Clone, FromRef)]
pub struct AppState {
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
}
