-- 0045, written the safe way: the lock_timeout is well under the service's
-- lock budget (1 s), so behind a long transaction the ALTER gives up after
-- 200 ms, the queries queued behind it go on, and the deploy job (and the
-- drill) retry it until the long transaction is gone.
SET lock_timeout = '200ms';
ALTER TABLE orders ADD COLUMN IF NOT EXISTS lookup_source text;
RESET lock_timeout;
