package drillchart

import (
	"encoding/xml"
	"strings"
	"testing"

	"github.com/rollbook/rollbook/internal/golden"
)

func TestDrillChart(t *testing.T) {
	pts := []Point{
		{At: 0.25, StableErr: 0.01, CanaryErr: 0.01, StableP99: 0.1, CanaryP99: 0.12, StableReqs: 120, CanaryReqs: 70, ServiceErr: 0.01, ServiceReqs: 190},
		{At: 0.5, StableErr: 0.01, CanaryErr: 0.3, StableP99: 0.1, CanaryP99: 0.13, StableReqs: 120, CanaryReqs: 70, ServiceErr: 0.117, ServiceReqs: 190},
		{At: 0.75, StableErr: 0.0, CanaryErr: 0.28, StableP99: 0.11, CanaryP99: 0.12, StableReqs: 125, CanaryReqs: 71, ServiceErr: 0.101, ServiceReqs: 196},
		{At: 1.0, StableErr: 0.0, StableP99: 0.1, StableReqs: 190, ServiceReqs: 190},
	}
	marks := []Marker{{At: 0.3, Label: "injected: canary 5xx", Kind: "injection"}, {At: 0.8, Label: "trigger fired", Kind: "trigger"}, {At: 0.8, Label: "canary 0%", Kind: "traffic"}}
	got := string(Drill("bad-canary-errors", pts, marks))
	for _, want := range []string{"error rate", "p99 latency", `class="series-canary"`, `class="series-stable"`, "marker-trigger", "trigger fired"} {
		if !strings.Contains(got, want) {
			t.Errorf("chart lacks %q", want)
		}
	}
	// Each SVG is well-formed XML.
	for _, part := range strings.SplitAfter(got, "</svg>") {
		if i := strings.Index(part, "<svg"); i >= 0 {
			if err := xml.Unmarshal([]byte(part[i:]), new(struct{})); err != nil {
				t.Fatalf("not well-formed: %v", err)
			}
		}
	}
	// The service's error rate is its own line, with its legend entry, on
	// the error-rate chart (a p99 of both releases is not in the points).
	errChart, p99Chart, _ := strings.Cut(got, "</svg>")
	if strings.Count(errChart, `class="series-service"`) != 1 || !strings.Contains(errChart, `class="legend-service"`) || strings.Contains(p99Chart, "service") {
		t.Errorf("the service line is not once on the error-rate chart alone:\n%s", got)
	}
	golden.Check(t, "testdata/drill.svg.html", []byte(got))
	if Drill("x", nil, nil) != "" {
		t.Error("a drill without intervals drew a chart")
	}
}

func TestHistoryChart(t *testing.T) {
	got := string(History([]string{"d1", "d2", "d3"}, []float64{150, 120, 90}, []float64{18, 20, 16}))
	if err := xml.Unmarshal([]byte(got), new(struct{})); err != nil {
		t.Fatal(err)
	}
	if strings.Count(got, `class="series-ttd"`) != 3 || strings.Count(got, `class="series-ttr"`) != 3 {
		t.Errorf("bars: %s", got)
	}
	golden.Check(t, "testdata/history.svg", []byte(got))
}

// An interval without a verdict is shaded and says so.
func TestInconclusiveShaded(t *testing.T) {
	pts := []Point{{At: 0.25, StableReqs: 100}, {At: 0.5, Inconclusive: "error_rate"}, {At: 0.75, StableReqs: 100}}
	got := string(Drill("metrics-missing", pts, nil))
	if strings.Count(got, `class="inconclusive"`) != 2 || !strings.Contains(got, "inconclusive (no data): error_rate") {
		t.Errorf("inconclusive interval not marked on both charts:\n%s", got)
	}
	// Points without the service's requests draw no service line and
	// name none.
	if strings.Contains(got, "service") {
		t.Errorf("a service line without its data:\n%s", got)
	}
}
