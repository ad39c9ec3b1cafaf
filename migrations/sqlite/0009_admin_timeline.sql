-- The merchant's order page and sales chart. A webhook delivery remembers the attempt it is about,
-- so the order's timeline lists every delivery (applied, duplicate, ignored and rejected ones),
-- not only those that reached the ledger: the verified statement's reference where there is one,
-- else the reference the body names (unverified: shown only as what a rejected delivery claimed).
ALTER TABLE webhook_inbox ADD COLUMN attempt_reference TEXT;
CREATE INDEX webhook_inbox_attempt_reference ON webhook_inbox (attempt_reference, id);

-- Deliveries from before that reached the ledger.
UPDATE webhook_inbox SET attempt_reference = (
    SELECT a.reference FROM payment_events e JOIN payment_attempts a ON a.id = e.attempt_id
    WHERE e.provider = webhook_inbox.provider AND e.event_id = webhook_inbox.event_id
) WHERE event_id IS NOT NULL AND attempt_reference IS NULL;

-- The sales chart's two grouped queries: each status (state) it counts, from 30 days ago.
CREATE INDEX orders_sales_chart ON orders (status, created_at);
CREATE INDEX payment_attempts_sales_chart ON payment_attempts (state, created_at);
