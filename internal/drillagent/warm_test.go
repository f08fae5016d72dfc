package drillagent

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/rollbook/rollbook/internal/warmup"
)

// POST /admin/warm sends the load's mix to the target's host, not to the
// router, and none of it shows in the load's own counts.
func TestLoadWarmGoesPastTheRouter(t *testing.T) {
	var mu sync.Mutex
	seen := map[string]int{}
	canary := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen[r.Method+" "+r.URL.RequestURI()]++
		mu.Unlock()
	}))
	defer canary.Close()
	router := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("the warm-up reached the router: %s %s", r.Method, r.URL)
	}))
	defer router.Close()
	l := NewLoad(router.URL, 0)
	l.SetMix([]MixRequest{{Method: "GET", Path: "/orders?limit=5", Weight: 9}, {Method: "POST", Path: "/orders", Body: `{}`, Weight: 1}})
	body, _ := json.Marshal(warmup.Request{Target: canary.URL, Concurrency: 8, Batch: 32, Max: 10 * time.Second})
	rec := httptest.NewRecorder()
	l.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, PathWarm, bytes.NewReader(body)))
	var res warmup.Result
	if rec.Code != 200 || json.Unmarshal(rec.Body.Bytes(), &res) != nil {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
	mu.Lock()
	defer mu.Unlock()
	if !res.Settled || res.Requests < 64 || res.Failed != 0 || seen["GET /orders?limit=5"]+seen["POST /orders"] != res.Requests || len(seen) != 2 {
		t.Errorf("warm-up %+v; the canary saw %v", res, seen)
	}
	rec = httptest.NewRecorder()
	l.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, PathStats, nil))
	var st struct{ Total int }
	if json.Unmarshal(rec.Body.Bytes(), &st) != nil || st.Total != 0 {
		t.Errorf("the load counted the warm-up: %s", rec.Body)
	}
	rec = httptest.NewRecorder()
	l.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, PathWarm, bytes.NewReader([]byte(`{"target": "canary"}`))))
	if rec.Code != 400 {
		t.Errorf("a target without a host: %d %s", rec.Code, rec.Body)
	}
}
