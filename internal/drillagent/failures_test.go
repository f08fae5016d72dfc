package drillagent

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/rollbook/rollbook/internal/drillreport"
)

// failing answers status with body to every request.
func failing(t *testing.T, status int, body string) *httptest.Server {
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		w.WriteHeader(status)
		_, _ = w.Write([]byte(body))
	}))
	t.Cleanup(s.Close)
	return s
}

// drain reads the router's kept failures, as the drill controller does,
// into the report's own type: the two JSON shapes are one.
func drain(t *testing.T, router string) []drillreport.Failure {
	t.Helper()
	code, _, body := do(t, "GET", router+PathFailures, nil)
	if code != 200 {
		t.Fatalf("GET %s: %d %s", PathFailures, code, body)
	}
	var out []drillreport.Failure
	if err := json.Unmarshal([]byte(body), &out); err != nil {
		t.Fatalf("GET %s: %v\n%s", PathFailures, err, body)
	}
	if out == nil {
		t.Fatalf("GET %s answered %s, want a list", PathFailures, body)
	}
	return out
}

// A failing response reaches the client whole, and the router keeps its
// request, status and the body's first 300 bytes; a GET forgets them.
func TestRouterKeepsFailingResponses(t *testing.T) {
	// 847 bytes: from byte 47 on, 2-byte characters, one across byte 300.
	body := `{"error":"column legacy_status does not exist"}` + strings.Repeat("é", 400)
	var ok atomic.Int64
	st := failing(t, 500, body)
	rt := httptest.NewServer(NewRouter(st.URL, upstream(t, "canary", &ok).URL, 5*time.Second))
	defer rt.Close()

	code, _, got := do(t, "GET", rt.URL+"/orders?limit=1", nil)
	if code != 500 || got != body {
		t.Fatalf("the client got %d and %d bytes, want 500 and the whole body (%d bytes)", code, len(got), len(body))
	}
	do(t, "PUT", rt.URL+PathWeights, map[string]int{"canary": 100})
	for range 3 {
		do(t, "GET", rt.URL+"/orders", nil) // 200s are not kept
	}
	fs := drain(t, rt.URL)
	if len(fs) != 1 {
		t.Fatalf("kept %d failures, want 1: %+v", len(fs), fs)
	}
	f := fs[0]
	if f.Release != "stable" || f.Method != "GET" || f.Path != "/orders?limit=1" || f.Status != 500 {
		t.Errorf("kept %+v", f)
	}
	// The 300th byte cuts an "é" in two: the excerpt stops before it.
	if want := body[:299]; f.Body != want {
		t.Errorf("body excerpt (%d bytes) %q, want the first 300 bytes without the cut character (%d bytes)", len(f.Body), f.Body, len(want))
	}
	if fs := drain(t, rt.URL); len(fs) != 0 {
		t.Errorf("a second read gave %d failures, want none: the first drains", len(fs))
	}
}

// At most five failures per release are kept until they are read; then
// the next five are.
func TestRouterKeepsFiveFailuresPerRelease(t *testing.T) {
	st, ca := failing(t, 500, "stable broke"), failing(t, 503, "canary broke")
	rt := httptest.NewServer(NewRouter(st.URL, ca.URL, 5*time.Second))
	defer rt.Close()
	send := func(weight, n int) {
		do(t, "PUT", rt.URL+PathWeights, map[string]int{"canary": weight})
		for i := range n {
			do(t, "POST", rt.URL+"/orders/"+string(rune('a'+i)), map[string]string{"sku": "A-1"})
		}
	}
	send(0, 8)
	send(100, 7)
	fs := drain(t, rt.URL)
	per := map[string][]string{}
	for _, f := range fs {
		per[f.Release] = append(per[f.Release], f.Path)
		if f.Method != "POST" || (f.Release == "stable") != (f.Status == 500 && f.Body == "stable broke") || (f.Release == "canary") != (f.Status == 503 && f.Body == "canary broke") {
			t.Errorf("kept %+v", f)
		}
	}
	// The first five of each, in order.
	want := []string{"/orders/a", "/orders/b", "/orders/c", "/orders/d", "/orders/e"}
	if !reflect.DeepEqual(per["stable"], want) || !reflect.DeepEqual(per["canary"], want) {
		t.Errorf("kept %v, want the first five of each release: %v", per, want)
	}
	send(100, 2)
	if fs := drain(t, rt.URL); len(fs) != 2 || fs[0].Release != "canary" || fs[0].Path != "/orders/a" {
		t.Errorf("after a read, kept %+v, want the next two canary failures", fs)
	}
}

// The 502 and 504 the router answers itself are failures users get too.
func TestRouterKeepsItsOwnGatewayErrors(t *testing.T) {
	dead := httptest.NewServer(http.NotFoundHandler())
	deadURL := dead.URL
	dead.Close()
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }))
	defer hang.Close()
	rt := httptest.NewServer(NewRouter(deadURL, hang.URL, 200*time.Millisecond))
	defer rt.Close()
	code, _, body := do(t, "GET", rt.URL+"/orders?limit=1", nil)
	if code != 502 {
		t.Fatalf("unreachable stable: %d, want 502", code)
	}
	do(t, "PUT", rt.URL+PathWeights, map[string]int{"canary": 100})
	if code, _, _ := do(t, "DELETE", rt.URL+"/orders/7", nil); code != 504 {
		t.Fatalf("hanging canary: %d, want 504", code)
	}
	fs := drain(t, rt.URL)
	if len(fs) != 2 {
		t.Fatalf("kept %+v, want the 502 and the 504", fs)
	}
	if f := fs[0]; f.Release != "stable" || f.Status != 502 || f.Path != "/orders?limit=1" || f.Body != body || !strings.Contains(f.Body, "connect") {
		t.Errorf("502 kept as %+v; the client got %q", f, body)
	}
	if f := fs[1]; f.Release != "canary" || f.Status != 504 || f.Method != "DELETE" || f.Body == "" {
		t.Errorf("504 kept as %+v", f)
	}
}

// The load generator's own count of requests and failures is the
// router's: what the router saw is what users got.
func TestLoadCountsAsTheRouterDoes(t *testing.T) {
	var n atomic.Int64
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1)%5 == 0 {
			http.Error(w, "no", 500)
			return
		}
		_, _ = w.Write([]byte("ok"))
	}))
	defer up.Close()
	rt := httptest.NewServer(NewRouter(up.URL, up.URL, 5*time.Second))
	defer rt.Close()
	l := NewLoad(rt.URL+PathOrders, 300)
	srv := httptest.NewServer(l)
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- l.Run(ctx) }()
	defer func() { cancel(); <-done }()
	time.Sleep(700 * time.Millisecond)
	do(t, "PUT", srv.URL+PathRate, map[string]float64{"rate": 0})

	// Once the requests in flight are answered, the counts agree.
	var load struct {
		Total, Failed uint64
		Codes         map[string]uint64
	}
	var routed, routedFailed float64
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, _, body := do(t, "GET", srv.URL+PathStats, nil)
		if err := json.Unmarshal([]byte(body), &load); err != nil {
			t.Fatal(err)
		}
		_, _, metrics := do(t, "GET", rt.URL+PathMetrics, nil)
		parser := expfmt.NewTextParser(model.UTF8Validation)
		fams, err := parser.TextToMetricFamilies(strings.NewReader(metrics))
		if err != nil {
			t.Fatal(err)
		}
		routed, routedFailed = 0, 0
		for _, m := range fams["rollbook_requests_total"].GetMetric() {
			for _, lp := range m.GetLabel() {
				if lp.GetName() == "code" {
					routed += m.GetCounter().GetValue()
					if c, _ := strconv.Atoi(lp.GetValue()); c >= 500 {
						routedFailed += m.GetCounter().GetValue()
					}
				}
			}
		}
		if float64(load.Total) == routed && float64(load.Failed) == routedFailed || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if load.Total < 50 || load.Failed == 0 || load.Failed != load.Codes["500"] || float64(load.Total) != routed || float64(load.Failed) != routedFailed {
		t.Errorf("load generator: %d requests, %d failed (%v); router: %v requests, %v failed", load.Total, load.Failed, load.Codes, routed, routedFailed)
	}
}

// Requests that get no answer at all count as failed.
func TestLoadCountsTransportErrorsAsFailed(t *testing.T) {
	dead := httptest.NewServer(http.NotFoundHandler())
	deadURL := dead.URL
	dead.Close()
	l := NewLoad(deadURL, 100)
	srv := httptest.NewServer(l)
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	_ = l.Run(ctx)
	var st struct {
		Total, Failed uint64
		Codes         map[string]uint64
	}
	_, _, body := do(t, "GET", srv.URL+PathStats, nil)
	if err := json.Unmarshal([]byte(body), &st); err != nil {
		t.Fatal(err)
	}
	if st.Total == 0 || st.Failed != st.Total || st.Codes["error"] != st.Total {
		t.Errorf("stats against a closed port: %s", body)
	}
}
