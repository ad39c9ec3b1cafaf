-- The merchant's order page and sales chart. A webhook delivery remembers the attempt it is about,
-- so the order's timeline lists every delivery (applied, duplicate, ignored and rejected ones),
-- not only those that reached the ledger: the verified statement's reference where there is one,
-- else the reference the body names (unverified: shown only as what a rejected delivery claimed).
ALTER TABLE webhook_inbox ADD COLUMN attempt_reference TEXT;
CREATE INDEX webhook_inbox_attempt ON webhook_inbox (attempt_reference, id);

-- Deliveries from before that reached the ledger.
UPDATE webhook_inbox SET attempt_reference = (
    SELECT a.reference FROM payment_events e JOIN payment_attempts a ON a.id = e.attempt_id
    WHERE e.provider = webhook_inbox.provider AND e.event_id = webhook_inbox.event_id
) WHERE event_id IS NOT NULL AND attempt_reference IS NULL;

-- The sales chart's two grouped queries read the last 30 days by creation time.
CREATE INDEX orders_created ON orders (created_at, status);
CREATE INDEX payment_attempts_created ON payment_attempts (created_at, state);
