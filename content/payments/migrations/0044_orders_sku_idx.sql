-- 0044: index orders by SKU for the new "orders for this product" lookup
-- (payments-api 2.4.1). Built concurrently: a plain CREATE INDEX would hold
-- a SHARE lock on orders for the whole build, and on production's million
-- rows every INSERT would wait seconds behind it (the drill on volume
-- shows it). CONCURRENTLY cannot run inside a transaction; the deploy job
-- (and the drill) run each statement on its own.
CREATE INDEX CONCURRENTLY IF NOT EXISTS orders_sku_idx ON orders (sku);
