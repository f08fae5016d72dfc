-- Expand: nullable column, the previous release ignores it.
ALTER TABLE orders ADD COLUMN ledger_ref text;
CREATE INDEX CONCURRENTLY orders_ledger_ref_idx ON orders (ledger_ref);
