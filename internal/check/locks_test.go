package check

import (
	"strings"
	"testing"

	"github.com/rollbook/rollbook/internal/diag"
	"github.com/rollbook/rollbook/internal/migrate"
)

// TestMigrationLockFindings: the lock rules a migration's SQL breaks are
// findings at the SQL file's own line and column, with the rule's
// registered severity and the fix, once however many migrations name the
// file; rollbook.yaml's rules: changes or drops them like any rule.
func TestMigrationLockFindings(t *testing.T) {
	src := withMigrations("  - {id: m1, file: migrations/locks.sql, phase: expand}\n  - {id: m1-again, file: migrations/locks.sql, phase: expand}\n")
	var got diag.List
	for _, f := range run(t, src) {
		if f.File == "content/migrations/locks.sql" {
			got = append(got, f)
		}
	}
	want := []struct {
		line, col int
		sev       diag.Severity
		rule      string
		message   string
		fix       string
	}{
		{2, 1, diag.Error, "create-index-not-concurrently", "holding SHARE, which blocks writes", "CREATE INDEX CONCURRENTLY"},
		{3, 3, diag.Warning, "missing-lock-timeout", "no lock_timeout is set before this ACCESS EXCLUSIVE statement", "SET lock_timeout"},
		{5, 1, diag.Error, "foreign-key-without-not-valid", "orders and customers while holding SHARE ROW EXCLUSIVE", "REFERENCES customers (…) NOT VALID; then, in its own statement, ALTER TABLE orders VALIDATE CONSTRAINT orders_customer_fk"},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d findings in the SQL file, want %d:\n%v", len(got), len(want), got)
	}
	for i, w := range want {
		f := got[i]
		if f.Line != w.line || f.Col != w.col || f.Severity != w.sev || f.Rule != w.rule || !strings.Contains(f.Message, w.message) || !strings.Contains(f.Fix, w.fix) {
			t.Errorf("finding %d = %s\nwant %s at %d:%d with %q, fix %q", i, f, w.rule, w.line, w.col, w.message, w.fix)
		}
	}

	adjusted := Severities{"create-index-not-concurrently": diag.Warning, "missing-lock-timeout": Off}.Apply(got)
	if len(adjusted) != 2 || adjusted[0].Severity != diag.Warning || adjusted[0].Default != diag.Error || adjusted[1].Rule != "foreign-key-without-not-valid" {
		t.Errorf("rules: did not apply: %v", adjusted)
	}
}

// Every lock rule of the migration analysis is a registered rule: check
// would panic on a finding of an unregistered one.
func TestLockRulesRegistered(t *testing.T) {
	for _, r := range migrate.LockRules() {
		if _, ok := Lookup(r.ID); !ok {
			t.Errorf("lock rule %s is not in the registry (rules.go)", r.ID)
		}
	}
}
