-- The orders schema as production has it since payments-api 2.4.0: the
-- stable release's start-up migration makes the table, and migration 0042
-- added the ledger reference. The drill generates the rows
-- (gameday.database.volume) after this file runs.
ALTER TABLE orders ADD COLUMN IF NOT EXISTS ledger_ref text;
CREATE INDEX IF NOT EXISTS orders_ledger_ref_idx ON orders (ledger_ref);
