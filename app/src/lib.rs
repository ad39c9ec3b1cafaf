//! The storefront app: pages and server functions. Built with `ssr` into the server binary and with
//! `hydrate` into the browser bundle.
//!
//! Leptos islands: every page renders on the server and works as plain HTML forms and links; only
//! the `#[island]` components (Add to cart, the header's cart count, live order statuses, the Pay
//! button's progress) hydrate in the browser, so the bundle carries only their code.

pub mod api;
pub mod components;
pub mod error;
pub mod model;
pub mod routes;

#[cfg(feature = "ssr")]
pub mod server;

use components::layout::{provide_shop_actions, Header};
use leptos::prelude::*;
use leptos_meta::{provide_meta_context, HashedStylesheet, MetaTags, Title};
use leptos_router::components::{Route, Router, Routes};
use leptos_router::{path, SsrMode};
use routes::{
    AccountOrdersPage, AccountPage, AdminCategoriesPage, AdminImportPage, AdminOrderPage,
    AdminOrdersPage, AdminProductEditPage, AdminProductsPage, CartPage, CatalogPage, CheckoutPage,
    LoginPage, NotFound, OrderPage, ProductPage, RegisterPage,
};

/// The HTML document around the app.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8" />
                <meta name="viewport" content="width=device-width, initial-scale=1" />
                <link rel="icon" href="/favicon.svg" type="image/svg+xml" />
                <AutoReload options=options.clone() />
                <HashedStylesheet options=options.clone() id="leptos" />
                <IslandScripts options />
                <MetaTags />
            </head>
            <body>
                <App />
            </body>
        </html>
    }
}

/// Leptos' island scripts, kept inert in a `<template>` until a script of the page (so only with
/// JavaScript on) puts them into the document: with JavaScript off the browser downloads neither
/// the bundle nor its WebAssembly (a `<link rel="preload">` in the page would fetch them anyway).
#[component]
fn IslandScripts(options: LeptosOptions) -> impl IntoView {
    let nonce = leptos::nonce::use_nonce();
    view! {
        <template id="island-scripts">
            <HydrationScripts options islands=true />
        </template>
        <script nonce=nonce>
            "document.head.append(document.getElementById('island-scripts').content.cloneNode(true));"
        </script>
    }
}

/// Routes and the page frame. Every route renders fully on the server before it is sent
/// (`SsrMode::Async`), so each page works with JavaScript off.
#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    view! {
        <Title text="Storefront" />
        <Router>
            <Frame />
        </Router>
    }
}

/// Header, routes and footer. The shared form actions are created here, inside the router, because
/// the router is what reads a no-JavaScript form's error back from the redirect URL.
#[component]
fn Frame() -> impl IntoView {
    provide_shop_actions();
    view! {
            <a class="skip-link" href="#main">"Skip to content"</a>
            <Header />
            <main id="main">
                <Routes fallback=|| view! { <NotFound /> }>
                    <Route path=path!("/") view=CatalogPage ssr=SsrMode::Async />
                    <Route path=path!("/products/:slug") view=ProductPage ssr=SsrMode::Async />
                    <Route path=path!("/cart") view=CartPage ssr=SsrMode::Async />
                    <Route path=path!("/checkout") view=CheckoutPage ssr=SsrMode::Async />
                    <Route path=path!("/orders/:reference") view=OrderPage ssr=SsrMode::Async />
                    <Route path=path!("/login") view=LoginPage ssr=SsrMode::Async />
                    <Route path=path!("/register") view=RegisterPage ssr=SsrMode::Async />
                    <Route path=path!("/account") view=AccountPage ssr=SsrMode::Async />
                    <Route path=path!("/admin/products") view=AdminProductsPage ssr=SsrMode::Async />
                    <Route path=path!("/admin/products/new") view=AdminProductEditPage ssr=SsrMode::Async />
                    <Route path=path!("/admin/products/import") view=AdminImportPage ssr=SsrMode::Async />
                    <Route path=path!("/admin/products/:id/edit") view=AdminProductEditPage ssr=SsrMode::Async />
                    <Route path=path!("/admin/categories") view=AdminCategoriesPage ssr=SsrMode::Async />
                    <Route path=path!("/admin/orders/:reference") view=AdminOrderPage ssr=SsrMode::Async />
                    <Route path=path!("/account/orders") view=AccountOrdersPage ssr=SsrMode::Async />
                    <Route path=path!("/admin/orders") view=AdminOrdersPage ssr=SsrMode::Async />
                </Routes>
            </main>
            <footer class="site-footer">
                <p>"Storefront: prices are always confirmed by the server."</p>
            </footer>
    }
}

/// Marks the server-rendered response 404; nothing happens in the browser.
pub fn set_not_found_status() {
    #[cfg(feature = "ssr")]
    server::http::set_not_found();
}

/// Browser entry point, called before the page's islands hydrate (Leptos' island script walks the
/// page right after). Marks the page as hydrated once that walk is done: it runs in microtasks,
/// before this zero-delay timer (end-to-end tests wait for the mark before they click).
#[cfg(feature = "hydrate")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_islands();
    set_timeout(
        || {
            if let Some(body) = document().body() {
                let _ = body.set_attribute("data-hydrated", "true");
            }
        },
        std::time::Duration::ZERO,
    );
}
