//! Payment providers, one module each. So far only the providers' signature schemes are here,
//! verified against the test vectors in `providers.md` §9; sessions, webhooks and sandboxes come
//! with the checkout work.

pub mod sslcommerz;
pub mod stripe;
