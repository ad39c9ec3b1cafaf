//! The page header (navigation, account, currency) and the shared form actions.

use crate::api::{
    account::header_data, AddToCart, LogIn, LogOut, Register, RemoveFromCart, SetCurrency,
    TryAgain, UpdateCartLine, UpdateProduct,
};
use crate::components::feedback::{error_text, Alert};
use crate::model::{Currency, HeaderInfo, Role};
use leptos::form::ActionForm;
use leptos::prelude::*;
use leptos::server::ServerActionError;
use leptos_router::hooks::use_query_map;

/// One action per form kind, created once per page render (on the server: pages do not hydrate),
/// so a form posted without JavaScript finds its error when it comes back (`?__err=…`).
#[derive(Clone, Copy)]
pub struct ShopActions {
    pub add_to_cart: ServerAction<AddToCart>,
    pub update_line: ServerAction<UpdateCartLine>,
    pub remove_line: ServerAction<RemoveFromCart>,
    pub set_currency: ServerAction<SetCurrency>,
    pub log_in: ServerAction<LogIn>,
    pub log_out: ServerAction<LogOut>,
    pub register: ServerAction<Register>,
    pub update_product: ServerAction<UpdateProduct>,
    pub try_again: ServerAction<TryAgain>,
}

/// Create the shared actions. Must run inside the `<Router>`: a form posted with JavaScript off comes
/// back with `?__path=…&__err=…`, and that error is handed to the matching action here (the router
/// itself only does so for actions created below `<Routes>`).
pub fn provide_shop_actions() {
    let query = use_query_map().get_untracked();
    if let (Some(path), Some(err)) = (query.get("__path"), query.get("__err")) {
        provide_context(ServerActionError::new(&path, &err));
    }
    provide_context(ShopActions {
        add_to_cart: ServerAction::new(),
        update_line: ServerAction::new(),
        remove_line: ServerAction::new(),
        set_currency: ServerAction::new(),
        log_in: ServerAction::new(),
        log_out: ServerAction::new(),
        register: ServerAction::new(),
        update_product: ServerAction::new(),
        try_again: ServerAction::new(),
    });
}

pub fn use_shop_actions() -> ShopActions {
    expect_context::<ShopActions>()
}

/// Site header: brand, Cart link with its item count, account links, currency picker, and in
/// sandbox mode the Test mode banner (it comes with the header's server data, so the server render
/// and the hydrated page agree).
#[component]
pub fn Header() -> impl IntoView {
    let actions = use_shop_actions();
    let info = Resource::new(|| (), |_| header_data());
    let currency_error = Signal::derive(move || error_text(actions.set_currency.value().get()));
    view! {
        <Alert message=currency_error />
        <header class="site-header">
            <a href="/" class="brand">"Storefront"</a>
            <Transition fallback=|| view! { <a href="/cart" class="cart-link">"Cart"</a> }>
                {move || Suspend::new(async move {
                    match info.await {
                        Ok(header) => view! { <HeaderNav header /> }.into_any(),
                        Err(_) => view! { <a href="/cart" class="cart-link">"Cart"</a> }.into_any(),
                    }
                })}
            </Transition>
        </header>
    }
}

#[component]
fn HeaderNav(header: HeaderInfo) -> impl IntoView {
    let actions = use_shop_actions();
    let count = header.cart_count;
    let test_mode = header.test_mode.then(|| {
        view! {
            <p role="note" class="test-mode">
                "Test mode: no real money is taken"
                <span class="wide-only">" (payments go to the built-in sandboxes)"</span>"."
            </p>
        }
    });
    let account = match header.user {
        Some(user) => {
            let admin_link = (user.role == Role::Merchant).then(|| {
                view! {
                    <a href="/admin/products">"Manage products"</a>
                    <a href="/admin/orders">"Manage orders"</a>
                }
            });
            view! {
                {admin_link}
                <a href="/account/orders">"Orders"</a>
                <a href="/account" class="who">{user.email}</a>
                <ActionForm action=actions.log_out attr:class="inline">
                    <button type="submit" class="link-button">"Log out"</button>
                </ActionForm>
            }
            .into_any()
        }
        None => view! {
            <a href="/login">"Log in"</a>
            <a href="/register">"Register"</a>
        }
        .into_any(),
    };
    // On a phone the Cart link stays in sight and the rest folds behind Menu: a <details> whose
    // open state shows the menu beside it (`style/main.css`), so it works without JavaScript.
    view! {
        <a href="/cart" class="cart-link">"Cart" <CartCount count /></a>
        <details class="menu-toggle">
            <summary>"Menu"</summary>
        </details>
        <div class="menu">
            <nav aria-label="Main">
                <a href="/">"Shop"</a>
                {account}
            </nav>
            <CurrencyPicker current=header.currency />
        </div>
        {test_mode}
    }
}

/// The Currency select; with JavaScript off its Change button posts the form.
#[component]
fn CurrencyPicker(current: Currency) -> impl IntoView {
    let actions = use_shop_actions();
    view! {
        <ActionForm action=actions.set_currency attr:class="currency-picker">
            <label for="currency">"Currency"</label>
            <select id="currency" name="currency">
                {Currency::ALL
                    .into_iter()
                    .map(|c| view! { <option value=c.code() selected=c == current>{c.code()}</option> })
                    .collect_view()}
            </select>
            <button type="submit">"Change"</button>
        </ActionForm>
    }
}

/// The header's `(n)` after Cart: what the server counted, then what Add to cart on this page
/// reports.
#[island]
fn CartCount(count: i64) -> impl IntoView {
    let added = super::live::shared().map(|s| s.cart_count);
    let shown = move || added.as_ref().and_then(|a| a.get()).unwrap_or(count);
    view! { <span class="cart-count">{move || format!("({})", shown())}</span> }
}
