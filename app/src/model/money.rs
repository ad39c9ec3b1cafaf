//! Money as integer minor units plus an ISO 4217 currency. No floats anywhere.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// The currencies the shop prices its catalogue in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Currency {
    Usd,
    Eur,
    Bdt,
    Cny,
    Jpy,
}

impl Currency {
    /// Every supported currency, in the order the currency picker shows them.
    pub const ALL: [Currency; 5] = [
        Currency::Usd,
        Currency::Eur,
        Currency::Bdt,
        Currency::Cny,
        Currency::Jpy,
    ];

    /// ISO 4217 alphabetic code.
    pub fn code(self) -> &'static str {
        match self {
            Currency::Usd => "USD",
            Currency::Eur => "EUR",
            Currency::Bdt => "BDT",
            Currency::Cny => "CNY",
            Currency::Jpy => "JPY",
        }
    }

    /// Number of digits after the decimal point (ISO 4217 exponent): JPY has none.
    pub fn exponent(self) -> u32 {
        match self {
            Currency::Jpy => 0,
            Currency::Usd | Currency::Eur | Currency::Bdt | Currency::Cny => 2,
        }
    }

    /// Symbol shown before the amount; CNY and JPY are told apart.
    pub fn symbol(self) -> &'static str {
        match self {
            Currency::Usd => "$",
            Currency::Eur => "€",
            Currency::Bdt => "৳",
            Currency::Cny => "CN¥",
            Currency::Jpy => "¥",
        }
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// A currency code that the shop does not support.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Unsupported currency {0:?}: pick one of USD, EUR, BDT, CNY, JPY.")]
pub struct UnknownCurrency(pub String);

impl FromStr for Currency {
    type Err = UnknownCurrency;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Currency::ALL
            .into_iter()
            .find(|c| c.code().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| UnknownCurrency(s.to_string()))
    }
}

/// Why a money operation was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    #[error("cannot combine {0} with {1}")]
    CurrencyMismatch(Currency, Currency),
    #[error("amount out of range")]
    Overflow,
}

/// An amount of money: `minor` units (cents, poisha, fen; whole yen for JPY) of `currency`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Money {
    pub minor: i64,
    pub currency: Currency,
}

impl Money {
    pub fn new(minor: i64, currency: Currency) -> Self {
        Money { minor, currency }
    }

    pub fn zero(currency: Currency) -> Self {
        Money { minor: 0, currency }
    }

    /// Sum of two amounts in the same currency.
    pub fn checked_add(self, other: Money) -> Result<Money, MoneyError> {
        if self.currency != other.currency {
            return Err(MoneyError::CurrencyMismatch(self.currency, other.currency));
        }
        let minor = self
            .minor
            .checked_add(other.minor)
            .ok_or(MoneyError::Overflow)?;
        Ok(Money::new(minor, self.currency))
    }

    /// The amount times a whole number (a line total).
    pub fn checked_mul(self, factor: i64) -> Result<Money, MoneyError> {
        let minor = self.minor.checked_mul(factor).ok_or(MoneyError::Overflow)?;
        Ok(Money::new(minor, self.currency))
    }

    /// The amount as a plain decimal string with the currency's exponent: `"12.50"`, `"1500"` for JPY.
    /// This is the one conversion providers that take decimal strings use.
    pub fn to_decimal_string(self) -> String {
        let exp = self.currency.exponent();
        let sign = if self.minor < 0 { "-" } else { "" };
        let abs = self.minor.unsigned_abs();
        if exp == 0 {
            return format!("{sign}{abs}");
        }
        let scale = 10u64.pow(exp);
        format!(
            "{sign}{}.{:0width$}",
            abs / scale,
            abs % scale,
            width = exp as usize
        )
    }
}

impl fmt::Display for Money {
    /// Human format with the symbol and thousands separators: `$1,234.50`, `¥1,500`, `-€0.99`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let plain = self.to_decimal_string();
        let (sign, digits) = match plain.strip_prefix('-') {
            Some(rest) => ("-", rest),
            None => ("", plain.as_str()),
        };
        let (whole, frac) = match digits.split_once('.') {
            Some((w, fr)) => (w, Some(fr)),
            None => (digits, None),
        };
        let mut grouped = String::with_capacity(whole.len() + whole.len() / 3);
        for (i, ch) in whole.chars().enumerate() {
            if i > 0 && (whole.len() - i) % 3 == 0 {
                grouped.push(',');
            }
            grouped.push(ch);
        }
        write!(f, "{sign}{}{grouped}", self.currency.symbol())?;
        if let Some(frac) = frac {
            write!(f, ".{frac}")?;
        }
        Ok(())
    }
}

/// Why a typed amount was refused; the text is shown next to the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AmountError {
    #[error("Enter an amount like 12.50 (no currency sign).")]
    Malformed,
    #[error("{0} amounts have at most {1} digits after the decimal point.")]
    TooPrecise(Currency, u32),
    #[error("Amount is too large.")]
    TooLarge,
    #[error("Amount cannot be negative.")]
    Negative,
}

impl Money {
    /// Parse a non-negative decimal amount typed by a person (`"12.5"`, `"1500"`) into minor units,
    /// refusing more fraction digits than the currency has.
    pub fn parse_decimal(input: &str, currency: Currency) -> Result<Money, AmountError> {
        let s = input.trim();
        if s.starts_with('-') {
            return Err(AmountError::Negative);
        }
        let (whole, frac) = s.split_once('.').unwrap_or((s, ""));
        let digits_only = |t: &str| t.chars().all(|c| c.is_ascii_digit());
        if whole.is_empty() || !digits_only(whole) || !digits_only(frac) || (s.ends_with('.')) {
            return Err(AmountError::Malformed);
        }
        let exp = currency.exponent();
        if frac.len() > exp as usize {
            return Err(AmountError::TooPrecise(currency, exp));
        }
        let whole: i64 = whole.parse().map_err(|_| AmountError::TooLarge)?;
        let frac_value: i64 = if frac.is_empty() {
            0
        } else {
            frac.parse().map_err(|_| AmountError::Malformed)?
        };
        let frac_scaled = frac_value * 10i64.pow(exp - frac.len() as u32);
        let minor = whole
            .checked_mul(10i64.pow(exp))
            .and_then(|m| m.checked_add(frac_scaled))
            .ok_or(AmountError::TooLarge)?;
        Ok(Money::new(minor, currency))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_each_currency_with_its_exponent() {
        assert_eq!(Money::new(123_450, Currency::Usd).to_string(), "$1,234.50");
        assert_eq!(Money::new(99, Currency::Eur).to_string(), "€0.99");
        assert_eq!(Money::new(150_000, Currency::Bdt).to_string(), "৳1,500.00");
        assert_eq!(Money::new(8_800, Currency::Cny).to_string(), "CN¥88.00");
        assert_eq!(Money::new(1_500, Currency::Jpy).to_string(), "¥1,500");
        assert_eq!(
            Money::new(1_234_567, Currency::Jpy).to_string(),
            "¥1,234,567"
        );
        assert_eq!(Money::new(-5, Currency::Usd).to_string(), "-$0.05");
        assert_eq!(Money::zero(Currency::Usd).to_string(), "$0.00");
    }

    #[test]
    fn decimal_strings_for_providers() {
        assert_eq!(Money::new(1000, Currency::Usd).to_decimal_string(), "10.00");
        assert_eq!(Money::new(7, Currency::Bdt).to_decimal_string(), "0.07");
        assert_eq!(Money::new(1000, Currency::Jpy).to_decimal_string(), "1000");
        assert_eq!(
            Money::new(-1050, Currency::Eur).to_decimal_string(),
            "-10.50"
        );
    }

    #[test]
    fn arithmetic_checks_currency_and_overflow() {
        let a = Money::new(250, Currency::Usd);
        assert_eq!(a.checked_add(a).unwrap(), Money::new(500, Currency::Usd));
        assert_eq!(a.checked_mul(3).unwrap(), Money::new(750, Currency::Usd));
        assert_eq!(
            a.checked_add(Money::new(1, Currency::Eur)),
            Err(MoneyError::CurrencyMismatch(Currency::Usd, Currency::Eur))
        );
        assert_eq!(
            Money::new(i64::MAX, Currency::Usd).checked_add(Money::new(1, Currency::Usd)),
            Err(MoneyError::Overflow)
        );
        assert_eq!(
            Money::new(i64::MAX / 2 + 1, Currency::Jpy).checked_mul(2),
            Err(MoneyError::Overflow)
        );
    }

    #[test]
    fn parses_typed_amounts() {
        let usd = |s: &str| Money::parse_decimal(s, Currency::Usd);
        assert_eq!(usd("12.5").unwrap().minor, 1250);
        assert_eq!(usd("12.50").unwrap().minor, 1250);
        assert_eq!(usd(" 7 ").unwrap().minor, 700);
        assert_eq!(usd("0.07").unwrap().minor, 7);
        assert_eq!(usd("1.234"), Err(AmountError::TooPrecise(Currency::Usd, 2)));
        assert_eq!(usd("-1"), Err(AmountError::Negative));
        for bad in ["", "abc", "1.", ".5", "1,5", "$3", "1e2"] {
            assert_eq!(usd(bad), Err(AmountError::Malformed), "{bad:?}");
        }
        assert_eq!(usd("99999999999999999999"), Err(AmountError::TooLarge));
        let jpy = Money::parse_decimal("1500", Currency::Jpy).unwrap();
        assert_eq!(jpy.minor, 1500);
        assert_eq!(
            Money::parse_decimal("1500.5", Currency::Jpy),
            Err(AmountError::TooPrecise(Currency::Jpy, 0))
        );
    }

    #[test]
    fn parses_currency_codes() {
        assert_eq!("usd".parse::<Currency>().unwrap(), Currency::Usd);
        assert_eq!(" JPY ".parse::<Currency>().unwrap(), Currency::Jpy);
        assert!("GBP".parse::<Currency>().is_err());
        assert!("".parse::<Currency>().is_err());
        for c in Currency::ALL {
            assert_eq!(c.code().parse::<Currency>().unwrap(), c);
        }
    }
}
