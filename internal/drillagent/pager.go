package drillagent

import (
	"encoding/json"
	"net/http"
	"sync"
)

// Pager receives pages as JSON and lists them, so a drill can assert that
// a human would have been paged.
type Pager struct {
	mu    sync.Mutex
	pages []json.RawMessage
}

// NewPager returns an empty pager.
func NewPager() *Pager { return &Pager{} }

func (p *Pager) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.URL.Path == "/pages" && r.Method == http.MethodPost:
		var m map[string]any
		if err := readJSON(r, &m); err != nil {
			writeJSON(w, 400, map[string]string{"error": "send a JSON object"})
			return
		}
		raw, _ := json.Marshal(m)
		p.mu.Lock()
		p.pages = append(p.pages, raw)
		n := len(p.pages)
		p.mu.Unlock()
		writeJSON(w, 201, map[string]int{"page": n})
	case r.URL.Path == "/pages":
		p.mu.Lock()
		out := append([]json.RawMessage{}, p.pages...)
		p.mu.Unlock()
		writeJSON(w, 200, out)
	case r.URL.Path == "/health/ready":
		writeJSON(w, 200, map[string]string{"status": "ready"})
	default:
		http.NotFound(w, r)
	}
}
