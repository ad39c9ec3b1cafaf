-- Orders with their quote snapshot, payment attempts, the payment ledger, the webhook inbox, the
-- outbox of side effects, and the state of the built-in provider sandboxes.
CREATE TABLE orders (
    id INTEGER PRIMARY KEY,
    reference TEXT UNIQUE,
    idempotency_key TEXT NOT NULL UNIQUE,
    user_id BIGINT REFERENCES users (id) ON DELETE SET NULL,
    guest_token TEXT NOT NULL,
    email TEXT NOT NULL,
    name TEXT NOT NULL,
    address TEXT NOT NULL,
    currency TEXT NOT NULL,
    total_minor BIGINT NOT NULL CHECK (total_minor >= 0),
    status TEXT NOT NULL,
    stock_released BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX orders_user ON orders (user_id, created_at);

CREATE TABLE order_lines (
    order_id BIGINT NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    product_id BIGINT NOT NULL REFERENCES products (id),
    name TEXT NOT NULL,
    unit_minor BIGINT NOT NULL,
    quantity BIGINT NOT NULL,
    line_minor BIGINT NOT NULL,
    PRIMARY KEY (order_id, product_id)
);

CREATE TABLE payment_attempts (
    id INTEGER PRIMARY KEY,
    order_id BIGINT NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    reference TEXT NOT NULL UNIQUE,
    provider TEXT NOT NULL,
    state TEXT NOT NULL,
    provider_session_id TEXT,
    redirect_url TEXT,
    error TEXT,
    claimed_at BIGINT,
    lookups BIGINT NOT NULL DEFAULT 0,
    next_lookup_at BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX payment_attempts_order ON payment_attempts (order_id);
CREATE INDEX payment_attempts_due ON payment_attempts (state, next_lookup_at);

CREATE TABLE payment_events (
    id INTEGER PRIMARY KEY,
    order_id BIGINT NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    attempt_id BIGINT REFERENCES payment_attempts (id),
    provider TEXT NOT NULL,
    event_id TEXT NOT NULL,
    source TEXT NOT NULL,
    kind TEXT NOT NULL,
    amount_minor BIGINT,
    currency TEXT,
    from_status TEXT NOT NULL,
    to_status TEXT NOT NULL,
    outcome TEXT NOT NULL,
    payload TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    UNIQUE (provider, event_id)
);
CREATE INDEX payment_events_order ON payment_events (order_id, id);

CREATE TABLE webhook_inbox (
    id INTEGER PRIMARY KEY,
    provider TEXT NOT NULL,
    event_id TEXT,
    headers TEXT NOT NULL,
    body BLOB NOT NULL,
    received_at BIGINT NOT NULL,
    processed_at BIGINT,
    outcome TEXT
);
CREATE INDEX webhook_inbox_pending ON webhook_inbox (processed_at);

CREATE TABLE outbox (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL,
    payload TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    sent_at BIGINT
);

CREATE TABLE sandbox_objects (
    id TEXT PRIMARY KEY,
    provider TEXT NOT NULL,
    idempotency_key TEXT,
    fingerprint TEXT NOT NULL,
    status_code BIGINT NOT NULL,
    data TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    UNIQUE (provider, idempotency_key)
);
