-- The payment path's second pass: an order remembers the checkout form it came from and a
-- fingerprint of what was quoted (a changed cart is a new order), how long it holds its stock,
-- and an attempt remembers how the browser gets to the provider (a redirect or a form to post).
ALTER TABLE orders ADD COLUMN checkout_key TEXT;
ALTER TABLE orders ADD COLUMN hold_until BIGINT;
CREATE INDEX orders_checkout_key ON orders (checkout_key, id);
CREATE INDEX orders_hold ON orders (status, hold_until);
ALTER TABLE payment_attempts ADD COLUMN next_step TEXT;
CREATE INDEX webhook_inbox_received ON webhook_inbox (received_at);
-- Rows from before: an open attempt's redirect becomes its next step, and an unpaid order holds
-- its stock for the default hour from when it was placed (the reconciler then expires it).
UPDATE payment_attempts SET next_step = json_object('kind', 'redirect', 'url', redirect_url)
    WHERE redirect_url IS NOT NULL AND next_step IS NULL;
UPDATE orders SET hold_until = created_at + 3600000
    WHERE hold_until IS NULL AND status = 'awaiting_payment';
