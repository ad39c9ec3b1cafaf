-- Refunds, and what the transaction history and the merchant's order list read without a join:
-- the provider of an order's newest attempt and how much of it was refunded. An attempt keeps the
-- provider's id of the captured payment (Stripe's payment intent, SSLCOMMERZ's bank transaction),
-- which refunds and the admin search need, and the amount it captured.
ALTER TABLE orders ADD COLUMN provider TEXT;
ALTER TABLE orders ADD COLUMN refunded_minor BIGINT NOT NULL DEFAULT 0;
ALTER TABLE payment_attempts ADD COLUMN provider_payment_id TEXT;
-- What the provider reported as captured (for a paid or reviewed attempt): what refunds draw on.
ALTER TABLE payment_attempts ADD COLUMN captured_minor BIGINT;
ALTER TABLE payment_attempts ADD COLUMN captured_currency TEXT;

CREATE TABLE refunds (
    id INTEGER PRIMARY KEY,
    order_id BIGINT NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    attempt_id BIGINT NOT NULL REFERENCES payment_attempts (id),
    provider TEXT NOT NULL,
    -- From the refund form: a second press of the same form is the same refund.
    idempotency_key TEXT NOT NULL UNIQUE,
    amount_minor BIGINT NOT NULL CHECK (amount_minor > 0),
    currency TEXT NOT NULL,
    reason TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pending', 'succeeded', 'failed')),
    provider_refund_id TEXT,
    failure TEXT,
    requested_by BIGINT REFERENCES users (id) ON DELETE SET NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX refunds_order ON refunds (order_id, id);
CREATE INDEX refunds_provider_refund ON refunds (provider, provider_refund_id);
CREATE INDEX refunds_pending ON refunds (status, updated_at);

-- Attempts paid before: the verified amount equalled the order's quote.
UPDATE payment_attempts SET
    captured_minor = (SELECT o.total_minor FROM orders o WHERE o.id = payment_attempts.order_id),
    captured_currency = (SELECT o.currency FROM orders o WHERE o.id = payment_attempts.order_id)
WHERE state = 'paid' AND captured_minor IS NULL;
-- Orders from before: the newest attempt's provider.
UPDATE orders SET provider = (
    SELECT a.provider FROM payment_attempts a WHERE a.order_id = orders.id ORDER BY a.id DESC LIMIT 1
) WHERE provider IS NULL;
