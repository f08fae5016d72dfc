-- 0044, written the safe way: the index is built concurrently, so writes
-- go on while it builds. CONCURRENTLY cannot run inside a transaction;
-- the deploy job (and the drill) run each statement on its own.
CREATE INDEX CONCURRENTLY IF NOT EXISTS orders_sku_idx ON orders (sku);
