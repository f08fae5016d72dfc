-- 0045: record which lookup found an order (nullable, no default: a
-- catalog-only change once it has its lock). Adding a column needs an
-- ACCESS EXCLUSIVE lock for a moment; behind a long transaction (a
-- finance report, a pg_dump) that moment becomes the report's whole
-- length, and every query of the service queues behind the ALTER. The
-- lock_timeout makes it give up after 200 ms instead; the deploy job (and
-- the drill) retry it until the long transaction is gone.
SET lock_timeout = '200ms';
ALTER TABLE orders ADD COLUMN IF NOT EXISTS lookup_source text;
RESET lock_timeout;
