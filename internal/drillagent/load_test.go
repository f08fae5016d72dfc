package drillagent

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
)

// A traffic mix is sent in proportion to its weights, each request with
// its method, path and body.
func TestLoadMix(t *testing.T) {
	var mu sync.Mutex
	seen := map[string]int{}
	bodies := map[string]string{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		seen[r.Method+" "+r.URL.RequestURI()]++
		if len(b) > 0 {
			bodies[r.Method+" "+r.URL.Path] = string(b)
		}
		mu.Unlock()
	}))
	defer srv.Close()
	l := NewLoad(srv.URL, 400)
	l.SetMix([]MixRequest{{Method: "GET", Path: "/orders?limit=5", Weight: 9}, {Method: "POST", Path: "/orders", Body: `{"sku":"A-1","qty":1}`, Weight: 1}})
	ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
	defer cancel()
	_ = l.Run(ctx)
	mu.Lock()
	defer mu.Unlock()
	gets, posts := seen["GET /orders?limit=5"], seen["POST /orders"]
	if gets+posts < 200 || posts == 0 || gets < 5*posts || len(seen) != 2 {
		t.Fatalf("requests by kind: %v", seen)
	}
	if bodies["POST /orders"] != `{"sku":"A-1","qty":1}` {
		t.Errorf("POST body %q", bodies["POST /orders"])
	}
}
