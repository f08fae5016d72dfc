ALTER TABLE orders ADD COLUMN ledger_ref text;
