package migrate

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	pgquery "github.com/wasilibs/go-pgquery"
)

// TestLockRules: each rule fires on a statement that takes its lock on a
// table in use, at that statement's line, and not on the look-alike a DBA
// would write instead.
func TestLockRules(t *testing.T) {
	tests := []struct {
		name string
		rule string
		sql  string
		line int // 0: the rule must not fire
	}{
		{"plain index", "create-index-not-concurrently", "CREATE INDEX orders_ref_idx ON orders (ref);", 1},
		{"concurrent index", "create-index-not-concurrently", "CREATE INDEX CONCURRENTLY orders_ref_idx ON orders (ref);", 0},
		{"index on a table made in the file", "create-index-not-concurrently", "CREATE TABLE ledger (id bigint);\nCREATE INDEX ledger_id_idx ON ledger (id);", 0},
		{"unique index", "create-index-not-concurrently", "SELECT 1;\nCREATE UNIQUE INDEX orders_ref_key ON orders (ref);", 2},

		{"drop index", "drop-index-not-concurrently", "DROP INDEX orders_ref_idx;", 1},
		{"drop index concurrently", "drop-index-not-concurrently", "DROP INDEX CONCURRENTLY orders_ref_idx;", 0},

		{"validated check", "constraint-without-not-valid", "ALTER TABLE orders ADD CONSTRAINT amount_pos CHECK (amount > 0);", 1},
		{"check NOT VALID, then VALIDATE", "constraint-without-not-valid", "ALTER TABLE orders ADD CONSTRAINT amount_pos CHECK (amount > 0) NOT VALID;\nALTER TABLE orders VALIDATE CONSTRAINT amount_pos;", 0},
		{"check on a new table", "constraint-without-not-valid", "CREATE TABLE ledger (amount int);\nALTER TABLE ledger ADD CONSTRAINT amount_pos CHECK (amount > 0);", 0},

		{"unique constraint", "unique-constraint-without-index", "ALTER TABLE orders ADD CONSTRAINT orders_ref_key UNIQUE (ref);", 1},
		{"primary key", "unique-constraint-without-index", "ALTER TABLE orders ADD PRIMARY KEY (id);", 1},
		{"exclusion constraint", "unique-constraint-without-index", "ALTER TABLE rooms ADD CONSTRAINT no_overlap EXCLUDE USING gist (during WITH &&);", 1},
		{"unique USING INDEX built concurrently", "unique-constraint-without-index", "CREATE UNIQUE INDEX CONCURRENTLY orders_ref_key ON orders (ref);\nALTER TABLE orders ADD CONSTRAINT orders_ref_key UNIQUE USING INDEX orders_ref_key;", 0},

		{"foreign key", "foreign-key-without-not-valid", "ALTER TABLE orders ADD CONSTRAINT orders_customer_fk FOREIGN KEY (customer_id) REFERENCES customers (id);", 1},
		{"column with a foreign key", "foreign-key-without-not-valid", "ALTER TABLE orders ADD COLUMN customer_id bigint REFERENCES customers (id);", 1},
		{"foreign key NOT VALID, then VALIDATE", "foreign-key-without-not-valid", "ALTER TABLE orders ADD CONSTRAINT orders_customer_fk FOREIGN KEY (customer_id) REFERENCES customers (id) NOT VALID;\nALTER TABLE orders VALIDATE CONSTRAINT orders_customer_fk;", 0},
		{"foreign key on a new table", "foreign-key-without-not-valid", "CREATE TABLE refunds (order_id bigint);\nALTER TABLE refunds ADD FOREIGN KEY (order_id) REFERENCES orders (id);", 0},

		{"set not null", "set-not-null-without-check", "ALTER TABLE orders ALTER COLUMN ref SET NOT NULL;", 1},
		{"set not null after a validated check", "set-not-null-without-check", "ALTER TABLE orders ADD CONSTRAINT ref_nn CHECK (ref IS NOT NULL) NOT VALID;\nALTER TABLE orders VALIDATE CONSTRAINT ref_nn;\nALTER TABLE orders ALTER COLUMN ref SET NOT NULL;", 0},
		{"set not null after a check validated as added", "set-not-null-without-check", "ALTER TABLE orders ADD CONSTRAINT ref_nn CHECK (ref IS NOT NULL AND ref <> '');\nALTER TABLE orders ALTER COLUMN ref SET NOT NULL;", 0},
		{"set not null after a check never validated", "set-not-null-without-check", "ALTER TABLE orders ADD CONSTRAINT ref_nn CHECK (ref IS NOT NULL) NOT VALID;\nALTER TABLE orders ALTER COLUMN ref SET NOT NULL;", 2},
		{"set not null after a check on another column", "set-not-null-without-check", "ALTER TABLE orders ADD CONSTRAINT note_nn CHECK (note IS NOT NULL);\nALTER TABLE orders ALTER COLUMN ref SET NOT NULL;", 2},
		{"set not null after the check was dropped", "set-not-null-without-check", "ALTER TABLE orders ADD CONSTRAINT ref_nn CHECK (ref IS NOT NULL);\nALTER TABLE orders DROP CONSTRAINT ref_nn;\nALTER TABLE orders ALTER COLUMN ref SET NOT NULL;", 3},

		{"int to bigint", "column-type-rewrite", "ALTER TABLE orders ALTER COLUMN id TYPE bigint;", 1},
		{"timestamp to timestamptz", "column-type-rewrite", "ALTER TABLE orders ALTER COLUMN placed_at TYPE timestamptz;", 1},
		{"USING expression", "column-type-rewrite", "ALTER TABLE orders ALTER COLUMN ref TYPE varchar(64) USING lower(ref);", 1},
		{"varchar widening", "column-type-rewrite", "ALTER TABLE orders ALTER COLUMN note TYPE varchar(200);", 0},
		{"varchar to text", "column-type-rewrite", "ALTER TABLE orders ALTER COLUMN note TYPE text;", 0},
		{"known varchar widening", "column-type-rewrite", "ALTER TABLE orders ADD COLUMN code varchar(20);\nALTER TABLE orders ALTER COLUMN code TYPE varchar(40);", 0},
		{"known varchar narrowing", "column-type-rewrite", "ALTER TABLE orders ADD COLUMN code varchar(200);\nALTER TABLE orders ALTER COLUMN code TYPE varchar(20);", 2},
		{"known int to text", "column-type-rewrite", "ALTER TABLE orders ADD COLUMN code integer;\nALTER TABLE orders ALTER COLUMN code TYPE text;", 2},
		{"numeric precision increase", "column-type-rewrite", "ALTER TABLE orders ADD COLUMN total numeric(10,2);\nALTER TABLE orders ALTER COLUMN total TYPE numeric(12,2);", 0},
		{"numeric scale change", "column-type-rewrite", "ALTER TABLE orders ADD COLUMN total numeric(10,2);\nALTER TABLE orders ALTER COLUMN total TYPE numeric(12,4);", 2},

		{"uuid default", "volatile-default", "ALTER TABLE orders ADD COLUMN token uuid DEFAULT gen_random_uuid();", 1},
		{"clock_timestamp default", "volatile-default", "ALTER TABLE orders ADD COLUMN seen_at timestamptz NOT NULL DEFAULT clock_timestamp();", 1},
		{"bigserial", "volatile-default", "ALTER TABLE orders ADD COLUMN seq bigserial;", 1},
		{"identity", "volatile-default", "ALTER TABLE orders ADD COLUMN seq bigint GENERATED ALWAYS AS IDENTITY;", 1},
		{"random inside an expression", "volatile-default", "ALTER TABLE orders ADD COLUMN bucket int DEFAULT (random() * 10)::int;", 1},
		{"unknown function", "volatile-default", "ALTER TABLE orders ADD COLUMN code text DEFAULT make_code();", 1},
		{"constant default", "volatile-default", "ALTER TABLE orders ADD COLUMN status text NOT NULL DEFAULT 'new';", 0},
		{"now() default", "volatile-default", "ALTER TABLE orders ADD COLUMN created_at timestamptz NOT NULL DEFAULT now();", 0},
		{"CURRENT_TIMESTAMP default", "volatile-default", "ALTER TABLE orders ADD COLUMN created_at timestamptz DEFAULT CURRENT_TIMESTAMP;", 0},
		{"volatile SET DEFAULT", "volatile-default", "ALTER TABLE orders ALTER COLUMN token SET DEFAULT gen_random_uuid();", 0},

		{"concurrent index in a transaction", "concurrently-in-transaction", "BEGIN;\nCREATE INDEX CONCURRENTLY orders_ref_idx ON orders (ref);\nCOMMIT;", 2},
		{"concurrent drop in a transaction", "concurrently-in-transaction", "START TRANSACTION;\nDROP INDEX CONCURRENTLY orders_ref_idx;\nEND;", 2},
		{"concurrent index after COMMIT", "concurrently-in-transaction", "BEGIN;\nALTER TABLE orders ADD COLUMN ref text;\nCOMMIT;\nCREATE INDEX CONCURRENTLY orders_ref_idx ON orders (ref);", 0},

		{"no lock_timeout", "missing-lock-timeout", "ALTER TABLE orders DROP COLUMN note;", 1},
		{"lock_timeout set", "missing-lock-timeout", "SET lock_timeout = '2s';\nALTER TABLE orders DROP COLUMN note;", 0},
		{"SET LOCAL in the transaction", "missing-lock-timeout", "BEGIN;\nSET LOCAL lock_timeout = '2s';\nALTER TABLE orders DROP COLUMN note;\nCOMMIT;", 0},
		{"SET LOCAL ended with its transaction", "missing-lock-timeout", "BEGIN;\nSET LOCAL lock_timeout = '2s';\nCOMMIT;\nALTER TABLE orders DROP COLUMN note;", 4},
		{"SET LOCAL outside a transaction", "missing-lock-timeout", "SET LOCAL lock_timeout = '2s';\nALTER TABLE orders DROP COLUMN note;", 2},
		{"lock_timeout 0 turns it off", "missing-lock-timeout", "SET lock_timeout = '2s';\nSET lock_timeout = 0;\nALTER TABLE orders DROP COLUMN note;", 3},
		{"RESET lock_timeout", "missing-lock-timeout", "SET lock_timeout = '2s';\nRESET lock_timeout;\nALTER TABLE orders DROP COLUMN note;", 3},
		{"rename", "missing-lock-timeout", "ALTER TABLE orders RENAME COLUMN note TO memo;", 1},
		{"VALIDATE CONSTRAINT is not ACCESS EXCLUSIVE", "missing-lock-timeout", "ALTER TABLE orders VALIDATE CONSTRAINT amount_pos;", 0},
		{"concurrent index is not ACCESS EXCLUSIVE", "missing-lock-timeout", "CREATE INDEX CONCURRENTLY orders_ref_idx ON orders (ref);", 0},
		{"table made in the file", "missing-lock-timeout", "CREATE TABLE ledger (id bigint);\nALTER TABLE ledger ADD COLUMN ref text;", 0},

		{"VACUUM FULL", "table-rewrite", "VACUUM FULL orders;", 1},
		{"VACUUM (FULL)", "table-rewrite", "VACUUM (FULL, ANALYZE) orders;", 1},
		{"CLUSTER", "table-rewrite", "CLUSTER orders USING orders_pkey;", 1},
		{"SET TABLESPACE", "table-rewrite", "ALTER TABLE orders SET TABLESPACE fast_ssd;", 1},
		{"SET LOGGED", "table-rewrite", "ALTER TABLE orders SET LOGGED;", 1},
		{"plain VACUUM", "table-rewrite", "VACUUM (ANALYZE) orders;", 0},
		{"VACUUM (FULL false)", "table-rewrite", "VACUUM (FULL false) orders;", 0},

		{"REINDEX", "reindex-not-concurrently", "REINDEX INDEX orders_ref_idx;", 1},
		{"REINDEX TABLE", "reindex-not-concurrently", "REINDEX TABLE orders;", 1},
		{"REINDEX CONCURRENTLY", "reindex-not-concurrently", "REINDEX INDEX CONCURRENTLY orders_ref_idx;", 0},
	}
	fired := map[string]bool{}
	for _, tt := range tests {
		t.Run(tt.rule+"/"+tt.name, func(t *testing.T) {
			rule := lockRule(t, tt.rule)
			res, err := Analyze([]byte(tt.sql))
			if err != nil {
				t.Fatal(err)
			}
			var got []Finding
			for _, f := range res.Locks {
				if f.Kind == tt.rule {
					got = append(got, f)
				}
			}
			if tt.line == 0 {
				if len(got) != 0 {
					t.Fatalf("safe statement flagged: %+v", got)
				}
				return
			}
			if len(got) != 1 {
				t.Fatalf("got %d %s findings, want 1: %+v", len(got), tt.rule, res.Locks)
			}
			fired[tt.rule] = true
			f := got[0]
			if f.Line != tt.line || f.Column != 1 || f.Statement == "" || f.Object == "" {
				t.Errorf("finding at %d:%d (%q on %q), want line %d column 1", f.Line, f.Column, f.Statement, f.Object, tt.line)
			}
			if f.Lock != rule.Lock || f.Rewrites != rule.Rewrites || f.Scans != rule.Scans || f.Fix == "" {
				t.Errorf("finding %+v does not carry the rule's lock, cost and fix", f)
			}
			if f.Lock != "" && !strings.Contains(f.Reason, f.Lock.Name()) && tt.rule != "missing-lock-timeout" {
				t.Errorf("reason %q does not name the lock %s", f.Reason, f.Lock.Name())
			}
		})
	}
	for _, r := range LockRules() {
		if !fired[r.ID] {
			t.Errorf("no case makes rule %s fire", r.ID)
		}
	}
}

func lockRule(t *testing.T, id string) LockRule {
	t.Helper()
	i := slices.IndexFunc(LockRules(), func(r LockRule) bool { return r.ID == id })
	if i < 0 {
		t.Fatalf("no lock rule %s", id)
	}
	return LockRules()[i]
}

// TestLockRuleTable: every rule says how to write the statement safely; a rule about a long lock names the lock; ids are
// unique.
func TestLockRuleTable(t *testing.T) {
	seen := map[string]bool{}
	for _, r := range LockRules() {
		if seen[r.ID] {
			t.Errorf("rule %s twice", r.ID)
		}
		seen[r.ID] = true
		if r.Fix == "" || r.match == nil {
			t.Errorf("rule %s lacks its fix or its matcher", r.ID)
		}
		if (r.Rewrites || r.Scans) && r.Lock.Name() == "" {
			t.Errorf("rule %s rewrites or scans without a lock", r.ID)
		}
		if r.Lock != "" && r.Lock.Name() == string(r.Lock) {
			t.Errorf("rule %s: lock %q is not a pg_locks mode", r.ID, r.Lock)
		}
	}
}

// A statement breaking two rules gets both, each with its own fix; the
// fix names the statement's objects when the rule can.
func TestLockFindingsOfOneStatement(t *testing.T) {
	res, err := Analyze([]byte("-- widen the id\nALTER TABLE orders ALTER COLUMN id TYPE bigint;\n"))
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, f := range res.Locks {
		kinds = append(kinds, f.Kind)
		if f.Line != 2 || f.Statement != "ALTER TABLE orders ALTER COLUMN id TYPE bigint" {
			t.Errorf("finding %+v", f)
		}
	}
	if strings.Join(kinds, ",") != "column-type-rewrite,missing-lock-timeout" {
		t.Errorf("rules = %v", kinds)
	}
	if f := res.Locks[0]; !f.Rewrites || f.Lock != AccessExclusive || !strings.Contains(f.Reason, "bigint") || !strings.Contains(f.Reason, "rewrites orders") {
		t.Errorf("type change: %+v", f)
	}
	// The classification is as it was: one contract finding.
	if res.Phase != Contract || len(res.Findings) != 1 || res.Findings[0].Kind != "alter-column-type" {
		t.Errorf("classification = %s %+v", res.Phase, res.Findings)
	}

	res, err = Analyze([]byte("SET lock_timeout = '2s';\nALTER TABLE orders ADD CONSTRAINT amount_pos CHECK (amount > 0);\n"))
	if err != nil || len(res.Locks) != 1 {
		t.Fatalf("%+v %v", res.Locks, err)
	}
	if fix := res.Locks[0].Fix; !strings.Contains(fix, "ADD CONSTRAINT amount_pos CHECK (…) NOT VALID") || !strings.Contains(fix, "VALIDATE CONSTRAINT amount_pos") {
		t.Errorf("fix = %q", fix)
	}
}

func TestLockModes(t *testing.T) {
	tests := []struct {
		mode        LockMode
		name        string
		blocksReads bool
		blocks      string
	}{
		{AccessExclusive, "ACCESS EXCLUSIVE", true, "every read and write"},
		{Share, "SHARE", false, "writes"},
		{ShareRowExclusive, "SHARE ROW EXCLUSIVE", false, "writes"},
		{ShareUpdateExclusive, "SHARE UPDATE EXCLUSIVE", false, "not reads or writes"},
	}
	for _, tt := range tests {
		if tt.mode.Name() != tt.name || tt.mode.BlocksReads() != tt.blocksReads || !strings.Contains(tt.mode.Blocks(), tt.blocks) {
			t.Errorf("%s: name %q, blocks %q", tt.mode, tt.mode.Name(), tt.mode.Blocks())
		}
	}
	if !AccessExclusive.Stronger(ShareRowExclusive) || !ShareRowExclusive.Stronger(Share) || Share.Stronger(ShareRowExclusive) || !Share.Stronger("") {
		t.Error("lock strength order is wrong")
	}
}

// The cache keeps lock findings, and an entry of the previous version
// (without them) is not read.
func TestAnalyzeFileCacheKeepsLocks(t *testing.T) {
	old := CacheDir
	CacheDir = t.TempDir()
	defer func() { CacheDir = old }()
	file := filepath.Join(t.TempDir(), "m.sql")
	src := []byte("CREATE INDEX orders_ref_idx ON orders (ref);\n")
	if err := os.WriteFile(file, src, 0o644); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(filepath.Base(cachePath(src)), "v2-") {
		t.Fatalf("cache key %s is not of version v2", cachePath(src))
	}
	for range 2 {
		res, err := AnalyzeFile(file)
		if err != nil || len(res.Locks) != 1 || res.Locks[0].Lock != Share || !res.Locks[0].Scans || res.Locks[0].Fix == "" {
			t.Fatalf("%+v %v", res, err)
		}
	}
}

// benchMigration is a 60-statement migration that breaks most rules.
func benchMigration() []byte {
	var sql strings.Builder
	for i := range 10 {
		fmt.Fprintf(&sql, "ALTER TABLE t%d ADD COLUMN c text DEFAULT 'x';\nCREATE INDEX i%d ON t%d (c);\n", i, i, i)
		fmt.Fprintf(&sql, "ALTER TABLE t%d ADD CONSTRAINT k%d CHECK (c IS NOT NULL) NOT VALID;\nALTER TABLE t%d VALIDATE CONSTRAINT k%d;\n", i, i, i, i)
		fmt.Fprintf(&sql, "ALTER TABLE t%d ALTER COLUMN c SET NOT NULL;\nALTER TABLE t%d ALTER COLUMN n TYPE bigint;\n", i, i)
	}
	return []byte(sql.String())
}

// BenchmarkAnalyze measures the whole analysis of benchMigration: the
// parser, the expand/contract classification and every lock rule.
func BenchmarkAnalyze(b *testing.B) {
	src := benchMigration()
	if _, err := Analyze(src); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Analyze(src); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkLockRules measures the lock rules alone over the parsed tree
// of benchMigration: what they add to an analysis.
func BenchmarkLockRules(b *testing.B) {
	tree, err := pgquery.Parse(string(benchMigration()))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		state := newFileState()
		for _, raw := range tree.GetStmts() {
			state.lockFindings(raw.GetStmt())
			state.observe(raw.GetStmt())
		}
	}
}
