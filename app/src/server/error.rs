//! Server-side errors, mapped once into the user-safe [`AppError`].

use crate::error::AppError;
use crate::model::FieldErrors;

#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// A refusal the user should read (bad input, not found, not allowed).
    #[error(transparent)]
    User(#[from] AppError),
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("session store error: {0}")]
    Session(#[from] tower_sessions::session::Error),
    #[error("{0}")]
    Internal(String),
    /// A form refused field by field; the page shows each message next to its field.
    #[error("{}", .0.summary())]
    Fields(FieldErrors),
}

impl ServerError {
    pub fn invalid(message: impl std::fmt::Display) -> Self {
        ServerError::User(AppError::invalid(message))
    }
}

impl From<ServerError> for AppError {
    fn from(error: ServerError) -> Self {
        match error {
            ServerError::User(e) => e,
            ServerError::Fields(errors) => AppError::Invalid(errors.summary()),
            other => {
                tracing::error!(error = %other, "request failed");
                AppError::Internal
            }
        }
    }
}

pub type ServerResult<T> = Result<T, ServerError>;
