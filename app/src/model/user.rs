//! Who is logged in.

use serde::{Deserialize, Serialize};

/// What an account may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Role {
    Customer,
    Merchant,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Customer => "customer",
            Role::Merchant => "merchant",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "customer" => Some(Role::Customer),
            "merchant" => Some(Role::Merchant),
            _ => None,
        }
    }
}

/// The logged-in account as pages see it (never the hash).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CurrentUser {
    pub id: i64,
    pub email: String,
    pub role: Role,
}

/// What the header shows on every page.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HeaderInfo {
    pub user: Option<CurrentUser>,
    pub currency: super::Currency,
    pub cart_count: i64,
    /// Payments run against the built-in sandboxes (`PAYMENTS_MODE=sandbox`): the Test mode banner.
    pub test_mode: bool,
}
