// Package scaffold writes new plan skeletons (`rollbook new`): front matter
// for the kind and every section the kind has, each with a prompt saying
// what belongs there.
package scaffold

import (
	"bytes"
	"fmt"
	"strings"
	"text/template"
	"time"

	"github.com/rollbook/rollbook/internal/plan"
)

// Skeleton returns the Markdown of a new plan of kind titled title for
// service. The result passes `rollbook check` for structure; the writer
// replaces the TODO prompts with the real content.
func Skeleton(kind, title, service string, now time.Time) ([]byte, error) {
	secs, ok := plan.Sections[kind]
	if !ok {
		return nil, fmt.Errorf("unknown kind %q: use one of %s", kind, strings.Join(plan.Kinds, ", "))
	}
	var buf bytes.Buffer
	err := tmpl.Execute(&buf, map[string]any{
		"Kind": kind, "Title": title, "Service": service, "Sections": secs,
		"Today": now.Format("2006-01-02"), "Window": nextWeekday(now).Format("2006-01-02") + "T14:00:00Z",
		"Cleanup": now.AddDate(0, 3, 0).Format("2006-01-02"),
		"Rollout": kind == plan.KindRollout || kind == plan.KindDeployment || kind == plan.KindAutomatedRollback || kind == plan.KindRollback,
	})
	return buf.Bytes(), err
}

// nextWeekday is the next Tuesday-Thursday, when changes are safest to start.
func nextWeekday(now time.Time) time.Time {
	d := now.AddDate(0, 0, 1)
	for d.Weekday() < time.Tuesday || d.Weekday() > time.Thursday {
		d = d.AddDate(0, 0, 1)
	}
	return d
}

var tmpl = template.Must(template.New("plan").Parse(`---
title: {{printf "%q" .Title}}
kind: {{.Kind}}
service: {{.Service}}
owners: [TODO-team]
tags: []
environments: [staging, production]
risk: medium                  # low | medium | high: high needs every section
reviewed: {{.Today}}
{{- if .Rollout}}
window: {start: {{.Window}}, duration: 60m, downtime: 0s}
approvals: [tech-lead]
strategy:
  type: canary                # canary | blue-green | rolling | feature-flag
  steps:
    - {weight: 10, bake: 10m}
    - {weight: 50, bake: 15m}
    - {weight: 100}
analysis: {interval: 30s}
triggers:
  - {metric: error_rate, compare: baseline, max_delta: 2%, window: 2m, min_requests: 1500, consecutive: 2}
  - {metric: latency_p99, max: 800ms, window: 3m, consecutive: 2}
rollback:
  class: fast                 # instant | fast | complex | irreversible
  target: 10m
  automatic: true
  decision_maker: incident commander
  max_automatic: {count: 1, per: 1h}
# Schema changes shipped with the release (SPEC 3.3): uncomment and list each. runs: is
# when it runs: pre-deploy (before step 1), during-deploy (with at_step: N, a step above),
# post-deploy (after promotion to 100 %, then a bake: where a contract change belongs) or manual.
# migrations: [{id: "0001_TODO", file: migrations/0001_TODO.sql, phase: expand, runs: pre-deploy, reversible: true}]
# Game day (rollbook gameday run): uncomment to drill your own service
# instead of the built-in demo one (SPEC 3.1).
# gameday:
#   scenarios: [bad-canary-errors, healthy-canary, incompatible-migration]
#   service:
#     stable: {image: "{{.Service}}:TODO-current"}     # a local image: docker build -t / docker load
#     canary: {build: {context: ../../services/{{.Service}}, dockerfile: Dockerfile, args: {VERSION: "TODO-new"}}}
#     port: 8080                                   # the port the service listens on in its container
#     env: {DATABASE_URL: "{{"{{"}} .DatabaseURL {{"}}"}}"}     # also .DatabaseHost, .Port, .Release, .Host "cache"
#     ready: /health/ready                         # polled until 200 before traffic starts
#     metrics: /metrics                            # optional: the service's own Prometheus metrics
#     smoke:                                       # the stable release's own checks: the migration guard
#       - {method: GET, path: "/TODO?limit=1", expect: 200}
#     traffic:                                     # the load generator's request mix
#       - {method: GET, path: /TODO, weight: 9}
#       - {method: POST, path: /TODO, body: '{"TODO": 1}', weight: 1}
#     depends_on: []                               # e.g. {name: cache, image: "redis-local:7", port: 6379}
#   database: {name: {{.Service}}}                  # add schema: schema.sql to start from a schema dump
{{- end}}
contacts:
  primary: "@TODO-oncall"
  secondary: "@platform-oncall"
  escalation: [TODO-lead]
---

{{range .Sections}}## {{.Name}}

{{if eq .Name "Rollback procedure" "Step-by-step rollback procedure" "Rollback checklist"}}1. TODO: stop the rollout: ` + "`kubectl argo rollouts abort {{$.Service}}`" + `. Verify: all traffic on the stable release.
2. TODO: confirm the stable release is healthy: ` + "`curl -fsS https://{{$.Service}}.internal/health/ready`" + `. Verify: HTTP 200.
{{else}}TODO: {{.Hint}}
{{end}}
{{end}}`))
