-- 0050: reads like an expand migration, and is one; its locks are not safe.
CREATE INDEX orders_ref_idx ON orders (ref);
  ALTER TABLE orders ADD COLUMN note text;
SET lock_timeout = '2s';
ALTER TABLE orders
  ADD CONSTRAINT orders_customer_fk FOREIGN KEY (customer_id) REFERENCES customers (id);
