-- The order lists (customer history, merchant admin, CSV): every filter reads in id order (newest
-- first, keyset pagination) from an index that starts with the filtered column. The merchant's
-- totals per currency read the same indexes without touching the table: they carry the currency
-- and the amounts.
CREATE INDEX orders_user_id ON orders (user_id, id);
CREATE INDEX orders_status_id ON orders (status, id, currency, total_minor, refunded_minor);
CREATE INDEX orders_provider_id ON orders (provider, id, currency, total_minor, refunded_minor);
CREATE INDEX orders_currency_id ON orders (currency, id, total_minor, refunded_minor);
CREATE INDEX orders_email_id ON orders (email, id);
CREATE INDEX orders_created ON orders (created_at, id, currency, total_minor, refunded_minor);
-- Search by a product name: the catalogue's matching products, then their orders.
CREATE INDEX order_lines_product ON order_lines (product_id, order_id);
-- Search by the provider's own id (session, or the captured payment).
CREATE INDEX payment_attempts_session ON payment_attempts (provider_session_id);
CREATE INDEX payment_attempts_payment ON payment_attempts (provider_payment_id);
