package statesvg

import (
	"encoding/xml"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/rollbook/rollbook/internal/golden"
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
