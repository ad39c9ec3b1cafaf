//! Stripe (Checkout Sessions + webhooks).

pub mod signature;
