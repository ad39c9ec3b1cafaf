-- Delivery state of the outbox (emails): a worker on any instance claims a due row by moving
-- `claimed_until` forward (a lease), sends it, and marks it sent; a failure counts an attempt,
-- keeps the error and pushes `next_attempt_at` back; after the last try the row is dead.
ALTER TABLE outbox ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;
ALTER TABLE outbox ADD COLUMN next_attempt_at BIGINT NOT NULL DEFAULT 0;
ALTER TABLE outbox ADD COLUMN claimed_until BIGINT;
-- Which claim holds the lease (a fresh random token per claim): only its holder may mark the row
-- sent or failed, so a worker whose lease ran out cannot overwrite the next holder's outcome.
ALTER TABLE outbox ADD COLUMN claim_token TEXT;
ALTER TABLE outbox ADD COLUMN last_error TEXT;
ALTER TABLE outbox ADD COLUMN dead_at BIGINT;
CREATE INDEX outbox_due ON outbox (sent_at, dead_at, next_attempt_at);
-- The order a message is about (its reference), so the admin can see an order's emails.
ALTER TABLE outbox ADD COLUMN reference TEXT;
CREATE INDEX outbox_reference ON outbox (reference);
-- Rows queued before the shop sent email were never sent. Sending old confirmations now would
-- only confuse their customers, so they are closed as dead, with the reason the admin sees.
UPDATE outbox SET dead_at = created_at,
    last_error = 'queued before this shop sent emails; not sent'
    WHERE sent_at IS NULL;
