-- Accounts, customers' saved carts, and failed log-ins (for throttling).
CREATE TABLE users (
    id INTEGER PRIMARY KEY,
    email TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('customer', 'merchant')),
    created_at BIGINT NOT NULL
);

CREATE TABLE cart_items (
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    product_id BIGINT NOT NULL REFERENCES products (id) ON DELETE CASCADE,
    quantity BIGINT NOT NULL CHECK (quantity BETWEEN 1 AND 99),
    seen_currency TEXT,
    seen_price_minor BIGINT,
    added_at BIGINT NOT NULL,
    PRIMARY KEY (user_id, product_id)
);

CREATE TABLE login_failures (
    id INTEGER PRIMARY KEY,
    email TEXT NOT NULL,
    ip TEXT NOT NULL,
    at_ms BIGINT NOT NULL
);
CREATE INDEX login_failures_email ON login_failures (email, at_ms);
CREATE INDEX login_failures_ip ON login_failures (ip, at_ms);
