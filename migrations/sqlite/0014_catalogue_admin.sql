-- The merchant's catalogue: categories (one level, in the merchant's order), each product's SKU
-- (unique; the existing products get their slug in capitals), its category, whether it is archived
-- (kept for its orders, gone from the shop and the product list), and the slugs a product was
-- reachable under before a rename, which redirect to its current one.
CREATE TABLE categories (
    id INTEGER PRIMARY KEY,
    slug TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    position BIGINT NOT NULL DEFAULT 0
);

ALTER TABLE products ADD COLUMN sku TEXT;
ALTER TABLE products ADD COLUMN category_id BIGINT REFERENCES categories (id) ON DELETE SET NULL;
ALTER TABLE products ADD COLUMN archived BIGINT NOT NULL DEFAULT 0 CHECK (archived IN (0, 1));
UPDATE products SET sku = upper(slug) WHERE sku IS NULL;
CREATE UNIQUE INDEX products_sku ON products (sku);
CREATE INDEX products_category ON products (category_id);

CREATE TABLE product_old_slugs (
    slug TEXT PRIMARY KEY,
    product_id BIGINT NOT NULL REFERENCES products (id) ON DELETE CASCADE
);
