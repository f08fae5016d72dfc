// Package bench owns the synthetic corpora the benchmarks build: N plans
// with realistic front matter, tables, lists and bash, YAML, SQL and JSON
// code blocks, generated deterministically from a seed.
package bench

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
)

var (
	services = []string{"payments-api", "checkout", "ledger", "search", "catalog", "identity", "notifications", "billing", "inventory", "shipping", "fraud", "gateway", "reports", "profiles", "pricing", "etcd", "kafka", "postgres", "redis", "ingress"}
	teams    = []string{"team-payments", "team-checkout", "team-search", "team-identity", "team-platform", "team-data", "team-edge", "team-storage"}
	kinds    = []string{"rollout", "deployment", "rollback", "automated-rollback", "process"}
	risks    = []string{"low", "medium", "high"}
	words    = strings.Fields("canary rollback traffic error latency budget migration schema replica quorum leader failover drain cordon node pod deployment release baseline threshold window alert pager incident commander verify health probe readiness liveness etcdHighFsyncDurations kube_pod_status p99 5xx shard index cache warmup throttle backoff retry circuit breaker")
)

// Generate writes n plans (and a rollbook.yaml) under dir/content.
func Generate(dir string, n int, seed uint64) error {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	if err := os.MkdirAll(filepath.Join(dir, "content"), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "rollbook.yaml"), []byte("title: Synthetic runbooks\nstale_after: 3650d\n"), 0o644); err != nil {
		return err
	}
	for i := 0; i < n; i++ {
		svc := services[r.IntN(len(services))]
		folder := filepath.Join(dir, "content", svc)
		if err := os.MkdirAll(folder, 0o755); err != nil {
			return err
		}
		name := fmt.Sprintf("plan-%05d.md", i)
		if err := os.WriteFile(filepath.Join(folder, name), []byte(Plan(r, i, svc)), 0o644); err != nil {
			return err
		}
	}
	return nil
}

func sentence(r *rand.Rand, n int) string {
	ws := make([]string, n)
	for i := range ws {
		ws[i] = words[r.IntN(len(words))]
	}
	s := strings.Join(ws, " ")
	return strings.ToUpper(s[:1]) + s[1:] + "."
}

// Plan returns one synthetic plan of a process kind (so every plan passes
// the checks whatever its body), with the front matter of a rollout.
func Plan(r *rand.Rand, i int, svc string) string {
	var b strings.Builder
	kind := kinds[r.IntN(len(kinds))]
	fmt.Fprintf(&b, `---
title: "%s %s change %d"
kind: process
service: %s
owners: [%s]
tags: [%s, %s]
environments: [staging, production]
approvals: [tech-lead]
risk: %s
reviewed: 2026-11-%02d
strategy:
  type: canary
  steps:
    - {weight: 1, bake: 5m}
    - {weight: 10, bake: 10m}
    - {weight: 100}
analysis: {interval: 30s}
triggers:
  - {metric: error_rate, compare: baseline, max_delta: 2%%, window: 2m, min_requests: 200, consecutive: 2}
  - {metric: latency_p99, max: 800ms, window: 3m}
rollback: {class: fast, target: 10m, automatic: true, decision_maker: incident commander}
contacts: {primary: "@%s-oncall", escalation: [%s-lead]}
x_generated_kind: %s
---

`, svc, words[r.IntN(len(words))], i, svc, teams[r.IntN(len(teams))], words[r.IntN(len(words))], svc, risks[r.IntN(3)], 1+r.IntN(20), svc, svc, kind)
	fmt.Fprintf(&b, "## Expectations\n\n%s %s\n\n", sentence(r, 14), sentence(r, 10))
	b.WriteString("| Signal | Threshold | Window |\n|---|---|---|\n")
	for j := 0; j < 4; j++ {
		fmt.Fprintf(&b, "| %s | %d ms | %d m |\n", words[r.IntN(len(words))], 100+r.IntN(900), 1+r.IntN(15))
	}
	fmt.Fprintf(&b, "\n## Metrics to observe\n\n- %s\n- %s\n- %s\n\n", sentence(r, 6), sentence(r, 8), sentence(r, 5))
	fmt.Fprintf(&b, "## Rollout steps\n\n1. Deploy the canary: `kubectl argo rollouts set image %s app=%s:%d.%d`. Verify: pods ready.\n", svc, svc, r.IntN(9), r.IntN(20))
	fmt.Fprintf(&b, "2. Watch the error rate. Verify: below baseline.\n\n```bash\nkubectl -n %s rollout status deploy/%s --timeout=5m\ncurl -fsS https://%s.internal/health/ready | jq .status\n```\n\n", svc, svc, svc)
	fmt.Fprintf(&b, "```yaml\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: %s\nspec:\n  replicas: %d\n```\n\n", svc, 2+r.IntN(10))
	fmt.Fprintf(&b, "```sql\nSELECT count(*) FROM orders WHERE created_at > now() - interval '%d minutes';\n```\n\n", 1+r.IntN(60))
	fmt.Fprintf(&b, "```json\n{\"service\": \"%s\", \"weight\": %d, \"healthy\": true}\n```\n\n", svc, r.IntN(100))
	fmt.Fprintf(&b, "## Testing scenarios\n\n- %s\n- %s\n\n## Communication\n\n%s\n\n## Staging and production checks\n\n%s\n\n## Go / no-go criteria\n\n- [ ] %s\n- [ ] %s\n\n", sentence(r, 7), sentence(r, 9), sentence(r, 11), sentence(r, 10), sentence(r, 6), sentence(r, 6))
	fmt.Fprintf(&b, "## Retro\n\n%s %s %s\n", sentence(r, 12), sentence(r, 9), sentence(r, 15))
	return b.String()
}

// Plans is the corpus size the benchmarks use: BENCH_PLANS, or def.
func Plans(def int) int {
	if v := os.Getenv("BENCH_PLANS"); v != "" {
		if _, err := fmt.Sscan(v, &def); err != nil {
			panic("BENCH_PLANS: " + err.Error())
		}
	}
	return def
}
