//! `/admin/products/new` and `/admin/products/{id}/edit`: the product form. Name, URL slug (made
//! from the name when left empty; a changed slug keeps the old address working), description,
//! SKU, category, a price in each currency (empty: not sold in it), stock and On sale / Hidden.
//! A refused save comes back with every value and each problem next to its field.

use crate::api::catalog_admin::{get_product_editor, ChangePhoto, SaveProduct};
use crate::components::feedback::{error_text, Alert, NotAllowed, Status};
use crate::components::field::{FieldMessage, Kind, TextField};
use crate::error::AppError;
use crate::model::{price_field, Currency, FieldState, FormEcho, Photo, ProductEditor};
use crate::routes::NotFound;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;

/// The product form: new when the route has no `id`.
#[component]
pub fn AdminProductEditPage() -> impl IntoView {
    let params = use_params_map();
    let id = move || params.read().get("id").unwrap_or_default();
    // Read at the top of the page: a refused form's values are taken from the session once.
    let editor = Resource::new(id, get_product_editor);
    view! {
        <Transition fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                match editor.await {
                    Ok(editor) => view! { <ProductForm editor /> }.into_any(),
                    Err(AppError::NotFound) => view! { <NotFound /> }.into_any(),
                    Err(error) => view! { <NotAllowed error /> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn ProductForm(editor: ProductEditor) -> impl IntoView {
    // Only to read a refused save's summary sent back to this page (`?__err=…`).
    let save = ServerAction::<SaveProduct>::new();
    let error = Signal::derive(move || error_text(save.value().get()));
    let path = <SaveProduct as leptos::server_fn::ServerFn>::PATH;
    let ProductEditor {
        product_id,
        form,
        categories,
        photos,
        photo_form,
        photo_notice,
    } = editor;
    let photos_section = product_id.map(
        |id| view! { <PhotosSection product_id=id photos form=photo_form notice=photo_notice /> },
    );
    let title = match product_id {
        Some(_) => format!("Edit {}", form.value("name")),
        None => "New product".to_string(),
    };
    let errors = form.errors.clone();
    let text = |name: &'static str, label: &'static str, kind: Kind, hint: Option<&'static str>| {
        let value = form.value(name);
        let errors = errors.clone();
        match hint {
            Some(hint) => view! { <TextField name label kind value errors hint /> }.into_any(),
            None => view! { <TextField name label kind value errors /> }.into_any(),
        }
    };
    let description = FieldState::of(&errors, "description", None);
    let description_has_error = description.message.is_some();
    let description_describedby = description.describedby.clone();
    let category = FieldState::of(&errors, "category", None);
    let category_describedby = category.describedby.clone();
    let chosen_category = form.value("category");
    let status = form.value("status");
    let prices = Currency::ALL
        .into_iter()
        .map(|currency| {
            let field = price_field(currency);
            let state = FieldState::of(&errors, &field, Some("prices-hint"));
            let value = form.value(&field);
            let describedby = state.describedby.clone();
            let invalid = state.invalid;
            let autofocus = state.autofocus;
            view! {
                <p class="field price-field">
                    <label for=field.clone()>{format!("Price in {}", currency.code())}</label>
                    <input id=field.clone() name=field inputmode="decimal" value=value
                        aria-invalid=invalid aria-describedby=describedby autofocus=autofocus />
                    <FieldMessage state />
                </p>
            }
        })
        .collect_view();
    view! {
        <Title text=title.clone() />
        <h1>{title}</h1>
        <p><a href="/admin/products">"All products"</a></p>
        <Alert message=error />
        <form method="post" action=path class="product-form">
            <input type="hidden" name="product_id" value=product_id.map(|id| id.to_string()).unwrap_or_default() />
            {text("name", "Name", Kind::text("off", 120), None)}
            {text("slug", "URL slug", Kind { required: false, ..Kind::text("off", 80) },
                Some("Lower-case letters, digits and hyphens: /products/your-slug. Left empty, it is made from the name; a changed slug keeps the old address working."))}
            <p class="field" class:has-error=description_has_error>
                <label for="description">"Description"</label>
                <textarea id="description" name="description" rows="6" maxlength="5000"
                    aria-invalid=description.invalid aria-describedby=description_describedby
                    autofocus=description.autofocus>{form.value("description")}</textarea>
                <FieldMessage state=description />
            </p>
            {text("sku", "SKU", Kind::text("off", 40), None)}
            <p class="field">
                <label for="category">"Category"</label>
                <select id="category" name="category" aria-invalid=category.invalid
                    aria-describedby=category_describedby autofocus=category.autofocus>
                    <option value="" selected=chosen_category.is_empty()>"No category"</option>
                    {categories.into_iter().map(|c| {
                        let id = c.id.to_string();
                        let selected = id == chosen_category;
                        view! { <option value=id selected=selected>{c.name}</option> }
                    }).collect_view()}
                </select>
                <FieldMessage state=category />
            </p>
            <fieldset class="prices">
                <legend>"Prices"</legend>
                <p class="hint" id="prices-hint">"In each currency the product is sold in; leave a currency empty to not sell it there."</p>
                {prices}
            </fieldset>
            {text("stock", "Stock", Kind { input_type: "number", ..Kind::text("off", 7) }, None)}
            <p class="field">
                <label for="status">"Status"</label>
                <select id="status" name="status">
                    <option value="active" selected=status == "active">"On sale"</option>
                    <option value="hidden" selected=status == "hidden">"Hidden"</option>
                </select>
            </p>
            <button type="submit" class="primary">{if product_id.is_some() { "Save" } else { "Add product" }}</button>
        </form>
        {photos_section}
    }
}

/// The Photos section of an existing product: each photo with its alt text, Move earlier / later
/// and Remove, then the upload form (a plain multipart POST, with or without JavaScript).
#[component]
fn PhotosSection(
    product_id: i64,
    photos: Vec<Photo>,
    form: FormEcho,
    notice: Option<String>,
) -> impl IntoView {
    let change = <ChangePhoto as leptos::server_fn::ServerFn>::PATH;
    let count = photos.len();
    let errors = form.errors.clone();
    let list = photos
        .into_iter()
        .enumerate()
        .map(|(i, photo)| {
            let field = format!("alt-{}", photo.id);
            let state = FieldState::of(&errors, &field, None);
            let value = form
                .values
                .get(&field)
                .cloned()
                .unwrap_or_else(|| photo.alt.clone());
            let describedby = state.describedby.clone();
            let has_error = state.message.is_some();
            let place = if i == 0 {
                "Photo 1 (the card image)".to_string()
            } else {
                format!("Photo {}", i + 1)
            };
            view! {
                <li class="photo-item">
                    <img src=photo.src.clone() alt="" width="160" height=photo.height * 160 / photo.width.max(1) />
                    <form method="post" action=change class="photo-form">
                        <input type="hidden" name="product_id" value=product_id.to_string() />
                        <input type="hidden" name="photo_id" value=photo.id.to_string() />
                        <p class="field" class:has-error=has_error>
                            <label for=field.clone()>{format!("{place}: alt text")}</label>
                            <input id=field.clone() name="alt" value=value maxlength="250"
                                aria-invalid=state.invalid aria-describedby=describedby autofocus=state.autofocus />
                            <FieldMessage state />
                        </p>
                        <p class="actions">
                            <button type="submit" name="action" value="alt">"Save alt text"</button>
                            {(i > 0).then(|| view! { <button type="submit" name="action" value="up">"Move earlier"</button> })}
                            {(i + 1 < count).then(|| view! { <button type="submit" name="action" value="down">"Move later"</button> })}
                            <button type="submit" name="action" value="remove" class="danger">"Remove"</button>
                        </p>
                    </form>
                </li>
            }
        })
        .collect_view();
    let photo_state = FieldState::of(&errors, "photo", Some("photo-hint"));
    let photo_describedby = photo_state.describedby.clone();
    let photo_has_error = photo_state.message.is_some();
    let alt_state = FieldState::of(&errors, "alt", Some("alt-hint"));
    let alt_describedby = alt_state.describedby.clone();
    let alt_has_error = alt_state.message.is_some();
    view! {
        <section id="photos" aria-labelledby="photos-heading" class="photos-section">
            <h2 id="photos-heading">"Photos"</h2>
            <Status message=Signal::derive(move || notice.clone()) />
            {if count == 0 {
                view! { <p>"No photos yet: the shop shows a stand-in picture."</p> }.into_any()
            } else {
                view! { <ol class="photo-list">{list}</ol> }.into_any()
            }}
            <form method="post" action=format!("/admin/products/{product_id}/photos")
                enctype="multipart/form-data" class="upload-form">
                <p class="field" class:has-error=photo_has_error>
                    <label for="photo">"Photo"</label>
                    <input id="photo" name="photo" type="file" required
                        accept="image/jpeg,image/png,image/webp,.jpg,.jpeg,.png,.webp"
                        aria-invalid=photo_state.invalid aria-describedby=photo_describedby autofocus=photo_state.autofocus />
                    <span class="hint" id="photo-hint">"JPEG, PNG or WebP, up to 10 MB and 40 million pixels. It is saved without its metadata (camera, location)."</span>
                    <FieldMessage state=photo_state />
                </p>
                <p class="field" class:has-error=alt_has_error>
                    <label for="alt">"Alt text"</label>
                    <input id="alt" name="alt" required maxlength="250" value=form.value("alt")
                        aria-invalid=alt_state.invalid aria-describedby=alt_describedby autofocus=alt_state.autofocus />
                    <span class="hint" id="alt-hint">"What the photo shows, for shoppers who cannot see it."</span>
                    <FieldMessage state=alt_state />
                </p>
                <button type="submit">"Upload photo"</button>
            </form>
        </section>
    }
}
