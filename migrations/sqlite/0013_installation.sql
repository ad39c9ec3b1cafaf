-- This installation's identity: a random tag made once, when the shop first starts on this
-- database, and put into every reference the shop sends to a payment provider
-- (`ORD-000123-A1-K7QX2M`). Order numbers start at 1 in every database, so without it a
-- reinstalled shop, a staging copy or a second shop on the same provider account would send the
-- references, idempotency keys and invoice ids an earlier installation used. One row at most.
CREATE TABLE installation (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    tag TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
