//! `/admin/categories`: the catalogue's categories (one level) in the merchant's order, each
//! editable in place, and **Add category**.

use crate::api::admin::take_admin_notice;
use crate::api::catalog_admin::{get_categories, SaveCategory, CATEGORIES_PAGE};
use crate::components::feedback::{error_text, Alert, Status};
use crate::components::field::{Kind, TextField};
use crate::error::AppError;
use crate::model::{CategoriesPage, Category};
use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn AdminCategoriesPage() -> impl IntoView {
    // Both taken once, so read here at the top of the page.
    let page = Resource::new(|| (), |_| get_categories());
    let notice = Resource::new(|| CATEGORIES_PAGE.to_string(), take_admin_notice);
    let save = ServerAction::<SaveCategory>::new();
    view! {
        <Title text="Categories" />
        <h1>"Categories"</h1>
        <p><a href="/admin/products">"All products"</a></p>
        <Alert message=Signal::derive(move || error_text(save.value().get())) />
        <Transition fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                let notice = notice.await.ok().flatten();
                match page.await {
                    Ok(page) => view! { <Status message=Signal::stored(notice) /> <Categories page /> }.into_any(),
                    Err(AppError::Unauthorized) => view! {
                        <p class="alert" role="alert">"Please " <a href="/login">"log in"</a> " with a merchant account."</p>
                    }.into_any(),
                    Err(e) => view! { <p class="alert" role="alert">{e.to_string()}</p> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn Categories(page: CategoriesPage) -> impl IntoView {
    let path = <SaveCategory as leptos::server_fn::ServerFn>::PATH;
    let CategoriesPage {
        categories,
        refused,
    } = page;
    let list = if categories.is_empty() {
        view! { <p class="empty-state">"No categories yet. Products without one are listed under All."</p> }.into_any()
    } else {
        view! {
            <table class="stack categories">
                <thead><tr>
                    <th scope="col">"Name"</th><th scope="col">"URL slug"</th>
                    <th scope="col">"Position"</th><th scope="col">"Save"</th>
                </tr></thead>
                <tbody>{categories.into_iter().map(|c| view! { <CategoryRow category=c /> }).collect_view()}</tbody>
            </table>
        }
        .into_any()
    };
    let errors = refused.errors.clone();
    view! {
        {list}
        <h2>"Add category"</h2>
        <form method="post" action=path class="stacked-fields">
            <input type="hidden" name="category_id" value="" />
            <TextField name="name" label="Name" kind=Kind::text("off", 60) value=refused.value("name") errors=errors.clone() />
            <TextField name="slug" label="URL slug" kind=Kind { required: false, ..Kind::text("off", 80) }
                value=refused.value("slug") errors=errors.clone()
                hint="Left empty, it is made from the name." />
            <TextField name="position" label="Position" kind=Kind { input_type: "number", required: false, ..Kind::text("off", 6) }
                value=refused.value("position") errors=errors
                hint="Smaller comes first." />
            <button type="submit" class="primary">"Add category"</button>
        </form>
    }
}

#[component]
fn CategoryRow(category: Category) -> impl IntoView {
    let path = <SaveCategory as leptos::server_fn::ServerFn>::PATH;
    let form_id = format!("category-{}", category.id);
    let label = |what: &str| format!("{what} of {}", category.name);
    view! {
        <tr>
            <th scope="row">
                <input form=form_id.clone() name="name" value=category.name.clone() aria-label=label("Name") required maxlength="60" />
            </th>
            <td data-label="URL slug"><input form=form_id.clone() name="slug" value=category.slug.clone() aria-label=label("URL slug") maxlength="80" /></td>
            <td data-label="Position"><input form=form_id.clone() name="position" type="number" value=category.position.to_string() aria-label=label("Position") /></td>
            <td class="row-actions">
                <form id=form_id method="post" action=path>
                    <input type="hidden" name="category_id" value=category.id.to_string() />
                    <button type="submit">"Save"</button>
                </form>
            </td>
        </tr>
    }
}
