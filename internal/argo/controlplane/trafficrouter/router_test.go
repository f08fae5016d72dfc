package trafficrouter

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/argoproj/argo-rollouts/pkg/apis/rollouts/v1alpha1"
	"github.com/argoproj/argo-rollouts/utils/plugin/types"
)

func rollout(cfg string) *v1alpha1.Rollout {
	ro := &v1alpha1.Rollout{}
	ro.Namespace, ro.Name = "default", "payments-api"
	ro.Spec.Strategy.Canary = &v1alpha1.CanaryStrategy{TrafficRouting: &v1alpha1.RolloutTrafficRouting{
		Plugins: map[string]json.RawMessage{},
	}}
	if cfg != "" {
		ro.Spec.Strategy.Canary.TrafficRouting.Plugins[Name] = json.RawMessage(cfg)
	}
	return ro
}

// The calls Argo makes through a canary, a promotion and an abort reach
// the router as the weights and upstreams the drill needs.
func TestPluginDrivesRouter(t *testing.T) {
	var mu sync.Mutex
	var got []string
	weight := `{"canary":0}`
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		if r.Method == http.MethodPut {
			got = append(got, r.URL.Path+" "+string(body))
			if r.URL.Path == pathWeights {
				weight = string(body)
			}
		}
		_, _ = io.WriteString(w, weight)
	}))
	defer srv.Close()
	p := &Plugin{}
	if e := p.InitPlugin(); e.HasError() {
		t.Fatal(e)
	}
	ro := rollout(`{"router": "` + srv.URL + `", "port": 8080}`)
	steps := []func() types.RpcError{
		func() types.RpcError { return p.UpdateHash(ro, "new", "old", nil) },
		func() types.RpcError { return p.SetWeight(ro, 10, nil) },
		// promoted: no canary left, what canary traffic remains goes to stable
		func() types.RpcError { return p.UpdateHash(ro, "", "new", nil) },
		func() types.RpcError { return p.SetWeight(ro, 0, nil) },
	}
	for i, step := range steps {
		if e := step(); e.HasError() {
			t.Fatalf("step %d: %v", i, e)
		}
	}
	want := []string{
		`/admin/upstreams {"canary":"http://rs-new:8080","stable":"http://rs-old:8080"}`,
		`/admin/weights {"canary":10}`,
		`/admin/upstreams {"canary":"http://rs-new:8080","stable":"http://rs-new:8080"}`,
		`/admin/weights {"canary":0}`,
	}
	if !slices.Equal(got, want) {
		t.Errorf("router calls\n got %q\nwant %q", got, want)
	}
	// With the fault injector named, the canary is its upstream and the
	// router keeps sending the canary's share through it.
	got = nil
	faulty := rollout(`{"router": "` + srv.URL + `/r", "faults": "` + srv.URL + `/f", "port": 8080}`)
	if e := p.UpdateHash(faulty, "c2", "s2", nil); e.HasError() {
		t.Fatal(e)
	}
	want = []string{
		`/f/admin/upstreams {"canary":"http://rs-c2:8080"}`,
		`/r/admin/upstreams {"stable":"http://rs-s2:8080"}`,
	}
	if !slices.Equal(got, want) {
		t.Errorf("with faults, calls\n got %q\nwant %q", got, want)
	}
	if v, e := p.VerifyWeight(ro, 0, nil); e.HasError() || v != types.Verified {
		t.Errorf("VerifyWeight(0) = %v, %v; want Verified", v, e)
	}
	if v, e := p.VerifyWeight(ro, 50, nil); e.HasError() || v != types.NotVerified {
		t.Errorf("VerifyWeight(50) with the router at 0 = %v, %v; want NotVerified", v, e)
	}
}

func TestPluginConfigErrors(t *testing.T) {
	p := &Plugin{}
	p.InitPlugin()
	for cfg, want := range map[string]string{
		"":                                 `has no trafficRouting.plugins["rollbook/router"]`,
		`{"router": 1}`:                    "cannot unmarshal",
		`{"router": "http://127.0.0.1:1"}`: "needs router",
	} {
		e := p.SetWeight(rollout(cfg), 10, nil)
		if !strings.Contains(e.ErrorString, want) {
			t.Errorf("config %q: error %q, want one containing %q", cfg, e.ErrorString, want)
		}
	}
	if e := p.SetWeight(rollout(`{"router": "http://127.0.0.1:1", "port": 8080}`), 10, nil); !strings.Contains(e.ErrorString, "drill router") {
		t.Errorf("router down: error %q, want one naming the drill router", e.ErrorString)
	}
}
