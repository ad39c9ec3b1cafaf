//! Integration tests: each test starts the real app on a free port with a fresh database and drives
//! it over HTTP like a browser without JavaScript (form posts, redirects, cookies). Every scenario
//! runs twice, once on SQLite and once on PostgreSQL.

// As in the server crate: a release build of these tests (the bench's payment rows) lays out the
// app's deeply nested view types.
#![recursion_limit = "256"]

mod helpers;
mod pay;

mod accounts;
mod admin_orders;
mod alipay;
mod authorizenet;
mod bench;
mod braintree;
mod cart;
mod catalog_admin;
mod catalogue;
mod catalogue_csv;
mod catalogue_media;
mod conformance;
mod crash;
mod demo_catalogue;
mod group_commit;
mod hardening;
mod headers;
mod installations;
mod list_scale;
mod mail;
mod openapi;
mod operations;
mod order_lists;
mod order_seed;
mod page_cache;
mod payment_holes;
mod payments;
mod paypal;
mod refunds;
mod sandboxes_alone;
mod security;
mod session_cache;
mod shop_pages;
mod shutdown;
mod square;
mod stress;
