//! `/cart`: lines with Quantity/Update/Remove, notices, total, and the way to Checkout.

use crate::api::cart::get_cart;
use crate::components::feedback::{error_text, Alert};
use crate::components::layout::{use_shop_actions, ShopActions};
use crate::model::{CartLine, CartView, Quantity};
use leptos::form::ActionForm;
use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn CartPage() -> impl IntoView {
    let actions = use_shop_actions();
    let cart = Resource::new(|| (), |_| get_cart());
    let error = Signal::derive(move || {
        error_text(actions.update_line.value().get())
            .or_else(|| error_text(actions.remove_line.value().get()))
    });
    view! {
        <Title text="Cart" />
        <h1>"Cart"</h1>
        <Alert message=error />
        <Transition fallback=|| view! { <p>"Loading your cart…"</p> }>
            {move || Suspend::new(async move {
                match cart.await {
                    Ok(cart) => view! { <CartContents cart actions /> }.into_any(),
                    Err(e) => view! { <p class="alert" role="alert">{e.to_string()}</p> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn CartContents(cart: CartView, actions: ShopActions) -> impl IntoView {
    let notices = (!cart.notices.is_empty()).then(|| {
        view! {
            <ul class="notices" role="status">
                {cart.notices.into_iter().map(|n| view! { <li>{n}</li> }).collect_view()}
            </ul>
        }
    });
    if cart.lines.is_empty() {
        return view! {
            {notices}
            <p>"Your cart is empty. " <a href="/">"Browse the shop"</a></p>
        }
        .into_any();
    }
    view! {
        {notices}
        <table class="cart stack">
            <caption class="visually-hidden">"Items in your cart"</caption>
            <thead>
                <tr>
                    <th scope="col">"Product"</th>
                    <th scope="col">"Price"</th>
                    <th scope="col">"Quantity"</th>
                    <th scope="col">"Total"</th>
                    <th scope="col"><span class="visually-hidden">"Actions"</span></th>
                </tr>
            </thead>
            <tbody>
                {cart.lines.into_iter().map(|line| view! { <CartRow line actions /> }).collect_view()}
            </tbody>
            <tfoot>
                <tr>
                    <th scope="row" colspan="3">"Total"</th>
                    <td class="cart-total" data-testid="cart-total">{cart.total.to_string()}</td>
                    <td class="empty-cell"></td>
                </tr>
            </tfoot>
        </table>
        <form action="/checkout" method="get" class="checkout-form">
            <button type="submit" class="primary">"Checkout"</button>
        </form>
    }
    .into_any()
}

#[component]
fn CartRow(line: CartLine, actions: ShopActions) -> impl IntoView {
    let input_id = format!("quantity-{}", line.product_id);
    let name_id = format!("line-{}-name", line.product_id);
    let remove_describedby = name_id.clone();
    let max = line.stock.clamp(1, i64::from(Quantity::MAX));
    view! {
        <tr data-product=line.slug.clone()>
            <th scope="row" id=name_id.clone()>
                <a href=format!("/products/{}", line.slug)>{line.name}</a>
            </th>
            <td data-label="Price">{line.unit_price.to_string()}</td>
            <td data-label="Quantity">
                <ActionForm action=actions.update_line attr:class="inline">
                    <input type="hidden" name="product_id" value=line.product_id.to_string() />
                    <label for=input_id.clone() class="visually-hidden-label">"Quantity"</label>
                    <input id=input_id name="quantity" type="number" inputmode="numeric" min="1" max=max.to_string()
                        value=line.quantity.to_string() required aria-describedby=name_id.clone() />
                    <button type="submit">"Update"</button>
                </ActionForm>
            </td>
            <td data-label="Total" class="line-total">{line.line_total.to_string()}</td>
            <td class="row-actions">
                <ActionForm action=actions.remove_line attr:class="inline">
                    <input type="hidden" name="product_id" value=line.product_id.to_string() />
                    <button type="submit" aria-describedby=remove_describedby.clone()>"Remove"</button>
                </ActionForm>
            </td>
        </tr>
    }
}
