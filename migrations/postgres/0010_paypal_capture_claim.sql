-- PayPal's capture happens once per attempt, whoever asks first (the shopper's return, the
-- CHECKOUT.ORDER.APPROVED webhook, the reconciler): the caller whose conditional UPDATE sets this
-- column captures; the others look the order up. Shared by every instance on the database.
ALTER TABLE payment_attempts ADD COLUMN capture_claimed_at BIGINT;
