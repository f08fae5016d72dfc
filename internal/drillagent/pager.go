package drillagent

import (
	"encoding/json"
	"net/http"
	"sync"
)

// Pager receives pages as JSON and lists them, so a drill can assert that
// a human would have been paged.
type Pager struct {
	mux   *http.ServeMux
	mu    sync.Mutex
	pages []json.RawMessage
}

// NewPager returns an empty pager.
func NewPager() *Pager {
	p := &Pager{mux: http.NewServeMux()}
	p.mux.HandleFunc("POST "+PathPages, p.receive)
	p.mux.HandleFunc("GET "+PathPages, p.list)
	p.mux.HandleFunc("GET "+PathReady, ready)
	return p
}

func ready(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, 200, map[string]string{"status": "ready"})
}

func (p *Pager) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p.mux.ServeHTTP(w, r)
}

func (p *Pager) receive(w http.ResponseWriter, r *http.Request) {
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
}

func (p *Pager) list(w http.ResponseWriter, _ *http.Request) {
	p.mu.Lock()
	out := append([]json.RawMessage{}, p.pages...)
	p.mu.Unlock()
	writeJSON(w, 200, out)
}
