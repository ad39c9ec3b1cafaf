-- Products and their prices per currency. Money is integer minor units; times are Unix milliseconds.
CREATE TABLE products (
    id INTEGER PRIMARY KEY,
    slug TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    description TEXT NOT NULL,
    image TEXT NOT NULL,
    stock BIGINT NOT NULL CHECK (stock >= 0),
    active BIGINT NOT NULL DEFAULT 1 CHECK (active IN (0, 1)),
    position BIGINT NOT NULL DEFAULT 0,
    updated_at BIGINT NOT NULL
);

CREATE TABLE product_prices (
    product_id BIGINT NOT NULL REFERENCES products (id) ON DELETE CASCADE,
    currency TEXT NOT NULL CHECK (currency IN ('USD', 'EUR', 'BDT', 'CNY', 'JPY')),
    amount_minor BIGINT NOT NULL CHECK (amount_minor >= 0),
    PRIMARY KEY (product_id, currency)
);
