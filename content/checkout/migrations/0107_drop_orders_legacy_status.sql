-- 0107: contract step of the order-status migration. Checkout 5.x wrote
-- legacy_status; 6.0 writes status only. After this runs, 5.x cannot work.
ALTER TABLE orders DROP COLUMN legacy_status;
