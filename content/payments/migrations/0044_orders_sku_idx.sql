-- 0044: index orders by SKU for the new "orders for this product" lookup
-- (payments-api 2.4.1). It looks like the safest change there is: no
-- column changes, nothing the previous release reads. But a plain CREATE
-- INDEX holds a SHARE lock on orders for the whole build, and every
-- INSERT waits behind it: on production's row count that is seconds of
-- stalled checkouts. The drill on volume shows it (migration-lock); the
-- fix is in the plan's "Database migration" section.
CREATE INDEX orders_sku_idx ON orders (sku);
