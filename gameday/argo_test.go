package gameday

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rollbook/rollbook/internal/analysis"
	"github.com/rollbook/rollbook/internal/argoengine"
	"github.com/rollbook/rollbook/internal/drillreport"
	"github.com/rollbook/rollbook/internal/metricquery"
)

// argoFrame is the cluster as one read of it shows it, and the share of
// traffic the drill router gives the canary then.
type argoFrame struct {
	phase, message   string
	abort            bool
	stableRS, podRS  string
	step             int
	runs             []argoRun
	pods             map[string]int // ready pods per hash
	share            int
	inconclusivePaus bool
}

type argoRun struct {
	name, hash string
	metrics    []argoengine.MetricResult
}

// fakeKube is an httptest Kubernetes API that serves one frame per read
// of the Rollout (the analysis runs and pods of the same frame after it),
// checking the bearer token as the API server does.
type fakeKube struct {
	mu     sync.Mutex
	frames []argoFrame
	i      int
	reads  int
}

func (k *fakeKube) frame() argoFrame {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.frames[min(k.i, len(k.frames)-1)]
}

func (k *fakeKube) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Authorization") != "Bearer drill-token" {
		http.Error(w, `{"kind":"Status","reason":"Unauthorized","message":"Unauthorized"}`, http.StatusUnauthorized)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	switch {
	case r.URL.Path == "/apis/argoproj.io/v1alpha1/namespaces/default/rollouts/payments-api":
		k.mu.Lock()
		if k.reads > 0 {
			k.i++
		}
		k.reads++
		k.mu.Unlock()
		f := k.frame()
		st := map[string]any{"phase": f.phase, "message": f.message, "abort": f.abort, "stableRS": f.stableRS, "currentPodHash": f.podRS, "currentStepIndex": f.step}
		var pcs []any
		if f.inconclusivePaus {
			pcs = append(pcs, map[string]any{"reason": "InconclusiveAnalysisRun"})
		}
		st["pauseConditions"] = pcs
		_ = json.NewEncoder(w).Encode(map[string]any{"kind": "Rollout", "status": st})
	case r.URL.Path == "/apis/argoproj.io/v1alpha1/namespaces/default/analysisruns":
		var items []any
		for i, run := range k.frame().runs {
			items = append(items, map[string]any{
				"metadata": map[string]any{"name": run.name, "labels": map[string]any{argoengine.HashLabel: run.hash}, "creationTimestamp": time.Unix(int64(1000+i), 0).UTC().Format(time.RFC3339)},
				"status":   map[string]any{"phase": "Running", "metricResults": run.metrics},
			})
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"items": items})
	case r.URL.Path == "/api/v1/namespaces/default/pods" && r.URL.Query().Get("labelSelector") == argoengine.HashLabel:
		var items []any
		for hash, n := range k.frame().pods {
			for i := range n {
				items = append(items, map[string]any{
					"metadata": map[string]any{"name": fmt.Sprintf("payments-api-%s-%d", hash, i), "labels": map[string]any{argoengine.HashLabel: hash}},
					"status":   map[string]any{"phase": "Running", "conditions": []any{map[string]any{"type": "Ready", "status": "True"}}},
				})
			}
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"items": items})
	default:
		http.Error(w, `{"kind":"Status","reason":"NotFound","message":"not found"}`, http.StatusNotFound)
	}
}

// frameShare is the share of the frame the Rollout was last read in.
type frameShare struct{ k *fakeKube }

func (f frameShare) Share(context.Context, string) (int, error) { return f.k.frame().share, nil }

// zeroMetrics is a router that has counted nothing.
type zeroMetrics struct{}

func (zeroMetrics) Snapshot(context.Context) (analysis.Snapshot, error) {
	return analysis.Snapshot{At: time.Now()}, nil
}

func measurements(phases ...string) []argoengine.Measurement {
	var out []argoengine.Measurement
	for _, p := range phases {
		v := "[0.001]"
		if p == "Failed" {
			v = "[0.31]"
		}
		out = append(out, argoengine.Measurement{Phase: p, Value: v})
	}
	return out
}

func metric(name, phase string, ms ...string) argoengine.MetricResult {
	m := argoengine.MetricResult{Name: name, Phase: phase, Count: len(ms), Measurements: measurements(ms...)}
	for _, p := range ms {
		if p == "Failed" {
			m.Failed++
		}
	}
	return m
}

// The engine's watch, against an httptest Kubernetes API that plays what
// the real controller did in a drill (gate 3's run): the canary's
// ReplicaSet, its steps, the analysis's measurements, a failed metric and
// the abort, or the promotion. The timeline it writes must give the
// scenario's assertions what the built-in controller's gives them.
func TestArgoWatch(t *testing.T) {
	const stable, canary = "6c9f7d", "84b5c2"
	steps := []argoengine.Step{{Weight: 38, IsWeight: true}, {Pause: 3 * time.Second, IsPause: true}, {Weight: 100, IsWeight: true}}
	healthy := argoFrame{phase: "Healthy", stableRS: stable, podRS: stable, step: 3, pods: map[string]int{stable: 1}}
	created := argoFrame{phase: "Progressing", stableRS: stable, podRS: canary, step: 0, pods: map[string]int{stable: 1}}
	ready := created
	ready.pods = map[string]int{stable: 1, canary: 1}
	at38 := ready
	at38.share = 38
	bake := at38
	bake.step, bake.phase = 1, "Paused"
	bake.runs = []argoRun{{name: "payments-api-84b5c2-2", hash: canary, metrics: []argoengine.MetricResult{metric("error_rate", "Running", "Inconclusive", "Successful"), metric("latency_p99", "Running", "Successful")}}}

	cases := []struct {
		name   string
		frames func() []argoFrame
		check  func(t *testing.T, f facts, evs []Event)
	}{
		{"a failed metric aborts: rolled back", func() []argoFrame {
			failing := bake
			failing.runs = []argoRun{{name: bake.runs[0].name, hash: canary, metrics: []argoengine.MetricResult{metric("error_rate", "Running", "Inconclusive", "Successful", "Failed"), metric("latency_p99", "Running", "Successful", "Successful")}}}
			failed := failing
			failed.runs = []argoRun{{name: bake.runs[0].name, hash: canary, metrics: []argoengine.MetricResult{metric("error_rate", "Failed", "Inconclusive", "Successful", "Failed", "Failed"), metric("latency_p99", "Running", "Successful", "Successful")}}}
			aborted := failed
			aborted.abort, aborted.phase, aborted.message = true, "Degraded", "RolloutAborted: Rollout aborted update to revision 2: Metric \"error_rate\" assessed Failed"
			back := aborted
			back.share = 0
			gone := back
			gone.pods = map[string]int{stable: 1}
			return []argoFrame{healthy, created, ready, at38, bake, failing, failed, aborted, back, gone}
		}, func(t *testing.T, f facts, evs []Event) {
			if f.trigger != "error_rate" || f.triggerAt < 0 {
				t.Errorf("trigger %q at %v, want error_rate", f.trigger, f.triggerAt)
			}
			if f.final != RolledBack || f.rolledBackAt < f.triggerAt || f.rollbacks != 1 {
				t.Errorf("final %s at %v after %d rollbacks, want rolled-back after the trigger, once", f.final, f.rolledBackAt, f.rollbacks)
			}
			if !f.canaryStopped || f.finalWeight != 0 || f.weightAtTrig != 38 {
				t.Errorf("canary stopped %v, weight %d at the trigger and %d at the end; want stopped, 38, 0", f.canaryStopped, f.weightAtTrig, f.finalWeight)
			}
			// Each measurement once, though Argo lists them again.
			var fails, passes int
			for _, e := range evs {
				for _, r := range e.Results {
					if e.Type != drillreport.EventAnalysis {
						continue
					}
					switch r.Verdict {
					case metricquery.Fail:
						fails++
					case metricquery.Pass:
						passes++
					}
				}
			}
			if fails != 2 || passes != 3 {
				t.Errorf("%d failed and %d passed measurements on the timeline, want 2 and 3 (each once)", fails, passes)
			}
		}},
		{"the last step: promoted", func() []argoFrame {
			full := bake
			full.step, full.phase, full.share = 2, "Progressing", 100
			done := full
			done.phase, done.stableRS, done.step = "Healthy", canary, 3
			return []argoFrame{healthy, created, ready, at38, bake, full, done}
		}, func(t *testing.T, f facts, _ []Event) {
			if f.final != Promoted || f.finalWeight != 100 || f.triggerAt >= 0 {
				t.Errorf("final %s at %d%%, trigger %q; want promoted at 100%% without a trigger", f.final, f.finalWeight, f.trigger)
			}
		}},
		{"an inconclusive analysis: halted, traffic left", func() []argoFrame {
			paused := bake
			paused.inconclusivePaus, paused.message = true, "InconclusiveAnalysisRun"
			return []argoFrame{healthy, created, ready, at38, bake, paused}
		}, func(t *testing.T, f facts, _ []Event) {
			if f.final != Halted || f.finalWeight != 38 || f.canaryStopped {
				t.Errorf("final %s at %d%%, canary stopped %v; want halted at 38%%, running", f.final, f.finalWeight, f.canaryStopped)
			}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			kube := &fakeKube{frames: tc.frames()}
			srv := httptest.NewServer(kube)
			defer srv.Close()
			client := argoengine.NewClientFor(srv.URL, "drill-token", srv.Client())
			c := &Controller{Policy: Policy{Scale: 120, Steps: nil}, Metrics: zeroMetrics{}, Clock: realClock{}, Log: slog.New(slog.DiscardHandler)}
			c.begin()
			var readyAt string
			a := &argoWatch{c: c, steps: steps, stable: stable, seen: map[string]int{}, fired: map[string]bool{}, share: -1,
				onCanaryReady: func(context.Context, string) error {
					readyAt = fmt.Sprint(kube.frame().pods)
					c.Record(Event{Type: drillreport.EventInjection, Message: "injected"})
					return nil
				}}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			final, err := a.run(ctx, client, "payments-api", frameShare{kube}, time.Millisecond)
			if err != nil {
				t.Fatal(err)
			}
			evs := c.Events()
			f := collect(evs, time.Second)
			if f.final != final {
				t.Errorf("run returned %s, the timeline ends in %s", final, f.final)
			}
			if !strings.Contains(readyAt, canary) || f.injectedAt < 0 {
				t.Errorf("the fault went in with pods %s (injected at %v), want once the canary's pod was ready", readyAt, f.injectedAt)
			}
			tc.check(t, f, evs)
			if t.Failed() {
				for _, e := range evs {
					t.Logf("%s %s %s", e.AtText, e.Type, e.Message)
				}
			}
		})
	}
}

// A wrong token is the API server's 401, reported with its reason.
func TestArgoClientUnauthorized(t *testing.T) {
	srv := httptest.NewServer(&fakeKube{frames: []argoFrame{{}}})
	defer srv.Close()
	_, err := argoengine.NewClientFor(srv.URL, "wrong", srv.Client()).Observe(context.Background(), "payments-api")
	if err == nil || !strings.Contains(err.Error(), "401") {
		t.Fatalf("err %v, want the 401", err)
	}
}

func TestReleaseShare(t *testing.T) {
	cases := []struct {
		hash             string
		canary           int
		stableUp, faults string
		want             int
	}{
		{"84b5c2", 0, "http://rs-6c9f7d:8080", "http://rs-6c9f7d:8080", 0},
		{"84b5c2", 38, "http://rs-6c9f7d:8080", "http://rs-84b5c2:8080", 38},
		// Promoted: the router's stable upstream is the new release.
		{"84b5c2", 0, "http://rs-84b5c2:8080", "http://rs-84b5c2:8080", 100},
		{"84b5c2", 100, "http://rs-6c9f7d:8080", "http://rs-84b5c2:8080", 100},
		{"", 50, "http://rs-6c9f7d:8080", "http://rs-84b5c2:8080", 0},
		// A hash that is a prefix of another's is not it.
		{"84b5", 38, "http://rs-6c9f7d:8080", "http://rs-84b5c2:8080", 0},
	}
	for _, c := range cases {
		if got := releaseShare(c.hash, c.canary, c.stableUp, c.faults); got != c.want {
			t.Errorf("releaseShare(%q, %d, %q, %q) = %d, want %d", c.hash, c.canary, c.stableUp, c.faults, got, c.want)
		}
	}
}
