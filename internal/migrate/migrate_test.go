package migrate

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestClassify(t *testing.T) {
	tests := []struct {
		sql   string
		phase Phase
		kind  string
	}{
		{"ALTER TABLE orders DROP COLUMN note;", Contract, "drop-column"},
		{"ALTER TABLE orders RENAME COLUMN note TO memo;", Contract, "rename-column"},
		{"ALTER TABLE orders RENAME TO purchases;", Contract, "rename-table"},
		{"DROP TABLE legacy_orders;", Contract, "drop-table"},
		{"ALTER TABLE orders ALTER COLUMN amount TYPE bigint;", Contract, "alter-column-type"},
		{"ALTER TABLE orders ALTER COLUMN note SET NOT NULL;", Contract, "set-not-null"},
		{"ALTER TABLE orders ALTER COLUMN note DROP NOT NULL;", Contract, "drop-not-null"},
		{"ALTER TABLE orders ALTER COLUMN note DROP DEFAULT;", Contract, "drop-default"},
		{"ALTER TABLE orders ADD COLUMN ref text NOT NULL;", Contract, "add-column-not-null-no-default"},
		{"ALTER TABLE orders ADD CONSTRAINT amount_pos CHECK (amount > 0);", Contract, "add-constraint"},
		{"TRUNCATE orders;", Contract, "truncate"},
		{"DELETE FROM orders;", Contract, "delete-all"},
		{"UPDATE orders SET note = '';", Contract, "update-all"},
		{"DROP TYPE order_state;", Contract, "drop-type"},
		{"ALTER TYPE order_state RENAME VALUE 'new' TO 'created';", Contract, "rename-enum-value"},
		{"ALTER TABLE orders ADD COLUMN ref text;", Expand, "add-column"},
		{"ALTER TABLE orders ADD COLUMN ref text NOT NULL DEFAULT '';", Expand, "add-column"},
		{"ALTER TABLE orders ADD CONSTRAINT amount_pos CHECK (amount > 0) NOT VALID;", Expand, "add-constraint-not-valid"},
		{"CREATE TABLE ledger (id bigserial primary key);", Expand, "create-table"},
		{"CREATE INDEX CONCURRENTLY orders_ref_idx ON orders (ref);", Expand, "create-index"},
		{"CREATE INDEX orders_ref_idx ON orders (ref);", Expand, "create-index-not-concurrently"},
		{"ALTER TYPE order_state ADD VALUE 'held';", Expand, "add-enum-value"},
		{"UPDATE orders SET ref = 'x' WHERE id < 100;", Expand, ""},
		{"INSERT INTO orders (amount) VALUES (1);", Expand, ""},
		{"BEGIN; SET lock_timeout = '2s'; COMMIT;", Expand, ""},
	}
	for _, tt := range tests {
		t.Run(tt.sql, func(t *testing.T) {
			res, err := Analyze([]byte(tt.sql))
			if err != nil {
				t.Fatal(err)
			}
			if res.Phase != tt.phase {
				t.Errorf("phase = %s, want %s (%+v)", res.Phase, tt.phase, res.Findings)
			}
			if tt.kind == "" {
				if len(res.Findings) != 0 {
					t.Errorf("unexpected findings %+v", res.Findings)
				}
				return
			}
			if len(res.Findings) != 1 || res.Findings[0].Kind != tt.kind || res.Findings[0].Reason == "" {
				t.Errorf("findings = %+v, want one %s", res.Findings, tt.kind)
			}
		})
	}
}

func TestPositions(t *testing.T) {
	src := "-- expand first\nALTER TABLE orders ADD COLUMN ref text;\n\n/* then the\n   dangerous part */\n  ALTER TABLE orders\n    DROP COLUMN note;\n"
	res, err := Analyze([]byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Findings) != 2 || res.Findings[0].Line != 2 || res.Findings[1].Line != 6 || res.Findings[1].Column != 3 {
		t.Fatalf("findings = %+v", res.Findings)
	}
	if res.Findings[1].Statement != "ALTER TABLE orders DROP COLUMN note" || res.Findings[1].Object != "orders.note" {
		t.Errorf("finding = %+v", res.Findings[1])
	}
}

func TestSyntaxError(t *testing.T) {
	_, err := Analyze([]byte("ALTER TABLE orders ADD COLUMN ref text;\nALTER TABEL orders DROP COLUMN x;\n"))
	var se *SyntaxError
	if !errors.As(err, &se) || se.Line != 2 || se.Column != 7 {
		t.Fatalf("err = %#v", err)
	}
	dir := t.TempDir()
	file := filepath.Join(dir, "bad.sql")
	_ = os.WriteFile(file, []byte("SELEC 1;"), 0o644)
	if _, err := AnalyzeFile(file); err == nil || !strings.Contains(err.Error(), file+":1:1") {
		t.Errorf("AnalyzeFile error = %v", err)
	}
}

func TestFirstParseLatency(t *testing.T) {
	start := time.Now()
	if _, err := Analyze([]byte("SELECT 1")); err != nil {
		t.Fatal(err)
	}
	t.Logf("first parse (wasm compile included when first in the process): %s", time.Since(start))
}

func FuzzAnalyze(f *testing.F) {
	f.Add([]byte("ALTER TABLE orders DROP COLUMN note;"))
	f.Add([]byte("CREATE INDEX CONCURRENTLY i ON t (c); -- x\n"))
	f.Add([]byte("/* unterminated"))
	f.Add([]byte("BEGIN; SET LOCAL lock_timeout = '2s'; CREATE INDEX CONCURRENTLY i ON t (c); COMMIT;"))
	f.Add([]byte("ALTER TABLE t ADD COLUMN u uuid DEFAULT gen_random_uuid(), ALTER COLUMN c TYPE numeric(12,2) USING c::numeric;"))
	f.Add([]byte("ALTER TABLE t ADD CONSTRAINT k CHECK (c IS NOT NULL) NOT VALID; ALTER TABLE t VALIDATE CONSTRAINT k; ALTER TABLE t ALTER c SET NOT NULL;"))
	f.Add([]byte("VACUUM (FULL false) t; REINDEX TABLE CONCURRENTLY t; CLUSTER; DROP INDEX i;"))
	rules := map[string]bool{}
	for _, r := range LockRules() {
		rules[r.ID] = true
	}
	f.Fuzz(func(t *testing.T, sql []byte) {
		res, err := Analyze(sql)
		if err != nil {
			return
		}
		for _, fd := range append(res.Findings, res.Locks...) {
			if fd.Line < 1 || fd.Column < 1 {
				t.Fatalf("bad position %+v", fd)
			}
		}
		for _, fd := range res.Locks {
			if !rules[fd.Kind] || fd.Fix == "" || fd.Lock != "" && fd.Lock.Name() == string(fd.Lock) {
				t.Fatalf("lock finding %+v is not of a rule in the table", fd)
			}
		}
	})
}

func TestAnalyzeFileCache(t *testing.T) {
	old := CacheDir
	CacheDir = t.TempDir()
	defer func() { CacheDir = old }()
	file := filepath.Join(t.TempDir(), "m.sql")
	src := []byte("ALTER TABLE orders DROP COLUMN note;\n")
	if err := os.WriteFile(file, src, 0o644); err != nil {
		t.Fatal(err)
	}
	first, err := AnalyzeFile(file)
	if err != nil || first.Phase != Contract {
		t.Fatalf("%+v %v", first, err)
	}
	cached := cachePath(src)
	if _, err := os.Stat(cached); err != nil {
		t.Fatalf("no cache entry: %v", err)
	}
	// A cached result is served as it was stored.
	second, err := AnalyzeFile(file)
	if err != nil || second.Phase != Contract || len(second.Findings) != 1 || second.Findings[0].Kind != "drop-column" {
		t.Fatalf("cached: %+v %v", second, err)
	}
	// A corrupt cache entry is ignored and replaced.
	if err := os.WriteFile(cached, []byte("{not json"), 0o644); err != nil {
		t.Fatal(err)
	}
	third, err := AnalyzeFile(file)
	if err != nil || third.Phase != Contract {
		t.Fatalf("after corrupt cache: %+v %v", third, err)
	}
	// Changing the SQL changes the key.
	if cachePath([]byte("SELECT 1;")) == cached {
		t.Error("two SQL texts share a cache key")
	}
}
