package controlplane

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
)

var (
	templateGVR = schema.GroupVersionResource{Group: "argoproj.io", Version: "v1alpha1", Resource: "analysistemplates"}
	runGVR      = schema.GroupVersionResource{Group: "argoproj.io", Version: "v1alpha1", Resource: "analysisruns"}
)

// promAPI answers Prometheus's instant-query API with one sample of value
// for every query, and keeps the queries: the controller's Prometheus
// provider is what is under test, not Prometheus.
type promAPI struct {
	value   string
	mu      sync.Mutex
	queries []string
}

func (p *promAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	_ = r.ParseForm()
	p.mu.Lock()
	p.queries = append(p.queries, r.Form.Get("query"))
	p.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	_, _ = io.WriteString(w, `{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[`+
		`1700000000,"`+p.value+`"]}]}}`)
}

func (p *promAPI) seen() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.queries...)
}

// The first step of gate 3: the Rollout and AnalysisTemplates exactly as
// `rollbook export argo` writes them for the payments plan (only the
// Prometheus address filled in, and the selector and pod template the
// export leaves to the team) are accepted by Argo's CRDs and run by its
// controller: a new image starts the background analysis with the
// ReplicaSets' real hashes in the exported queries, and Argo judges the
// answers with the exported conditions.
func TestExportedPlanRunsInArgo(t *testing.T) {
	path := os.Getenv("ROLLBOOK_ARGO_EXPORT")
	if path == "" {
		t.Fatal("ROLLBOOK_ARGO_EXPORT names the output of `rollbook export argo content/payments/api-2-4-canary.md` (make argo-test writes it)")
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	c := startCluster(t, binDir(t))
	cs := kubernetes.NewForConfigOrDie(c.Config)
	startNode(t, ctx, cs)
	prom := &promAPI{value: "0"}
	promSrv := httptest.NewServer(prom)
	defer promSrv.Close()

	dyn := dynamic.NewForConfigOrDie(c.Config)
	var rollout *unstructured.Unstructured
	var templates []string
	dec := yaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	for {
		var obj map[string]any
		if err := dec.Decode(&obj); err == io.EOF {
			break
		} else if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if obj == nil {
			continue
		}
		u := &unstructured.Unstructured{Object: obj}
		switch u.GetKind() {
		case "AnalysisTemplate":
			metrics, _, _ := unstructured.NestedSlice(obj, "spec", "metrics")
			for _, m := range metrics {
				if err := unstructured.SetNestedField(m.(map[string]any), promSrv.URL, "provider", "prometheus", "address"); err != nil {
					t.Fatal(err)
				}
			}
			if err := unstructured.SetNestedSlice(obj, metrics, "spec", "metrics"); err != nil {
				t.Fatal(err)
			}
			if _, err := dyn.Resource(templateGVR).Namespace("default").Create(ctx, u, metav1.CreateOptions{}); err != nil {
				t.Fatalf("Argo refuses the exported AnalysisTemplate %s: %v", u.GetName(), err)
			}
			templates = append(templates, u.GetName())
		case "Rollout":
			rollout = u
		default:
			t.Fatalf("%s: unexpected %s", path, u.GetKind())
		}
	}
	if rollout == nil || len(templates) == 0 {
		t.Fatalf("%s: want a Rollout and its AnalysisTemplates, have %v", path, templates)
	}
	// What the export leaves to the team: selector and pod template.
	var team map[string]any
	if err := json.Unmarshal([]byte(`{
		"replicas": 1,
		"selector": {"matchLabels": {"app": "payments-api"}},
		"template": {"metadata": {"labels": {"app": "payments-api"}}, "spec": {
			"terminationGracePeriodSeconds": 1,
			"containers": [{"name": "api", "image": "example-orders:2.3.1",
				"env": [{"name": "VERSION", "value": "2.3.1"}, {"name": "DATABASE_URL", "value": "postgres://nowhere:5432/payments"}],
				"ports": [{"containerPort": 8080}],
				"readinessProbe": {"httpGet": {"path": "/health/live", "port": 8080}, "periodSeconds": 1}}]}}
	}`), &team); err != nil {
		t.Fatal(err)
	}
	for k, v := range team {
		if err := unstructured.SetNestedField(rollout.Object, v, "spec", k); err != nil {
			t.Fatal(err)
		}
	}
	rollout.SetNamespace("default")
	ro := dyn.Resource(rolloutGVR).Namespace("default")
	if _, err := ro.Create(ctx, rollout, metav1.CreateOptions{}); err != nil {
		t.Fatalf("Argo refuses the exported Rollout: %v", err)
	}
	name := rollout.GetName()
	waitRollout(t, ctx, ro, name, "Healthy")

	patch := `[{"op":"replace","path":"/spec/template/spec/containers/0/image","value":"example-orders:2.4.0"},{"op":"replace","path":"/spec/template/spec/containers/0/env/0/value","value":"2.4.0"}]`
	if _, err := ro.Patch(ctx, name, types.JSONPatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	// Each exported metric gets its first measurement, Successful: the
	// answer (0) meets every exported successCondition.
	var run *unstructured.Unstructured
	var phases map[string]string
	err = wait.PollUntilContextCancel(ctx, 500*time.Millisecond, true, func(ctx context.Context) (bool, error) {
		list, err := dyn.Resource(runGVR).Namespace("default").List(ctx, metav1.ListOptions{})
		if err != nil || len(list.Items) == 0 {
			return false, nil
		}
		run = &list.Items[0]
		results, _, _ := unstructured.NestedSlice(run.Object, "status", "metricResults")
		phases = map[string]string{}
		for _, r := range results {
			m := r.(map[string]any)
			ms, _ := m["measurements"].([]any)
			if len(ms) > 0 {
				phases[m["name"].(string)], _ = ms[0].(map[string]any)["phase"].(string)
			}
		}
		return len(phases) == len(templates), nil
	})
	if err != nil {
		t.Fatalf("want a first measurement of each of %d metrics: %v; have %v", len(templates), err, phases)
	}
	for metric, phase := range phases {
		if phase != "Successful" {
			t.Errorf("metric %s: first measurement %s, want Successful (the answer 0 meets its successCondition)", metric, phase)
		}
	}
	canary, _, _ := unstructured.NestedString(run.Object, "metadata", "labels", "rollouts-pod-template-hash")
	stable := ""
	if u, err := ro.Get(ctx, name, metav1.GetOptions{}); err == nil {
		stable, _, _ = unstructured.NestedString(u.Object, "status", "stableRS")
	}
	if canary == "" || stable == "" || canary == stable {
		t.Fatalf("canary hash %q, stable hash %q: want two ReplicaSets", canary, stable)
	}
	var sawCanary, sawStable bool
	for _, q := range prom.seen() {
		if strings.Contains(q, "{{") {
			t.Errorf("Argo sent a query with an unresolved argument: %.200s", q)
		}
		sawCanary = sawCanary || strings.Contains(q, `rollouts_pod_template_hash="`+canary+`"`)
		sawStable = sawStable || strings.Contains(q, `rollouts_pod_template_hash="`+stable+`"`)
	}
	if !sawCanary || !sawStable {
		t.Errorf("queries name the canary %s: %v, the stable %s: %v; want both (the exported args)", canary, sawCanary, stable, sawStable)
	}
	t.Logf("AnalysisRun %s: first measurements %v; %d queries answered", run.GetName(), phases, len(prom.seen()))
}

func waitRollout(t *testing.T, ctx context.Context, ro dynamic.ResourceInterface, name, phase string) {
	t.Helper()
	var last, msg string
	err := wait.PollUntilContextCancel(ctx, 250*time.Millisecond, true, func(ctx context.Context) (bool, error) {
		u, err := ro.Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, nil
		}
		last, _, _ = unstructured.NestedString(u.Object, "status", "phase")
		msg, _, _ = unstructured.NestedString(u.Object, "status", "message")
		// Argo refuses a spec once and for all: no use waiting.
		if strings.HasPrefix(msg, "InvalidSpec") && phase != last {
			return false, fmt.Errorf("argo refused the spec")
		}
		return last == phase, nil
	})
	if err != nil {
		t.Fatalf("Rollout %s phase %q (%s), want %s: %v", name, last, msg, phase, err)
	}
}
