-- The orders schema the 5.x / 2.3 releases create at start-up
-- (MIGRATE=startup): status is the new column, legacy_status the one the
-- 5.x order page still reads.
CREATE TABLE IF NOT EXISTS orders (
	id bigserial PRIMARY KEY,
	sku text NOT NULL,
	qty int NOT NULL CHECK (qty > 0),
	status text NOT NULL DEFAULT 'new',
	legacy_status text,
	created_at timestamptz NOT NULL DEFAULT now()
);
