//! What a refused form gets back: a message per field, shown next to that field.
//!
//! A form is a plain POST with JavaScript on or off, so a refusal comes back as a new page. The
//! server keeps what was typed (never a password) and these messages in the session for that page
//! ([`FormEcho`]); the page fills its fields again, marks the wrong ones (`aria-invalid`,
//! `aria-describedby`) and focuses the first.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One field's problem, in words for the person who typed it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldError {
    /// The field's `name` (and `id`) in the form.
    pub field: String,
    pub message: String,
}

/// Every field's problem, in the order the form shows the fields.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldErrors(pub Vec<FieldError>);

impl FieldErrors {
    pub fn new() -> FieldErrors {
        FieldErrors(Vec::new())
    }

    /// Note a problem with `field` (the first one noted for a field is kept).
    pub fn add(&mut self, field: &str, message: impl Into<String>) {
        if self.get(field).is_none() {
            self.0.push(FieldError {
                field: field.to_string(),
                message: message.into(),
            });
        }
    }

    pub fn get(&self, field: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|e| e.field == field)
            .map(|e| e.message.as_str())
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The field to focus: the first one with a problem.
    pub fn first(&self) -> Option<&str> {
        self.0.first().map(|e| e.field.as_str())
    }

    /// The one line the page's alert reads out.
    pub fn summary(&self) -> String {
        match self.0.as_slice() {
            [] => String::new(),
            [only] => only.message.clone(),
            many => format!("Please correct the {} fields marked below.", many.len()),
        }
    }

    /// `Ok(value)` when nothing was noted, else these errors.
    pub fn or_ok<T>(self, value: T) -> Result<T, FieldErrors> {
        if self.is_empty() {
            Ok(value)
        } else {
            Err(self)
        }
    }
}

/// A refused form as its page draws it again: what was typed and what was wrong.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FormEcho {
    pub values: BTreeMap<String, String>,
    pub errors: FieldErrors,
}

impl FormEcho {
    /// What was typed in `field`, or "".
    pub fn value(&self, field: &str) -> String {
        self.values.get(field).cloned().unwrap_or_default()
    }

    pub fn error(&self, field: &str) -> Option<String> {
        self.errors.get(field).map(str::to_string)
    }

    /// Whether `field` is the one to focus when the page loads.
    pub fn focus(&self, field: &str) -> bool {
        self.errors.first() == Some(field)
    }
}

/// Attributes of a field: `aria-invalid` and `aria-describedby` when it has an error (the message's
/// id is `{field}-error`), and whether it takes the focus.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldState {
    pub invalid: Option<&'static str>,
    pub describedby: Option<String>,
    pub autofocus: bool,
    pub message: Option<String>,
    pub message_id: String,
}

impl FieldState {
    /// The state of `field` in `errors`; `hint` is the id of a hint the field always points to.
    pub fn of(errors: &FieldErrors, field: &str, hint: Option<&str>) -> FieldState {
        let message = errors.get(field).map(str::to_string);
        let message_id = format!("{field}-error");
        let describedby = match (&message, hint) {
            (Some(_), Some(hint)) => Some(format!("{message_id} {hint}")),
            (Some(_), None) => Some(message_id.clone()),
            (None, Some(hint)) => Some(hint.to_string()),
            (None, None) => None,
        };
        FieldState {
            invalid: message.as_ref().map(|_| "true"),
            describedby,
            autofocus: errors.first() == Some(field),
            message,
            message_id,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_problem_per_field_is_kept_and_the_first_field_is_focused() {
        let mut errors = FieldErrors::new();
        errors.add("name", "Please enter your name.");
        errors.add("name", "Too long.");
        errors.add("city", "Please enter your city.");
        assert_eq!(errors.get("name"), Some("Please enter your name."));
        assert_eq!(errors.first(), Some("name"));
        assert_eq!(
            errors.summary(),
            "Please correct the 2 fields marked below."
        );
        let state = FieldState::of(&errors, "city", Some("city-hint"));
        assert_eq!(state.invalid, Some("true"));
        assert_eq!(state.describedby.as_deref(), Some("city-error city-hint"));
        assert!(!state.autofocus);
        assert!(FieldState::of(&errors, "name", None).autofocus);
        assert_eq!(
            FieldState::of(&errors, "postcode", None),
            FieldState {
                message_id: "postcode-error".into(),
                ..FieldState::default()
            }
        );
    }
}
