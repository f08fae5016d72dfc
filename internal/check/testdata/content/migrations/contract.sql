-- Looks harmless in the plan, but drops a column.
ALTER TABLE orders ADD COLUMN status_v2 text;
ALTER TABLE orders DROP COLUMN legacy_status;
