-- 0107: contract step of the order-status migration. Checkout 5.x wrote
-- legacy_status; 6.0 writes status only. After this runs, 5.x cannot work.
-- DROP COLUMN takes ACCESS EXCLUSIVE: give up after 200 ms (and retry)
-- rather than queue every query on orders behind a long one.
SET lock_timeout = '200ms';
ALTER TABLE orders DROP COLUMN legacy_status;
