package drillagent

import (
	"context"
	"net/http"
	"net/url"
	"time"

	"github.com/rollbook/rollbook/internal/warmup"
)

// warm answers POST PathWarm: the warm-up of the release at the request's
// target, with the load's own mix.
func (l *Load) warm(w http.ResponseWriter, r *http.Request) {
	var req warmup.Request
	if err := readJSON(r, &req); err != nil || req.Target == "" || req.Max > time.Minute {
		writeJSON(w, 400, map[string]string{"error": `send {"target": "http://canary:8080", "concurrency": 16, "batch": 64, "max_ns": up to a minute}`})
		return
	}
	base, err := url.Parse(req.Target)
	var target string
	if err == nil && base.Host != "" {
		target, err = l.retarget(base)
	}
	if err != nil || base.Host == "" {
		writeJSON(w, 400, map[string]string{"error": "target: want a base URL such as http://canary:8080"})
		return
	}
	res := warmup.Run(r.Context(), req, func(ctx context.Context) (time.Duration, bool) {
		hr, err := l.request(ctx, target)
		if err != nil {
			return 0, true
		}
		t := time.Now()
		code, err := l.do(hr)
		return time.Since(t), err != nil || code >= 500
	})
	writeJSON(w, 200, res)
}
