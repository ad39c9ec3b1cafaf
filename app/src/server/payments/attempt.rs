//! A payment attempt's own state, separate from its order's status: an order may see several
//! attempts (`-A1`, `-A2`…), and each one follows the provider's word about itself.

/// Where one attempt stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AttemptState {
    /// Created; nobody has called the provider yet.
    New,
    /// One request holds the claim to call the provider.
    Starting,
    /// The provider did not answer: the same attempt is retried with the same idempotency key.
    Unanswered,
    /// The provider refused to open a session; a new attempt may follow.
    Refused,
    /// The provider's session is open; the shopper is paying.
    Open,
    /// The shopper's cancel is being passed to the provider.
    Cancelling,
    Paid,
    Failed,
    Cancelled,
    Expired,
    /// Money arrived that does not fit (amount, currency, a flagged payment, a second payment).
    NeedsReview,
}

impl AttemptState {
    pub const ALL: [AttemptState; 11] = [
        AttemptState::New,
        AttemptState::Starting,
        AttemptState::Unanswered,
        AttemptState::Refused,
        AttemptState::Open,
        AttemptState::Cancelling,
        AttemptState::Paid,
        AttemptState::Failed,
        AttemptState::Cancelled,
        AttemptState::Expired,
        AttemptState::NeedsReview,
    ];

    /// The stored form.
    pub fn as_str(self) -> &'static str {
        match self {
            AttemptState::New => "new",
            AttemptState::Starting => "starting",
            AttemptState::Unanswered => "error",
            AttemptState::Refused => "refused",
            AttemptState::Open => "open",
            AttemptState::Cancelling => "cancelling",
            AttemptState::Paid => "paid",
            AttemptState::Failed => "failed",
            AttemptState::Cancelled => "cancelled",
            AttemptState::Expired => "expired",
            AttemptState::NeedsReview => "needs_review",
        }
    }

    pub fn parse(s: &str) -> Option<AttemptState> {
        AttemptState::ALL.into_iter().find(|a| a.as_str() == s)
    }

    /// A session may exist at the provider and nothing final is known: worth asking about.
    pub fn is_live(self) -> bool {
        matches!(
            self,
            AttemptState::Starting
                | AttemptState::Unanswered
                | AttemptState::Open
                | AttemptState::Cancelling
        )
    }

    /// The provider has said the last word about this attempt.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            AttemptState::Refused
                | AttemptState::Paid
                | AttemptState::Failed
                | AttemptState::Cancelled
                | AttemptState::Expired
                | AttemptState::NeedsReview
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_names_round_trip_and_unknown_ones_are_refused() {
        for s in AttemptState::ALL {
            assert_eq!(AttemptState::parse(s.as_str()), Some(s));
            assert!(!(s.is_live() && s.is_final()), "{s:?}");
        }
        assert_eq!(AttemptState::parse("pending"), None);
    }
}
