// Package bench owns the synthetic corpora the benchmarks build: N plans
// shaped like real runbooks (front matter, tables, lists, five to eight
// fenced blocks of bash, YAML, SQL and JSON, a quarter of them SQL; ten
// services and ten topics, so each list holds about a tenth of the
// plans) and pages without front matter, generated deterministically from
// a seed.
package bench

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
)

var (
	// Ten services and ten topic tags: every service and every topic tag
	// lists about a tenth of the plans, as on a large real site.
	services = []string{"payments-api", "checkout", "ledger", "search", "catalog", "identity", "notifications", "billing", "inventory", "shipping"}
	topics   = []string{"canary", "migration", "failover", "capacity", "config", "certificates", "dependencies", "traffic", "storage", "observability"}
	teams    = []string{"team-payments", "team-checkout", "team-search", "team-identity", "team-platform", "team-data", "team-edge", "team-storage"}
	kinds    = []string{"rollout", "deployment", "rollback", "automated-rollback", "process"}
	risks    = []string{"low", "medium", "high"}
	tables   = []string{"orders", "payments", "ledger_entries", "sessions", "accounts", "shipments", "refunds", "invoices"}
	words    = strings.Fields("canary rollback traffic error latency budget migration schema replica quorum leader failover drain cordon node pod deployment release baseline threshold window alert pager incident commander verify health probe readiness liveness etcdHighFsyncDurations kube_pod_status p99 5xx shard index cache warmup throttle backoff retry circuit breaker")
)

// Generate writes n plans, n/20 pages without front matter (notes, as
// teams keep beside their plans) and a rollbook.yaml under dir.
func Generate(dir string, n int, seed uint64) error {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	if err := os.MkdirAll(filepath.Join(dir, "content"), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "rollbook.yaml"), []byte("title: Synthetic runbooks\nstale_after: 3650d\n"), 0o644); err != nil {
		return err
	}
	for _, svc := range services {
		if err := os.MkdirAll(filepath.Join(dir, "content", svc), 0o755); err != nil {
			return err
		}
	}
	for i := 0; i < n; i++ {
		svc := services[r.IntN(len(services))]
		name := fmt.Sprintf("plan-%05d.md", i)
		if err := os.WriteFile(filepath.Join(dir, "content", svc, name), []byte(Plan(r, i, svc)), 0o644); err != nil {
			return err
		}
		if i%20 == 19 {
			name := fmt.Sprintf("notes-%05d.md", i)
			if err := os.WriteFile(filepath.Join(dir, "content", svc, name), []byte(Note(r, i, svc)), 0o644); err != nil {
				return err
			}
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
// the checks whatever its body), with the front matter of a rollout and
// five to eight fenced blocks, a quarter of them SQL.
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

`, svc, words[r.IntN(len(words))], i, svc, teams[r.IntN(len(teams))], topics[r.IntN(len(topics))], svc, risks[r.IntN(3)], 1+r.IntN(20), svc, svc, kind)
	fmt.Fprintf(&b, "## Expectations\n\n%s %s\n\n", sentence(r, 14), sentence(r, 10))
	b.WriteString("| Signal | Threshold | Window |\n|---|---|---|\n")
	for j := 0; j < 4; j++ {
		fmt.Fprintf(&b, "| %s | %d ms | %d m |\n", words[r.IntN(len(words))], 100+r.IntN(900), 1+r.IntN(15))
	}
	fmt.Fprintf(&b, "\n## Metrics to observe\n\n- %s\n- %s\n- %s\n\n", sentence(r, 6), sentence(r, 8), sentence(r, 5))
	fmt.Fprintf(&b, "## Rollout steps\n\n1. Deploy the canary: `kubectl argo rollouts set image %s app=%s:%d.%d`. Verify: pods ready.\n", svc, svc, r.IntN(9), r.IntN(20))
	b.WriteString("2. Watch the error rate. Verify: below baseline.\n\n")
	// One block of each language, then one to four more drawn evenly:
	// SQL is a quarter of the blocks on average.
	langs := []int{0, 1, 2, 3}
	for extra := 1 + r.IntN(4); extra > 0; extra-- {
		langs = append(langs, r.IntN(4))
	}
	for j, l := range langs {
		b.WriteString(codeBlock(r, l, svc))
		if j == 3 {
			fmt.Fprintf(&b, "## Testing scenarios\n\n- %s\n- %s\n\n", sentence(r, 7), sentence(r, 9))
		}
	}
	fmt.Fprintf(&b, "## Communication\n\n%s\n\n## Staging and production checks\n\n%s\n\n## Go / no-go criteria\n\n- [ ] %s\n- [ ] %s\n\n", sentence(r, 11), sentence(r, 10), sentence(r, 6), sentence(r, 6))
	fmt.Fprintf(&b, "## Retro\n\n%s %s %s\n", sentence(r, 12), sentence(r, 9), sentence(r, 15))
	return b.String()
}

// codeBlock returns one fenced block of language l (bash, yaml, sql,
// json). Some commands are the same in many plans, as in real runbooks;
// most carry the plan's own names and numbers.
func codeBlock(r *rand.Rand, l int, svc string) string {
	table := tables[r.IntN(len(tables))]
	switch l {
	case 0:
		if r.IntN(4) == 0 {
			return "```bash\nkubectl get pods -A | grep -v Running\n```\n\n"
		}
		return fmt.Sprintf("```bash\nset -euo pipefail\nkubectl -n %s rollout status deploy/%s --timeout=%dm\nfor pod in $(kubectl -n %s get pods -l app=%s -o name); do\n  kubectl -n %s logs \"$pod\" --since=%dm | grep -c ERROR || true\ndone\ncurl -fsS https://%s.internal/health/ready | jq .status\n```\n\n",
			svc, svc, 1+r.IntN(10), svc, svc, svc, 1+r.IntN(30), svc)
	case 1:
		return fmt.Sprintf("```yaml\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: %s\n  labels: {app: %s, tier: %s}\nspec:\n  replicas: %d\n  template:\n    spec:\n      containers:\n        - name: app\n          image: registry.internal/%s:%d.%d.%d\n          resources: {limits: {cpu: %dm, memory: %dMi}}\n```\n\n",
			svc, svc, words[r.IntN(len(words))], 2+r.IntN(10), svc, r.IntN(9), r.IntN(20), r.IntN(50), 100*(1+r.IntN(20)), 128*(1+r.IntN(16)))
	case 2:
		if r.IntN(5) == 0 {
			return "```sql\nSELECT pid, state, wait_event, query FROM pg_stat_activity WHERE state <> 'idle';\n```\n\n"
		}
		return fmt.Sprintf("```sql\n-- %s\nSELECT date_trunc('minute', created_at) AS minute,\n       count(*) FILTER (WHERE status = 'failed') AS failed,\n       count(*) AS total\nFROM %s\nWHERE created_at > now() - interval '%d minutes'\n  AND region IN ('eu-west-1', 'us-east-%d')\nGROUP BY 1\nORDER BY 1 DESC\nLIMIT %d;\n```\n\n",
			sentence(r, 5), table, 1+r.IntN(60), 1+r.IntN(2), 10+r.IntN(90))
	default:
		return fmt.Sprintf("```json\n{\n  \"service\": \"%s\",\n  \"weight\": %d,\n  \"healthy\": %v,\n  \"checks\": [{\"name\": \"%s\", \"threshold_ms\": %d}, {\"name\": \"%s\", \"threshold_ms\": %d}]\n}\n```\n\n",
			svc, r.IntN(100), r.IntN(2) == 0, words[r.IntN(len(words))], 100+r.IntN(900), words[r.IntN(len(words))], 100+r.IntN(900))
	}
}

// Note returns a page without front matter: a heading, prose, a list and
// a command, as the notes teams keep beside their plans.
func Note(r *rand.Rand, i int, svc string) string {
	return fmt.Sprintf("# %s notes %d\n\n%s %s\n\n- %s\n- %s\n\n%s",
		svc, i, sentence(r, 12), sentence(r, 9), sentence(r, 6), sentence(r, 7), codeBlock(r, r.IntN(4), svc))
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
