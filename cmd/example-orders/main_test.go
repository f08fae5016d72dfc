package main

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// Without a database the service is live but not ready, and every
// version the plans name is one it knows.
func TestNotReadyWithoutDatabase(t *testing.T) {
	s := &server{version: "5.9.2", rel: releases["5.9.2"], log: slog.New(slog.DiscardHandler)}
	h := s.routes()
	for path, want := range map[string]int{"/health/live": 200, "/health/ready": 503, "/orders": 503, "/stats": 503, "/nope": 404} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		if rec.Code != want {
			t.Errorf("GET %s: %d, want %d", path, rec.Code, want)
		}
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if !strings.Contains(rec.Body.String(), `orders_http_responses_total{code="503"} 3`) {
		t.Errorf("metrics:\n%s", rec.Body)
	}
	for _, v := range []string{"5.9.2", "6.0.0", "2.3.1", "2.4.0"} {
		if _, ok := releases[v]; !ok || !strings.Contains(versions(), v) {
			t.Errorf("version %s unknown", v)
		}
	}
	if !releases["5.9.2"].legacyStatus || releases["6.0.0"].legacyStatus || !releases["2.4.0"].ledgerRef || releases["2.3.1"].ledgerRef {
		t.Error("the releases no longer differ as the plans say")
	}
}
