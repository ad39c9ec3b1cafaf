//! Passwords and the typed session.

pub mod password;
pub mod session;

pub use session::ShopSession;
