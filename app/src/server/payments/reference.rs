//! The references the shop sends to payment providers.
//!
//! Order numbers start at 1 in every database, so `ORD-000123-A1` alone would name a different
//! payment in a reinstalled shop, a staging copy or a second shop on the same provider account:
//! a lookup by reference would find the other installation's payment, an idempotency key would
//! replay the other installation's session, and PayPal would refuse the invoice id as a duplicate.
//! Every attempt's reference therefore ends in this installation's tag (`ORD-000123-A1-K7QX2M`),
//! a random value the database keeps (`db::installation`). Shoppers see only the order's
//! reference (`ORD-000123`). Attempts made before the tag existed keep their old references.

/// Characters of a tag: Crockford's base 32 (digits and capitals without I, L, O, U), so a tag
/// fits every provider's reference rules (Alipay's letters, digits and `_`; no case folding
/// mix-ups) and reads aloud without ambiguity.
const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// Characters in a tag: 30 random bits, short enough that `ORD-0001234-A12-K7QX2M` fits the
/// tightest limit it meets once Authorize.Net's `ORD-` is dropped (20 characters, see
/// `authorizenet::invoice_number`).
pub const TAG_LEN: usize = 6;

/// A new random tag.
pub fn new_tag() -> String {
    let bytes = uuid::Uuid::new_v4().into_bytes();
    // The first 6 bytes of a v4 UUID are random; 5 bits of each make one character.
    bytes[..TAG_LEN]
        .iter()
        .map(|b| ALPHABET[usize::from(b & 31)] as char)
        .collect()
}

/// Whether `tag` could be a tag this module made.
pub fn is_tag(tag: &str) -> bool {
    tag.len() == TAG_LEN && tag.bytes().all(|b| ALPHABET.contains(&b))
}

/// The reference of attempt number `n` of an order, in an installation tagged `tag`.
pub fn attempt_reference(order_reference: &str, n: i64, tag: &str) -> String {
    format!("{order_reference}-A{n}-{tag}")
}

/// The installation tag at the end of an attempt reference, if it has one (attempts made before
/// tags existed have none).
pub fn tag_of(attempt_reference: &str) -> Option<&str> {
    let (head, tag) = attempt_reference.rsplit_once('-')?;
    let (_, attempt) = head.rsplit_once('-')?;
    let numbered = attempt
        .strip_prefix('A')
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
    (numbered && is_tag(tag)).then_some(tag)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_are_random_and_fit_the_alphabet() {
        let a = new_tag();
        let b = new_tag();
        assert!(is_tag(&a) && is_tag(&b), "{a} {b}");
        assert_ne!(a, b, "30 random bits each");
        assert!(!is_tag("K7QX2"), "too short");
        assert!(!is_tag("K7QX2I"), "I is not in the alphabet");
        assert!(!is_tag("k7qx2m"), "capitals only");
    }

    #[test]
    fn references_carry_the_tag_and_old_ones_have_none() {
        let reference = attempt_reference("ORD-000123", 2, "K7QX2M");
        assert_eq!(reference, "ORD-000123-A2-K7QX2M");
        assert_eq!(tag_of(&reference), Some("K7QX2M"));
        assert_eq!(tag_of("ORD-000123-A2"), None, "made before tags");
        assert_eq!(tag_of("ORD-000123-K7QX2M"), None, "no attempt number");
        assert_eq!(tag_of("ORD-000123-A-K7QX2M"), None);
    }
}
