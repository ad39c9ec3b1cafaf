//! The one error type that crosses the wire from server functions to pages.
//!
//! It carries only text that is safe to show a person; server-side details are logged where the
//! error is mapped (`server::error`), never sent.

use leptos::server_fn::codec::JsonEncoding;
use leptos::server_fn::error::{FromServerFnError, ServerFnErrorErr};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum AppError {
    /// The input was refused; the message says what to fix.
    #[error("{0}")]
    Invalid(String),
    /// Nothing here, or not yours to see.
    #[error("Not found.")]
    NotFound,
    /// The action needs a logged-in account.
    #[error("Please log in first.")]
    Unauthorized,
    /// The account may not do this.
    #[error("You do not have permission to do that.")]
    Forbidden,
    /// Too many attempts; the message says when to try again.
    #[error("{0}")]
    TooManyAttempts(String),
    /// Something broke on our side; details are in the server log.
    #[error("Something went wrong on our side. Please try again.")]
    Internal,
    /// The request never reached the function (network, decoding).
    #[error("Could not reach the shop: {0}")]
    Transport(String),
}

impl AppError {
    pub fn invalid(message: impl std::fmt::Display) -> Self {
        AppError::Invalid(message.to_string())
    }
}

impl FromServerFnError for AppError {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        AppError::Transport(value.to_string())
    }
}
