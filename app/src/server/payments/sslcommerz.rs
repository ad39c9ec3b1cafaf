//! SSLCOMMERZ (session API, IPN, validation API).

pub mod verify_sign;
