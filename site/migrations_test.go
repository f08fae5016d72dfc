package site

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rollbook/rollbook/internal/golden"
	"github.com/rollbook/rollbook/internal/plan"
	"github.com/rollbook/rollbook/internal/statesvg"
)

// TestMigrationRunsOnPlanPage: the plan page says when each migration
// runs (plan.Timing, with "(default)" when runs: is not written) and the
// state machine marks it on the state it runs in.
func TestMigrationRunsOnPlanPage(t *testing.T) {
	steps := []plan.Step{{Weight: 10}, {Weight: 50}, {Weight: 100}}
	view := func(m plan.Migration, contract bool) MigrationView {
		v := MigrationView{Migration: m, Contract: contract, Timing: m.Timing(contract)}
		v.When = v.Timing.Describe(steps)
		return v
	}
	tests := []struct {
		name string
		v    MigrationView
		text string
		at   int
		bad  bool
	}{
		{"contract defaulted", view(plan.Migration{ID: "a", Phase: "contract"}, true), "post-deploy — after promotion to 100 %, then a bake (default)", statesvg.AfterPromotion, false},
		{"expand pre-deploy", view(plan.Migration{ID: "b", Runs: plan.RunsPreDeploy}, false), "pre-deploy — before step 1", statesvg.BeforeSteps, false},
		{"contract at a canary step", view(plan.Migration{ID: "c", Runs: plan.RunsDuringDeploy, AtStep: 2}, true), "during-deploy — at step 2 (50 %)", 2, true},
		{"past the steps", view(plan.Migration{ID: "d", Runs: plan.RunsDuringDeploy, AtStep: 7}, false), "during-deploy — at step 7, which the plan does not have (3 steps)", statesvg.NotPlaced, false},
		{"manual", view(plan.Migration{ID: "e", Runs: plan.RunsManual}, true), "manual: never applied automatically", statesvg.NotPlaced, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.v.RunsText(); got != tt.text {
				t.Errorf("RunsText = %q, want %q", got, tt.text)
			}
			pg := &Page{Plan: &plan.Plan{Strategy: plan.Strategy{Steps: steps}}, Own: Own{Migrations: []MigrationView{tt.v}}}
			m := machine(pg)
			want := statesvg.Migration{ID: tt.v.ID, At: tt.at, When: tt.text, Unsafe: tt.bad}
			if len(m.Migrations) != 1 || m.Migrations[0] != want {
				t.Errorf("machine migrations = %+v, want %+v", m.Migrations, want)
			}
			if svg := string(statesvg.Render(m)); !strings.Contains(svg, "migration "+tt.v.ID) {
				t.Errorf("state machine does not name migration %s", tt.v.ID)
			}
		})
	}
}

// TestMigrationPanelShowsLocks: the plan page's migration panel shows,
// for each statement a lock rule flags, the lock it takes (the
// documentation's name, pg_locks' in the title), whether it rewrites or
// reads the table, and the safe way to write it; rollbook.yaml's rules:
// turning the errors into warnings lets the page build, and the findings
// name the SQL file's line and column.
func TestMigrationPanelShowsLocks(t *testing.T) {
	root := copyTree(t, "testdata/basic")
	sql := "-- Looks like an expand migration.\n" +
		"ALTER TABLE orders ADD COLUMN ledger_ref uuid DEFAULT gen_random_uuid();\n" +
		"BEGIN;\n" +
		"CREATE INDEX CONCURRENTLY orders_ledger_ref_idx ON orders (ledger_ref);\n" +
		"COMMIT;\n" +
		"CREATE INDEX orders_placed_idx ON orders (placed_at);\n"
	config := "title: Test runbooks\nminify: false\nrules: {volatile-default: warning, concurrently-in-transaction: warning, create-index-not-concurrently: warning}\n"
	for name, text := range map[string]string{"content/payments/migrations/0042_add_ledger_ref.sql": sql, "rollbook.yaml": config} {
		if err := os.WriteFile(filepath.Join(root, filepath.FromSlash(name)), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	res, err := build(t, root, nil)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range res.Findings {
		if strings.HasSuffix(f.File, ".sql") {
			got = append(got, fmt.Sprintf("%s:%d:%d %s %s (default %s)", f.File, f.Line, f.Col, f.Severity, f.Rule, f.Default))
		}
	}
	want := []string{
		"content/payments/migrations/0042_add_ledger_ref.sql:2:1 warning missing-lock-timeout (default )",
		"content/payments/migrations/0042_add_ledger_ref.sql:2:1 warning volatile-default (default error)",
		"content/payments/migrations/0042_add_ledger_ref.sql:4:1 warning concurrently-in-transaction (default error)",
		"content/payments/migrations/0042_add_ledger_ref.sql:6:1 warning create-index-not-concurrently (default error)",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("SQL findings:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	page := read(t, root, "payments/api-canary/index.html")
	start := strings.Index(page, `<section class="panel panel-migrations"`)
	end := strings.Index(page[max(start, 0):], "</section>")
	if start < 0 || end < 0 {
		t.Fatal("no migration panel on the plan page")
	}
	panel := page[start : start+end+len("</section>")]
	if !strings.Contains(panel, `<a href="#locks-0042_add_ledger_ref">4 lock finding(s)</a>`) {
		t.Error("the migration's row does not point to its lock findings")
	}
	// Each flagged statement: its lock, what it costs, its line in the
	// SQL and the safe form.
	for rule, want := range map[string][]string{
		"volatile-default":              {`title="AccessExclusiveLock: blocks every read and write">ACCESS EXCLUSIVE</span> <span class="lock-cost">rewrites the table</span>`, `line 2</a>`, "gen_random_uuid()", "Safe: add the column without the default"},
		"missing-lock-timeout":          {`>ACCESS EXCLUSIVE</span> <span class="lock-where">`, `line 2</a>`, "Safe: SET lock_timeout"},
		"concurrently-in-transaction":   {`lock-blocks-reads">fails</span>`, `line 4</a>`, "Safe: move it after the COMMIT"},
		"create-index-not-concurrently": {`title="ShareLock: blocks writes (INSERT, UPDATE, DELETE), not reads">SHARE</span> <span class="lock-cost">reads the whole table</span>`, `line 6</a>`, "Safe: write CREATE INDEX CONCURRENTLY, outside BEGIN … COMMIT"},
	} {
		var item string
		for _, li := range strings.Split(panel, "<li>")[1:] {
			if strings.Contains(li, "<code>"+rule+"</code>") {
				item = li
			}
		}
		if item == "" {
			t.Errorf("no lock finding %s on the panel", rule)
			continue
		}
		for _, s := range want {
			if !strings.Contains(item, s) {
				t.Errorf("%s: the panel's item lacks %s:\n%s", rule, s, item)
			}
		}
	}
	golden.Check(t, filepath.Join("testdata", "golden", "migration-locks-panel.html"), []byte(panel+"\n"))
}
