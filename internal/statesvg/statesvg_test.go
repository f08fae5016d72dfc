package statesvg

import (
	"encoding/xml"
	"fmt"
	"html"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/rollbook/rollbook/internal/golden"
	"github.com/rollbook/rollbook/internal/rollout"
)

func TestRenderGolden(t *testing.T) {
	tests := []struct {
		name string
		m    Machine
		want []string
	}{
		{"automatic", Machine{Steps: []Step{{1, "5m"}, {10, "10m"}, {50, "15m"}, {100, ""}}, Automatic: true}, []string{"rolling back", "rolled back", "halted", "50% canary", "bake 15m"}},
		{"guarded", Machine{Steps: []Step{{10, "5m"}, {100, ""}}, Automatic: true, MigrationGuard: true}, []string{"migration guard: page a human", "traffic stays put"}},
		{"manual", Machine{Automatic: false}, []string{"human decides", "progressing"}},
		{"migrations", Machine{Steps: []Step{{5, "15m"}, {50, "30m"}, {100, ""}}, Migrations: []Migration{
			{ID: "0042_add_ledger_ref", At: BeforeSteps, When: "pre-deploy — before step 1"},
			{ID: "0107_drop_orders_legacy_status", At: AfterPromotion, When: "post-deploy — after promotion to 100 %, then a bake"},
			{ID: "backfill_ledger_refs_in_batches", At: 2, When: "during-deploy — at step 2 (50 %)"},
			{ID: "0108_drop_old_index", At: 2, When: "during-deploy — at step 2 (50 %)", Unsafe: true},
			{ID: "0109_vacuum", At: NotPlaced, When: "manual: never applied automatically"},
		}, Freeze: true}, []string{`<g class="migration"><title>migration 0042_add_ledger_ref: pre-deploy — before step 1</title>`, "migration 0107<", "migration backfill_le…", `class="migration migration-unsafe"`, "migration 0109_vacuum: manual: never applied automatically</text>", "freeze on", "Migration 0108_drop_old_index: during-deploy — at step 2 (50 %), while the previous release still takes traffic."}},
		{"migration-right-edge", Machine{Migrations: []Migration{{ID: "a_very_long_migration_name_indeed", At: AfterPromotion, When: "post-deploy — after promotion to 100 %, then a bake"}}}, []string{"migration a_very_long…"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := string(Render(tt.m))
			if err := xml.Unmarshal([]byte(got), new(struct{})); err != nil {
				t.Fatalf("not well-formed XML: %v", err)
			}
			for _, w := range append(tt.want, `role="img"`, "<title", "<desc") {
				if !strings.Contains(got, w) {
					t.Errorf("SVG lacks %q", w)
				}
			}
			golden.Check(t, filepath.Join("testdata", tt.name+".svg"), []byte(got))
		})
	}
}

// TestRenderKeepsDrawings: a machine drawn again comes from the kept
// drawings and is the same drawing, and a change to any field of the
// machine is another key (a field added to Machine and not to its key
// fails here).
func TestRenderKeepsDrawings(t *testing.T) {
	base := Machine{Steps: []Step{{10, "5m"}, {100, ""}}}
	if a, b := Render(base), render(base); a != b {
		t.Fatalf("kept drawing differs from a fresh one")
	}
	if _, ok := drawn[base.key()]; !ok {
		t.Fatalf("drawing not kept")
	}
	variants := map[string]Machine{
		"Steps":          {Steps: []Step{{10, "5m"}}},
		"Steps.Weight":   {Steps: []Step{{20, "5m"}, {100, ""}}},
		"Steps.Bake":     {Steps: []Step{{10, "6m"}, {100, ""}}},
		"Automatic":      {Steps: base.Steps, Automatic: true},
		"MigrationGuard": {Steps: base.Steps, MigrationGuard: true},
		"Freeze":         {Steps: base.Steps, Freeze: true},
		"Migrations":     {Steps: base.Steps, Migrations: []Migration{{ID: "m1", At: 1, When: "at step 1"}}},
	}
	for f := range reflect.TypeFor[Machine]().Fields() {
		if _, ok := variants[f.Name]; !ok {
			t.Errorf("field %s has no variant here: add one, and the field to Machine.key", f.Name)
		}
	}
	for name, v := range variants {
		if v.key() == base.key() {
			t.Errorf("changing %s keeps the key %q", name, v.key())
		}
		if Render(v) != render(v) {
			t.Errorf("%s: kept drawing differs", name)
		}
	}
}

// TestMigrationMarkers: each placed migration is drawn over the state it
// runs in (pending before step 1, its step, promoted after promotion),
// with its leader line inside the drawing, and stacked labels push the
// states down rather than overlap them.
func TestMigrationMarkers(t *testing.T) {
	steps := []Step{{10, "5m"}, {50, "5m"}, {100, ""}}
	// States sit at x = margin + i*(boxW+gapX); their centres:
	centre := func(i int) int { return margin + i*(boxW+gapX) + boxW/2 }
	for _, tt := range []struct {
		at, state int
	}{{BeforeSteps, 0}, {1, 1}, {3, 3}, {AfterPromotion, 4}} {
		got := string(render(Machine{Steps: steps, Migrations: []Migration{{ID: "m", At: tt.at, When: "w"}}}))
		want := fmt.Sprintf(`<line x1="%d" y1="21" x2="%d" y2="30"`, centre(tt.state), centre(tt.state))
		if !strings.Contains(got, want) {
			t.Errorf("at %d: no leader %s in\n%s", tt.at, want, got)
		}
	}
	two := string(render(Machine{Steps: steps, Migrations: []Migration{{ID: "a", At: 1, When: "w"}, {ID: "b", At: 1, When: "w"}}}))
	if !strings.Contains(two, `y="18"`) || !strings.Contains(two, `<rect x="12" y="43"`) {
		t.Errorf("two labels on one state are not stacked above the states:\n%s", two)
	}
	// A step the machine does not have is listed, not drawn.
	off := string(render(Machine{Steps: steps, Migrations: []Migration{{ID: "m", At: 9, When: "at step 9, which the plan does not have"}}}))
	if strings.Contains(off, "<line x1=\"") && strings.Contains(off, "stroke-dasharray=\"2 2\"") || !strings.Contains(off, "migration m: at step 9") {
		t.Errorf("unplaced migration:\n%s", off)
	}
}

// TestDrawsTheTable: the second row is the table's: where a fired
// trigger leads under each policy, with the words of that move, and
// every move out of there with its own, so a move added to
// rollout.Transitions shows on every plan page.
func TestDrawsTheTable(t *testing.T) {
	for _, m := range []Machine{
		{Steps: []Step{{10, "5m"}, {100, ""}}, Automatic: true},
		{Steps: []Step{{10, "5m"}, {100, ""}}},
		{Steps: []Step{{10, "5m"}, {100, ""}}, Automatic: true, MigrationGuard: true},
	} {
		svg := string(render(m))
		tr, _ := rollout.Move(rollout.Baking, m.onTrigger())
		moves := []rollout.Transition{tr}
		if !tr.To.Final() {
			moves = append(moves, rollout.Out(tr.To)...)
		}
		for _, mv := range moves {
			box := fmt.Sprintf(`<g class="state st-%s">`, mv.To.Kind())
			for _, w := range []string{">" + html.EscapeString(mv.Label) + "<", ">" + mv.To.Label() + "<", ">" + html.EscapeString(mv.Result) + "<", box} {
				if !strings.Contains(svg, w) {
					t.Errorf("%+v: the drawing lacks %s of the move on %s", m, w, mv.On)
				}
			}
		}
	}
}
