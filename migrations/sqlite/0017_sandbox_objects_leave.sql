-- The provider sandboxes keep their sessions and idempotency records in a store of their own
-- (beside the shop's database, never in it): a live shop's schema has no sandbox table.
DROP TABLE IF EXISTS sandbox_objects;
