-- 0045: record which lookup found an order (nullable, no default: a
-- catalog-only change once it has its lock). Adding a column needs an
-- ACCESS EXCLUSIVE lock for a moment, and the file sets a lock_timeout, as
-- the linters ask. It looks safe, and is not: behind a long transaction (a
-- finance report, a pg_dump) the ALTER waits up to 5 s for its lock, and
-- every query of the service queues behind it for as long. The drill's
-- migration-behind-long-query scenario shows it; the fixed file
-- (0045_orders_lookup_source.fixed.sql) gives up after 200 ms and is retried.
SET lock_timeout = '5s';
ALTER TABLE orders ADD COLUMN IF NOT EXISTS lookup_source text;
RESET lock_timeout;
