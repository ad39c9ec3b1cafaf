//! A new password's length rules. Only the hash is ever stored.

use std::fmt;

/// A password that satisfies the length rules; its `Debug` never shows it.
#[derive(Clone)]
pub struct Password(String);

/// Why a new password was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PasswordError {
    #[error("Password must be at least 8 characters.")]
    TooShort,
    #[error("Password can be at most 128 characters.")]
    TooLong,
}

impl Password {
    pub const MIN_CHARS: usize = 8;
    pub const MAX_CHARS: usize = 128;

    pub fn parse(input: String) -> Result<Password, PasswordError> {
        let n = input.chars().count();
        if n < Password::MIN_CHARS {
            Err(PasswordError::TooShort)
        } else if n > Password::MAX_CHARS {
            Err(PasswordError::TooLong)
        } else {
            Ok(Password(input))
        }
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password([redacted])")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enforces_length_and_hides_value() {
        assert_eq!(
            Password::parse("short".into()).unwrap_err(),
            PasswordError::TooShort
        );
        assert_eq!(
            Password::parse("x".repeat(129)).unwrap_err(),
            PasswordError::TooLong
        );
        let p = Password::parse("correct horse".into()).unwrap();
        assert_eq!(p.expose(), "correct horse");
        assert!(!format!("{p:?}").contains("horse"));
    }
}
