//! Passwords and the typed session.

pub mod password;
pub mod session;
pub mod session_cache;

pub use session::ShopSession;
