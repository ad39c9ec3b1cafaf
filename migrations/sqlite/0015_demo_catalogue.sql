-- Whether to load the demo catalogue is decided once, at a database's first start (one row once
-- decided), so a live shop that is later started in sandbox mode, or a catalogue the merchant
-- emptied, never gets the demo products by surprise. A database that already holds products (the
-- seed this shop once ran as migration 0003) was decided long ago.
CREATE TABLE demo_catalogue (
    id BIGINT PRIMARY KEY CHECK (id = 1),
    decided_at BIGINT NOT NULL,
    loaded BIGINT NOT NULL CHECK (loaded IN (0, 1))
);
INSERT INTO demo_catalogue (id, decided_at, loaded)
SELECT 1, 0, 1 WHERE EXISTS (SELECT 1 FROM products);
