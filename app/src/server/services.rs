//! Plain services: the shop's rules, called by thin server functions and by tests.

pub mod accounts;
pub mod admin_orders;
pub mod capture_claims;
pub mod cart;
pub mod catalog;
pub mod catalog_admin;
pub mod catalogue_csv;
pub mod checkout;
pub mod description;
pub mod lookup_schedule;
pub mod mail;
pub mod order_export;
pub mod order_search;
pub mod order_views;
pub mod orders;
pub mod outbox;
pub mod payment_updates;
pub mod photos;
pub mod price_cache;
pub mod reconciler;
pub mod refunds;
pub mod sales_report;
pub mod timeline;
pub mod webhook_intake;
