package gameday

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rollbook/rollbook/internal/drillenv"
	"github.com/rollbook/rollbook/internal/drillreport"
)

// Migrations drilled under the plan's traffic on a million generated
// orders (gameday.database.volume, filled once and kept as an image): a
// plain CREATE INDEX blocks every INSERT past the lock budget and fails
// migration-lock with the fix named, and the same index built
// CONCURRENTLY (as the plan ships it) passes; behind a long read
// transaction, an ADD COLUMN whose lock_timeout (5 s) is longer than the
// budget stalls the service for the reader's whole length, and with a
// 200 ms lock_timeout it is retried and keeps every wait under the budget.
func TestMigrationsUnderLoad(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	img := dockerImages(t, ctx)
	const rel = "payments/orders-sku-lookup.md"
	same := func(s string) string { return s }
	fixed := func(s string) string {
		return strings.Replace(s, "migrations/0045_orders_lookup_source.sql", "migrations/0045_orders_lookup_source.fixed.sql", 1)
	}
	plainIndex := map[string]string{"migrations/0044_orders_sku_idx.sql": "-- 0044 as it looks safe: a plain index.\nCREATE INDEX orders_sku_idx ON orders (sku);\n"}
	lock := "no migration blocks the service's queries past its lock_budget"
	tests := []struct {
		name, scenario string
		edit           func(string) string
		files          map[string]string
		// over is the migration that must break its budget ("" none), and
		// want what the migration-lock message must say of it.
		over string
		want []string
		// attempts are the least attempts 0045 must have taken.
		attempts int
	}{
		{name: "plain-index", scenario: "healthy-canary", edit: same, files: plainIndex, over: "0044_orders_sku_idx",
			want: []string{"0044_orders_sku_idx.sql:2", "CREATE INDEX orders_sku_idx ON orders (sku)", "ShareLock", "CONCURRENTLY"}},
		{name: "as-shipped", scenario: "healthy-canary"},
		{name: "as-shipped-behind-long-query", scenario: "migration-behind-long-query", over: "0045_orders_lookup_source",
			want: []string{"0045_orders_lookup_source.sql:10", "ALTER TABLE orders ADD COLUMN IF NOT EXISTS lookup_source text", "lock_timeout is longer than the budget", "SET lock_timeout = '200ms'", "queued"}},
		{name: "fixed-behind-long-query", scenario: "migration-behind-long-query", edit: fixed, attempts: 2},
	}
	var rows []string
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := time.Now()
			pol := planPolicy(t, rel)
			if tc.edit != nil {
				pol = variantPolicyWith(t, rel, tc.edit, tc.files)
			}
			rep, err := Run(ctx, RunOptions{Policy: pol, Scenario: tc.scenario, AgentImage: img.agent, DBImage: img.db, PrometheusImage: img.prom})
			if err != nil {
				t.Fatal(err)
			}
			if rep.Volume == nil || rep.Volume.Rows["orders"] != 1_000_000 {
				t.Errorf("volume: %+v", rep.Volume)
			}
			var lockA *Assertion
			for i, a := range rep.Assertions {
				switch {
				case a.Name == lock:
					lockA = &rep.Assertions[i]
				case a.Passed:
				case tc.over != "" || !migrationAssertion(a.Name):
					// What follows a stall of seconds (a latency trigger,
					// a rollback), or a concurrent index build's CPU on a
					// loaded machine, is the drill's to say: this test is
					// about the migrations.
					t.Logf("beside the migrations: %s: %s", a.Name, a.Message)
				default:
					t.Errorf("%s: %s", a.Name, a.Message)
				}
			}
			if lockA == nil {
				t.Fatalf("no %q assertion in %+v", lock, rep.Assertions)
			}
			if lockA.Passed == (tc.over != "") {
				t.Errorf("migration-lock passed=%v: %s", lockA.Passed, lockA.Message)
			}
			if tc.over != "" && !strings.HasPrefix(rep.Headline, "migration "+tc.over+" blocked the stable release's queries for ") {
				t.Errorf("headline %q; want it to name %s and the wait", rep.Headline, tc.over)
			}
			for _, w := range tc.want {
				if !strings.Contains(lockA.Message, w) {
					t.Errorf("migration-lock says %q; want it to name %q", lockA.Message, w)
				}
			}
			for _, m := range rep.Migrations {
				l := m.Locks
				if l == nil || l.Samples == 0 {
					t.Errorf("migration %s: no lock samples (%+v)", m.ID, l)
					continue
				}
				if l.OverBudget() != (m.ID == tc.over) {
					t.Errorf("migration %s: longest wait %s, budget %s", m.ID, l.LongestBlock().For, l.Budget)
				}
				if m.ID == "0045_orders_lookup_source" && l.Attempts < tc.attempts {
					t.Errorf("0045 took %d attempt(s); behind the long reader its lock_timeout must make it retry", l.Attempts)
				}
				if l.Requests == 0 || l.P99 == 0 {
					t.Errorf("migration %s: nothing of what the service felt: %+v", m.ID, l)
				}
				rows = append(rows, lockRow(tc.name, m))
			}
			if tc.over == "0044_orders_sku_idx" {
				l := rep.Migrations[0].Locks
				if !slices.ContainsFunc(l.Held, func(h drillreport.HeldLock) bool { return h.Mode == "ShareLock" && h.Relation == "orders" }) {
					t.Errorf("0044 held %+v; want ShareLock on orders", l.Held)
				}
			}
			if left, err := drillenv.Leftovers(ctx, rep.RunID); err != nil || len(left) > 0 {
				t.Errorf("leftovers: %v %v", left, err)
			}
			if t.Failed() {
				for _, e := range rep.Timeline {
					t.Logf("%s %s %s", e.AtText, e.Type, e.Message)
				}
			}
			t.Logf("%s: %s in %s (volume %+v)", tc.name, rep.FinalState, time.Since(s).Round(time.Millisecond), rep.Volume)
		})
	}
	t.Logf("per migration:\n| drill | migration | took | attempts | locks held | queued | longest wait | requests (failed, slow) | p99 before → during |\n|---|---|---|---|---|---|---|---|---|\n%s", strings.Join(rows, "\n"))
}

// migrationAssertion reports whether an assertion is about the
// migrations themselves (their order, the guard, the lock budget, the long
// reader), which every case here must pass.
func migrationAssertion(name string) bool {
	for _, w := range []string{"migration", "guard", "long read"} {
		if strings.Contains(name, w) {
			return true
		}
	}
	return false
}

// lockRow is one line of the closing note's per-migration table.
func lockRow(drill string, m drillreport.MigrationRun) string {
	l := m.Locks
	var held []string
	for _, h := range l.Held {
		held = append(held, fmt.Sprintf("%s on %s %s", h.Mode, h.Relation, h.For.Round(time.Millisecond)))
	}
	b := l.LongestBlock()
	return fmt.Sprintf("| %s | %s | %s | %d | %s | %s | %s %s | %d (%d, %d) | %s → %s |", drill, m.ID, l.Duration.Round(time.Millisecond), l.Attempts,
		strings.Join(held, ", "), l.Waited, b.Release, b.For.Round(time.Millisecond), l.Requests, l.Failed, l.Slow, l.P99Before.Round(time.Millisecond), l.P99.Round(time.Millisecond))
}
