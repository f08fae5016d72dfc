-- The orders schema checkout 5.9.2 runs on in production today (a
-- pg_dump --schema-only, trimmed): the game day starts its database from
-- it, then applies the plan's migrations.
CREATE TABLE orders (
	id bigserial PRIMARY KEY,
	sku text NOT NULL,
	qty int NOT NULL CHECK (qty > 0),
	status text NOT NULL DEFAULT 'new',
	legacy_status text,
	created_at timestamptz NOT NULL DEFAULT now()
);
