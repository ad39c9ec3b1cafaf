//! A labelled form field that shows its own error: the message under the field, the field marked
//! `aria-invalid` and pointing at the message (`aria-describedby`), and the first wrong field of
//! the form focused when the page loads (`autofocus`, so it works without JavaScript).

use crate::model::{country::COUNTRIES, FieldErrors, FieldState};
use leptos::prelude::*;

/// How a text field reads and fills in: its type, autocomplete token and length limit.
#[derive(Clone, Copy)]
pub struct Kind {
    pub input_type: &'static str,
    pub autocomplete: &'static str,
    pub required: bool,
    pub maxlength: Option<usize>,
}

impl Kind {
    pub const fn text(autocomplete: &'static str, maxlength: usize) -> Kind {
        Kind {
            input_type: "text",
            autocomplete,
            required: true,
            maxlength: Some(maxlength),
        }
    }
}

/// The message under a field, if it has one.
#[component]
pub fn FieldMessage(state: FieldState) -> impl IntoView {
    state.message.map(|message| {
        view! { <span class="field-error" id=state.message_id>{message}</span> }
    })
}

/// `<label>` + `<input>` + its message, in a `.field` block.
#[component]
pub fn TextField(
    name: &'static str,
    label: &'static str,
    kind: Kind,
    #[prop(into)] value: String,
    errors: FieldErrors,
    #[prop(optional)] hint: Option<&'static str>,
) -> impl IntoView {
    let hint_id = format!("{name}-hint");
    let state = FieldState::of(&errors, name, hint.map(|_| hint_id.as_str()));
    let has_error = state.message.is_some();
    view! {
        <p class="field" class:has-error=has_error>
            <label for=name>{label}</label>
            <input
                id=name
                name=name
                type=kind.input_type
                autocomplete=kind.autocomplete
                required=kind.required
                maxlength=kind.maxlength.map(|n| n.to_string())
                value=value
                aria-invalid=state.invalid
                aria-describedby=state.describedby.clone()
                autofocus=state.autofocus
            />
            {hint.map(|h| view! { <span class="hint" id=hint_id>{h}</span> })}
            <FieldMessage state />
        </p>
    }
}

/// The Country list (ISO 3166 names); `value` is preselected when it names one.
#[component]
pub fn CountryField(#[prop(into)] value: String, errors: FieldErrors) -> impl IntoView {
    let state = FieldState::of(&errors, "country", None);
    let chosen = crate::model::country::find(&value).map(|(name, _)| name);
    let has_error = state.message.is_some();
    view! {
        <p class="field" class:has-error=has_error>
            <label for="country">"Country"</label>
            <select
                id="country"
                name="country"
                autocomplete="country-name"
                required=true
                aria-invalid=state.invalid
                aria-describedby=state.describedby.clone()
                autofocus=state.autofocus
            >
                <option value="" selected=chosen.is_none()>"Choose a country"</option>
                {COUNTRIES
                    .iter()
                    .map(|(name, _)| view! { <option value=*name selected=chosen == Some(*name)>{*name}</option> })
                    .collect_view()}
            </select>
            <FieldMessage state />
        </p>
    }
}
