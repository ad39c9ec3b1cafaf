-- Product photos. Each upload is decoded and re-encoded into a few widths (JPEG, or PNG when it
-- has transparency), written to MEDIA_DIR as {name}-{width}.{format}; `name` is a hash of those
-- files' bytes, so the files never change and are cached for a year. `width` and `height` are the
-- largest file's. The first photo (smallest position) is the product's card image.
CREATE TABLE product_photos (
    id INTEGER PRIMARY KEY,
    product_id BIGINT NOT NULL REFERENCES products (id) ON DELETE CASCADE,
    position BIGINT NOT NULL,
    name TEXT NOT NULL,
    format TEXT NOT NULL CHECK (format IN ('jpg', 'png')),
    widths TEXT NOT NULL,
    width BIGINT NOT NULL,
    height BIGINT NOT NULL,
    alt TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX product_photos_product ON product_photos (product_id, position);

-- The catalogue's pages are read in this order, a page at a time from a (position, id) key.
CREATE INDEX products_catalogue_order ON products (position, id);

-- A catalogue CSV the merchant checked (a dry run with no problems), kept for Import. Kept a day.
CREATE TABLE catalogue_imports (
    token TEXT PRIMARY KEY,
    user_id BIGINT NOT NULL,
    file_name TEXT NOT NULL,
    body TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
