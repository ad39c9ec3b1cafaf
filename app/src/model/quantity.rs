//! A cart quantity: a whole number from 1 to 99.

use serde::{Deserialize, Serialize};
use std::fmt;

/// A quantity a shopper may put in the cart for one product.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Quantity(u8);

/// Why a quantity was refused; the text is shown to the shopper.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QuantityError {
    #[error("Quantity must be a whole number from 1 to 99.")]
    NotANumber,
    #[error("Quantity must be at least 1.")]
    TooSmall,
    #[error("Quantity can be at most 99.")]
    TooLarge,
}

impl Quantity {
    pub const MIN: u8 = 1;
    pub const MAX: u8 = 99;

    /// Parse what the shopper typed into a Quantity input.
    pub fn parse(input: &str) -> Result<Quantity, QuantityError> {
        let n: i64 = input
            .trim()
            .parse()
            .map_err(|_| QuantityError::NotANumber)?;
        Quantity::try_from(n)
    }

    pub fn get(self) -> i64 {
        i64::from(self.0)
    }

    /// The smaller of this quantity and `limit`, or `None` if the limit is below 1 (nothing fits).
    pub fn capped_at(self, limit: i64) -> Option<Quantity> {
        Quantity::try_from(self.get().min(limit)).ok()
    }
}

impl TryFrom<i64> for Quantity {
    type Error = QuantityError;

    fn try_from(n: i64) -> Result<Self, Self::Error> {
        if n < i64::from(Quantity::MIN) {
            Err(QuantityError::TooSmall)
        } else if n > i64::from(Quantity::MAX) {
            Err(QuantityError::TooLarge)
        } else {
            Ok(Quantity(n as u8))
        }
    }
}

impl fmt::Display for Quantity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_one_to_ninety_nine() {
        assert_eq!(Quantity::parse("1").unwrap().get(), 1);
        assert_eq!(Quantity::parse(" 99 ").unwrap().get(), 99);
        assert_eq!(Quantity::parse("0"), Err(QuantityError::TooSmall));
        assert_eq!(Quantity::parse("-3"), Err(QuantityError::TooSmall));
        assert_eq!(Quantity::parse("100"), Err(QuantityError::TooLarge));
        assert_eq!(Quantity::parse("2.5"), Err(QuantityError::NotANumber));
        assert_eq!(Quantity::parse(""), Err(QuantityError::NotANumber));
        assert_eq!(Quantity::parse("1e3"), Err(QuantityError::NotANumber));
    }

    #[test]
    fn caps_at_stock() {
        let q = Quantity::parse("10").unwrap();
        assert_eq!(q.capped_at(4).unwrap().get(), 4);
        assert_eq!(q.capped_at(50).unwrap().get(), 10);
        assert_eq!(q.capped_at(0), None);
    }
}
