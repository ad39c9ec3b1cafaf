//! The one error a bad setting makes. A leaf: every settings reader, the providers' own
//! included, returns it without depending on the settings.

/// A bad or missing setting: the variable and what it should be.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("configuration error: {var}: {expected}")]
pub struct ConfigError {
    pub var: &'static str,
    pub expected: String,
}

pub(crate) fn bad(var: &'static str, expected: impl Into<String>) -> ConfigError {
    ConfigError {
        var,
        expected: expected.into(),
    }
}
