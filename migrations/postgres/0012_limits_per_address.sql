-- The client address an order was placed from, as per-address limits count it (an IPv4 address,
-- an IPv6 client's /64), so unpaid orders can be capped per address and not only per session (a
-- fresh cookie is free). Orders placed before this migration have none and count for no address.
ALTER TABLE orders ADD COLUMN client_key TEXT;
CREATE INDEX orders_client_key_awaiting ON orders (client_key, status);
