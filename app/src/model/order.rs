//! Order status: a monotonic state machine (docs/payments.md#orders-and-their-states).
//!
//! `awaiting_payment → paid | failed | cancelled | expired | needs_review`, then
//! `paid → partially_refunded → refunded` (or `paid → refunded`), and `failed | cancelled | expired →
//! needs_review` when money arrives for an order already given up, and `paid | partially_refunded |
//! refunded → needs_review` when a second payment arrives (a possible double charge), and
//! `needs_review → paid | partially_refunded | refunded` when the merchant decides the review. Moving to the status an order
//! already has is a successful no-op (providers repeat themselves); anything else is refused.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderStatus {
    AwaitingPayment,
    Paid,
    Failed,
    Cancelled,
    Expired,
    NeedsReview,
    PartiallyRefunded,
    Refunded,
}

/// What asking for a status change did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    /// The order moved to the new status.
    Applied,
    /// The order already had that status; nothing changes.
    Unchanged,
    /// Not allowed from the current status (backwards, or out of a final state).
    Refused,
}

impl OrderStatus {
    pub const ALL: [OrderStatus; 8] = [
        OrderStatus::AwaitingPayment,
        OrderStatus::Paid,
        OrderStatus::Failed,
        OrderStatus::Cancelled,
        OrderStatus::Expired,
        OrderStatus::NeedsReview,
        OrderStatus::PartiallyRefunded,
        OrderStatus::Refunded,
    ];

    /// What a person reads.
    pub fn label(self) -> &'static str {
        match self {
            OrderStatus::AwaitingPayment => "Awaiting payment",
            OrderStatus::Paid => "Paid",
            OrderStatus::Failed => "Failed",
            OrderStatus::Cancelled => "Cancelled",
            OrderStatus::Expired => "Expired",
            OrderStatus::NeedsReview => "Needs review",
            OrderStatus::PartiallyRefunded => "Partially refunded",
            OrderStatus::Refunded => "Refunded",
        }
    }

    /// The stored and JSON form.
    pub fn as_str(self) -> &'static str {
        match self {
            OrderStatus::AwaitingPayment => "awaiting_payment",
            OrderStatus::Paid => "paid",
            OrderStatus::Failed => "failed",
            OrderStatus::Cancelled => "cancelled",
            OrderStatus::Expired => "expired",
            OrderStatus::NeedsReview => "needs_review",
            OrderStatus::PartiallyRefunded => "partially_refunded",
            OrderStatus::Refunded => "refunded",
        }
    }

    /// The classes of the status's badge: every status its own colour and mark (`style/main.css`).
    pub fn badge_class(self) -> &'static str {
        match self {
            OrderStatus::AwaitingPayment => "badge badge-awaiting_payment",
            OrderStatus::Paid => "badge badge-paid",
            OrderStatus::Failed => "badge badge-failed",
            OrderStatus::Cancelled => "badge badge-cancelled",
            OrderStatus::Expired => "badge badge-expired",
            OrderStatus::NeedsReview => "badge badge-needs_review",
            OrderStatus::PartiallyRefunded => "badge badge-partially_refunded",
            OrderStatus::Refunded => "badge badge-refunded",
        }
    }

    /// No further payment change can happen (refunds aside).
    pub fn is_settled(self) -> bool {
        self != OrderStatus::AwaitingPayment
    }

    /// Whether reaching this status gives the reserved stock back.
    pub fn releases_stock(self) -> bool {
        matches!(
            self,
            OrderStatus::Failed | OrderStatus::Cancelled | OrderStatus::Expired
        )
    }

    pub fn parse(s: &str) -> Option<OrderStatus> {
        OrderStatus::ALL.into_iter().find(|st| st.as_str() == s)
    }

    /// Whether `self → to` is a forward step.
    fn allows(self, to: OrderStatus) -> bool {
        use OrderStatus::*;
        matches!(
            (self, to),
            (
                AwaitingPayment,
                Paid | Failed | Cancelled | Expired | NeedsReview
            ) | (Paid, PartiallyRefunded | Refunded)
                | (PartiallyRefunded, Refunded)
                // Money that arrives after the order was given up goes to a person.
                | (Failed | Cancelled | Expired, NeedsReview)
                // So does a second payment for an order already paid.
                | (Paid | PartiallyRefunded | Refunded, NeedsReview)
                // A person decides a review: accept the money as the payment, or give it back.
                | (NeedsReview, Paid | PartiallyRefunded | Refunded)
        )
    }

    /// Decide a requested change from `self` to `to`.
    pub fn transition(self, to: OrderStatus) -> Transition {
        if self == to {
            Transition::Unchanged
        } else if self.allows(to) {
            Transition::Applied
        } else {
            Transition::Refused
        }
    }
}

#[cfg(test)]
mod tests {
    use super::OrderStatus::*;
    use super::*;

    #[test]
    fn forward_edges_apply() {
        for to in [Paid, Failed, Cancelled, Expired, NeedsReview] {
            assert_eq!(
                AwaitingPayment.transition(to),
                Transition::Applied,
                "{to:?}"
            );
        }
        assert_eq!(Paid.transition(PartiallyRefunded), Transition::Applied);
        assert_eq!(Paid.transition(Refunded), Transition::Applied);
        assert_eq!(PartiallyRefunded.transition(Refunded), Transition::Applied);
    }

    #[test]
    fn repeats_are_no_ops() {
        for status in OrderStatus::ALL {
            assert_eq!(
                status.transition(status),
                Transition::Unchanged,
                "{status:?}"
            );
        }
    }

    #[test]
    fn backwards_and_out_of_final_states_are_refused() {
        assert_eq!(Paid.transition(AwaitingPayment), Transition::Refused);
        assert_eq!(Paid.transition(Failed), Transition::Refused);
        assert_eq!(Refunded.transition(Paid), Transition::Refused);
        assert_eq!(Refunded.transition(PartiallyRefunded), Transition::Refused);
        assert_eq!(PartiallyRefunded.transition(Paid), Transition::Refused);
        assert_eq!(AwaitingPayment.transition(Refunded), Transition::Refused);
        for final_state in [Failed, Cancelled, Expired] {
            for to in OrderStatus::ALL
                .into_iter()
                .filter(|to| *to != final_state && *to != NeedsReview)
            {
                assert_eq!(
                    final_state.transition(to),
                    Transition::Refused,
                    "{final_state:?} → {to:?}"
                );
            }
        }
    }

    #[test]
    fn every_edge_is_accounted_for() {
        let applied = OrderStatus::ALL
            .iter()
            .flat_map(|from| OrderStatus::ALL.iter().map(move |to| from.transition(*to)))
            .filter(|t| *t == Transition::Applied)
            .count();
        assert_eq!(applied, 17);
    }

    #[test]
    fn a_given_up_order_can_only_go_to_review() {
        for closed in [Failed, Cancelled, Expired] {
            assert_eq!(
                closed.transition(NeedsReview),
                Transition::Applied,
                "{closed:?}"
            );
            assert_eq!(closed.transition(Paid), Transition::Refused, "{closed:?}");
        }
    }

    #[test]
    fn a_review_ends_in_paid_or_refunded() {
        for to in [Paid, PartiallyRefunded, Refunded] {
            assert_eq!(NeedsReview.transition(to), Transition::Applied, "{to:?}");
        }
        for to in [AwaitingPayment, Failed, Cancelled, Expired] {
            assert_eq!(NeedsReview.transition(to), Transition::Refused, "{to:?}");
        }
    }

    #[test]
    fn a_second_payment_of_a_paid_order_goes_to_review() {
        for paid in [Paid, PartiallyRefunded, Refunded] {
            assert_eq!(
                paid.transition(NeedsReview),
                Transition::Applied,
                "{paid:?}"
            );
        }
    }

    #[test]
    fn names_round_trip() {
        for status in OrderStatus::ALL {
            assert_eq!(OrderStatus::parse(status.as_str()), Some(status));
        }
        assert_eq!(OrderStatus::parse("shipped"), None);
        assert_eq!(AwaitingPayment.label(), "Awaiting payment");
        assert_eq!(NeedsReview.label(), "Needs review");
    }
}
