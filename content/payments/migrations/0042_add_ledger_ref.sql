-- 0042: expand step for the ledger reference (payments-api 2.4.0).
-- The column is nullable and the index is built concurrently, so 2.3.1 keeps
-- working against the migrated schema and a rollback of the code is safe.
-- ADD COLUMN still takes ACCESS EXCLUSIVE for a moment: behind a long query
-- it gives up after 200 ms (and the deploy retries) instead of queueing
-- traffic. RESET before the concurrent build, whose waits for older
-- transactions must not time out half-way and leave an invalid index.
SET lock_timeout = '200ms';
ALTER TABLE orders ADD COLUMN ledger_ref text;
RESET lock_timeout;

CREATE INDEX CONCURRENTLY IF NOT EXISTS orders_ledger_ref_idx ON orders (ledger_ref);
