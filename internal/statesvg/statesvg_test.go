package statesvg

import (
	"encoding/xml"
	"path/filepath"
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
