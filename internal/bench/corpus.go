// Package bench owns the synthetic corpora the benchmarks build: N plans
// as hard to build as real runbooks, and pages without front matter,
// generated deterministically from a seed.
//
// "As hard as real runbooks" is measured against the example plans in
// content/: every kind with every section its kind asks for, front matter
// as long as theirs (change, window, flags, health checks, inputs,
// communication, a migration in a quarter of the plans), fenced blocks
// nested in numbered steps, and no two fenced blocks alike. The last
// matters most: a corpus whose blocks repeat lets every cache keyed by a
// block's text (highlighting, rendering) answer most blocks from the
// first plan that had them, which real runbooks never allow, since each
// names its own hosts, versions, tables and queries.
//
// No plan has a gameday: block. A new or renamed page with one builds the
// whole site, by design (the drills pages list it), and the update tests
// and the benchmark's new-plan figure add copies of generated plans.
package bench

import (
	"fmt"
	"iter"
	"math/rand/v2"
	"os"
	"path"
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
	regions  = []string{"eu-west-1", "eu-central-1", "us-east-1", "us-east-2", "us-west-2", "ap-southeast-1", "ap-northeast-1", "sa-east-1"}
	tables   = []string{"orders", "payments", "ledger_entries", "sessions", "accounts", "shipments", "refunds", "invoices", "carts", "line_items", "customers", "addresses", "tokens", "webhooks", "payouts", "disputes", "stock_levels", "reservations", "search_documents", "notifications"}
	nouns    = []string{"ledger", "region", "currency", "merchant", "status", "reason", "source", "channel", "tenant", "batch", "checksum", "carrier", "locale", "tier", "priority", "reference", "origin", "segment", "bucket", "variant", "quota", "schedule", "device", "account", "risk"}
	suffixes = []string{"ref", "id", "code", "at", "count", "flag", "version", "hash", "kind", "total", "state", "key"}
	colTypes = []string{"text", "bigint", "integer", "boolean", "timestamptz", "jsonb", "uuid", "numeric(12,2)", "varchar(64)", "smallint"}
	routes   = []string{"/v1/payments", "/v1/orders", "/v2/checkout", "/v1/refunds", "/v1/search", "/v1/accounts/{id}", "/v1/sessions", "/v2/invoices", "/v1/stock", "/v1/webhooks", "/v1/quotes", "/v1/shipments/{id}"}
	people   = []string{"incident commander", "service owner", "on-call primary", "database on-call", "release manager", "engineering manager on duty"}
	channels = []string{"#release", "#incidents", "#eng-announce", "#support-escalations", "#status-internal", "#change-board"}

	// words is the vocabulary of the prose: runbooks mix plain English
	// with the names of what they operate, so a search index over them
	// has many distinct terms, not a few dozen.
	//
	// "change" is not among them: the search tests count it as the word
	// of every plan's title and of nothing else.
	words = strings.Fields(`canary rollback traffic error latency budget migration schema replica quorum leader failover drain
		cordon node pod deployment release baseline threshold window alert pager incident commander verify health probe
		readiness liveness etcdHighFsyncDurations kube_pod_status p99 5xx shard index cache warmup throttle backoff retry
		circuit breaker the a of to on in with before after every each until while when then and or not only still
		queue consumer producer partition offset lag replication snapshot backup restore checksum ledger settlement
		reconciliation refund capture authorisation webhook tenant region zone cluster namespace ingress egress gateway
		mesh sidecar envoy certificate rotation secret vault token session cookie header payload schema-registry topic
		kafka postgres redis elasticsearch opensearch memcached nginx haproxy terraform helm argo flagger prometheus grafana
		dashboard panel query exemplar trace span sampling saturation utilisation headroom autoscaler hpa vpa quota limit
		request response timeout deadline idempotency duplicate ordering exactly-once at-least-once drift config flag
		kill-switch experiment cohort percentage ramp freeze approval-board approval sign-off on-call escalation pager-duty
		status-page customer merchant operator finance support engineering platform storage network edge dns ttl resolver
		stale fresh warm cold burst spike plateau regression rollout promote abort pause resume bake soak hold`)
)

// migration is the SQL file a plan's migrations: entry names, which
// Generate writes under content/migrations/.
type migration struct {
	file string // relative to the plan's folder
	sql  string
}

// Generate writes n plans, n/20 pages without front matter (notes, as
// teams keep beside their plans), the migrations the plans name and a
// rollbook.yaml under dir.
func Generate(dir string, n int, seed uint64) error {
	if err := os.MkdirAll(filepath.Join(dir, "content"), 0o755); err != nil {
		return fmt.Errorf("generating the corpus: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "rollbook.yaml"), []byte("title: Synthetic runbooks\nstale_after: 3650d\n"), 0o644); err != nil {
		return fmt.Errorf("generating the corpus: %w", err)
	}
	for _, svc := range services {
		for _, d := range []string{svc, filepath.Join("migrations", svc)} {
			if err := os.MkdirAll(filepath.Join(dir, "content", d), 0o755); err != nil {
				return fmt.Errorf("generating the corpus: %w", err)
			}
		}
	}
	for f := range files(n, seed) {
		if err := os.WriteFile(filepath.Join(dir, "content", filepath.FromSlash(f.path)), []byte(f.text), 0o644); err != nil {
			return fmt.Errorf("generating the corpus: %w", err)
		}
	}
	return nil
}

// file is one file of the corpus, its path relative to content/.
type file struct{ path, text string }

// files yields the corpus Generate writes, in order.
func files(n int, seed uint64) iter.Seq[file] {
	return func(yield func(file) bool) {
		r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
		for i := 0; i < n; i++ {
			svc := services[r.IntN(len(services))]
			text, mig := plan(r, i, svc)
			if !yield(file{path.Join(svc, fmt.Sprintf("plan-%05d.md", i)), text}) {
				return
			}
			if mig != nil && !yield(file{path.Join(svc, mig.file), mig.sql}) {
				return
			}
			if i%20 == 19 && !yield(file{path.Join(svc, fmt.Sprintf("notes-%05d.md", i)), Note(r, i, svc)}) {
				return
			}
		}
	}
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

// Plan returns one synthetic plan: a kind drawn at random, with every
// section that kind asks for at high risk (so every plan passes the
// checks whatever its risk), front matter like the example plans' and
// six to twenty fenced blocks in sh, console, SQL, PromQL, YAML and
// JSON. A plan with a migration names a file that only Generate writes.
func Plan(r *rand.Rand, i int, svc string) string {
	text, _ := plan(r, i, svc)
	return text
}

// Note returns a page without front matter: a heading, prose, a list and
// a command, as the notes teams keep beside their plans.
func Note(r *rand.Rand, i int, svc string) string {
	g := newGen(r, i, svc)
	fmt.Fprintf(&g.b, "# %s notes %d\n\n%s %s\n\n- %s\n- %s\n\n", svc, i, g.sentence(12), g.sentence(9), g.sentence(6), g.sentence(7))
	g.anyBlock("")
	return g.b.String()
}

// gen writes one plan. Its fields are the plan's own names and numbers,
// drawn once, which the prose and every block reuse as a real plan does.
type gen struct {
	r *rand.Rand
	b strings.Builder
	i int

	svc, ns, cluster, region, team string
	kind, risk, infra              string
	from, to, change, flag         string
	table, column, colType, index  string
	dbHost, route, sha             string
	port                           int
	steps                          []int
	interval                       int // seconds
	input                          bool
	class                          string
	mig                            *migration
	inputUsed                      bool
	clock                          int             // minutes into the change window, for the blocks' time stamps
	written                        map[string]bool // the blocks so far, so that none repeats
}

func newGen(r *rand.Rand, i int, svc string) *gen {
	g := &gen{r: r, i: i, svc: svc}
	g.region = g.pick(regions)
	g.ns = svc
	if r.IntN(3) == 0 {
		g.ns = svc + "-" + g.pick([]string{"prod", "live", "core", "v2"})
	}
	g.cluster = fmt.Sprintf("prod-%s-%d", strings.SplitN(g.region, "-", 2)[0], 1+r.IntN(4))
	g.team = g.pick(teams)
	g.from = fmt.Sprintf("%d.%d.%d", 1+r.IntN(9), r.IntN(40), r.IntN(30))
	g.to = fmt.Sprintf("%s.%d.%d", strings.SplitN(g.from, ".", 2)[0], 40+i%60, r.IntN(30))
	g.change = fmt.Sprintf("CHG-%d", 10000+i*7+r.IntN(7))
	g.flag = fmt.Sprintf("%s.%s-%s-%d", svc, g.pick(nouns), g.pick(suffixes), i)
	g.table = g.pick(tables)
	g.column = g.pick(nouns) + "_" + g.pick(suffixes)
	g.colType = g.pick(colTypes)
	g.index = fmt.Sprintf("%s_%s_%d_idx", g.table, g.column, i)
	g.dbHost = fmt.Sprintf("pg-%s-%02d.%s.internal", strings.SplitN(svc, "-", 2)[0], 1+r.IntN(12), g.region)
	g.route = g.pick(routes)
	g.sha = g.hex(12)
	g.port = 8000 + r.IntN(1000)
	// A page without front matter still names a rollout's steps in its blocks.
	g.steps = []int{g.between(1, 50), 100}
	return g
}

func (g *gen) pick(s []string) string { return s[g.r.IntN(len(s))] }

// between returns a number in [lo, hi].
func (g *gen) between(lo, hi int) int { return lo + g.r.IntN(hi-lo+1) }

func (g *gen) hex(n int) string {
	const digits = "0123456789abcdef"
	b := make([]byte, n)
	for i := range b {
		b[i] = digits[g.r.IntN(16)]
	}
	return string(b)
}

// podName is a pod of a Deployment's ReplicaSet, as kubectl prints it.
func (g *gen) podName() string {
	const alnum = "bcdfghjklmnpqrstvwxz2456789"
	b := make([]byte, 5)
	for i := range b {
		b[i] = alnum[g.r.IntN(len(alnum))]
	}
	return fmt.Sprintf("%s-%s-%s", g.svc, g.hex(9), b)
}

func (g *gen) sentence(n int) string {
	ws := make([]string, n)
	for i := range ws {
		ws[i] = g.pick(words)
	}
	// A fifth of the sentences name the plan's own things, as prose does.
	if g.r.IntN(5) == 0 {
		ws[g.r.IntN(n)] = g.pick([]string{"`" + g.svc + "`", g.to, g.change, "`" + g.table + "`", g.region, "`" + g.flag + "`"})
	}
	s := strings.Join(ws, " ")
	return strings.ToUpper(s[:1]) + s[1:] + "."
}

func (g *gen) para(sentences int) string {
	ss := make([]string, sentences)
	for i := range ss {
		ss[i] = g.sentence(g.between(6, 18))
	}
	return strings.Join(ss, " ")
}

func (g *gen) heading(name string) { fmt.Fprintf(&g.b, "## %s\n\n", name) }

// plan writes the whole plan and returns the migration it names, if any.
func plan(r *rand.Rand, i int, svc string) (string, *migration) {
	g := newGen(r, i, svc)
	g.kind = g.pick(kinds)
	g.risk = risks[r.IntN(3)]
	g.infra = []string{"kubernetes", "kubernetes", "kubernetes", "kubernetes", "kubernetes", "vm", "vm", "database", "containers"}[r.IntN(9)]
	if r.IntN(4) == 0 {
		id := fmt.Sprintf("%04d_add_%s_%s", i, g.table, g.column)
		// One migrations folder for the repository, as many teams keep:
		// the path stays right when a plan moves to another folder.
		g.mig = &migration{file: "../migrations/" + svc + "/" + id + ".sql", sql: g.migrationSQL(id)}
	}
	g.input = r.IntN(5) == 0
	g.frontMatter()
	switch g.kind {
	case "rollout":
		g.rollout()
	case "deployment":
		g.deployment()
	case "rollback":
		g.rollbackPlan()
	case "automated-rollback":
		g.automated()
	default:
		g.process()
	}
	if g.input && !g.inputUsed {
		// input-unused: a declared input is used by a block.
		fmt.Fprintf(&g.b, "\n")
		g.consoleBlock("", []string{fmt.Sprintf("kubectl --context {{ .cluster }} -n %s get rollout %s -o jsonpath='{.status.phase}'", g.ns, g.svc)})
	}
	return g.b.String(), g.mig
}

// camel is an alert name's word for a name: payments-api is PaymentsApi.
func camel(s string) string {
	var b strings.Builder
	for _, w := range strings.FieldsFunc(s, func(r rune) bool { return r == '-' || r == '_' }) {
		b.WriteString(strings.ToUpper(w[:1]) + w[1:])
	}
	return b.String()
}

func (g *gen) frontMatter() {
	r := g.r
	b := &g.b
	fmt.Fprintf(b, "---\ntitle: \"%s %s change %d\"\nkind: %s\nservice: %s\nowners: [%s]\n", g.svc, g.pick(words), g.i, g.kind, g.svc, g.team)
	tags := []string{g.pick(topics), g.svc}
	if r.IntN(2) == 0 {
		tags = append(tags, g.pick(topics))
	}
	fmt.Fprintf(b, "tags: [%s]\nenvironments: [staging, production]\ninfrastructure: %s\n", strings.Join(tags, ", "), g.infra)
	ctype := map[string]string{"kubernetes": "application", "vm": "infrastructure", "database": "schema", "containers": "application"}[g.infra]
	if g.mig != nil {
		ctype = "schema"
	}
	fmt.Fprintf(b, "change: {type: %s, from: %q, to: %q, summary: \"%s %s on %s\"}\n", ctype, g.from, g.to, g.pick(nouns), g.pick(words), g.table)
	// Tuesday to Thursday mornings of December 2026: no risky-window warning.
	day := []int{1, 2, 3, 8, 9, 10, 15, 16, 17}[r.IntN(9)]
	fmt.Fprintf(b, "risk: %s\nreviewed: 2026-11-%02d\nwindow: {start: 2026-12-%02dT%02d:%02d:00Z, duration: %dm, downtime: 0s}\n",
		g.risk, 1+r.IntN(28), day, 7+r.IntN(5), 15*r.IntN(4), 30*g.between(1, 6))
	approvals := []string{"tech-lead"}
	if g.risk == "high" {
		approvals = append(approvals, g.pick([]string{"security", "dba", "sre-lead"}), "change-board")
	}
	fmt.Fprintf(b, "approvals: [%s]\n", strings.Join(approvals, ", "))

	strategy := []string{"canary", "canary", "canary", "blue-green", "rolling", "feature-flag"}[r.IntN(6)]
	fmt.Fprintf(b, "strategy:\n  type: %s\n  steps:\n", strategy)
	g.steps = nil
	w := 0
	for n := g.between(2, 4); n > 1; n-- {
		w += g.between(1, (100-w)/n)
		g.steps = append(g.steps, w)
		fmt.Fprintf(b, "    - {weight: %d, bake: %dm}\n", w, 5*g.between(1, 6))
	}
	g.steps = append(g.steps, 100)
	b.WriteString("    - {weight: 100}\n")
	g.interval = []int{30, 60}[r.IntN(2)]
	fmt.Fprintf(b, "analysis: {interval: %s}\n", fmtSeconds(g.interval))

	b.WriteString("triggers:\n")
	// min_requests at or above what the trigger-power rule asks for the delta.
	delta := []int{1, 2, 3, 5}[r.IntN(4)]
	floor := map[int]int{1: 6000, 2: 1500, 3: 700, 5: 250}[delta]
	fmt.Fprintf(b, "  - {metric: error_rate, compare: baseline, max_delta: %d%%, window: %dm, min_requests: %d, consecutive: %d}\n",
		delta, g.between(2, 6), floor+100*r.IntN(20), g.between(1, 3))
	fmt.Fprintf(b, "  - {metric: latency_p%d, max: %dms, window: %dm, consecutive: 2}\n", []int{95, 99}[r.IntN(2)], 50*g.between(4, 30), g.between(2, 8))
	if r.IntN(2) == 0 {
		fmt.Fprintf(b, "  - {metric: health, endpoint: /health/ready, failures: %d}\n", g.between(2, 5))
	}
	if r.IntN(4) == 0 {
		fmt.Fprintf(b, "  - {metric: %s_ratio, query: 'sum(rate(%s_total{service=\"%s\",outcome=\"%s\"}[%dm])) / sum(rate(%s_total{service=\"%s\"}[%dm]))', max: %d%%, window: %dm}\n",
			g.pick(nouns), g.column, g.svc, g.pick([]string{"declined", "failed", "timeout", "rejected"}), g.between(2, 10), g.column, g.svc, g.between(2, 10), g.between(1, 9), g.between(3, 10))
	}
	g.class = "fast"
	auto := r.IntN(3) > 0
	if g.kind == "rollback" && r.IntN(3) == 0 {
		g.class = "complex"
	} else if r.IntN(4) == 0 {
		g.class = "instant"
	}
	fmt.Fprintf(b, "rollback:\n  class: %s\n  target: %dm\n  automatic: %v\n  decision_maker: %s\n", g.class, 5*g.between(1, 9), auto, g.pick(people))
	if auto {
		fmt.Fprintf(b, "  max_automatic: {count: %d, per: %dh}\n", g.between(1, 3), g.between(1, 6))
	}
	if g.mig != nil {
		fmt.Fprintf(b, "migrations:\n  - {id: %q, file: %s, phase: expand, runs: pre-deploy, reversible: true}\n", strings.TrimSuffix(path.Base(g.mig.file), ".sql"), g.mig.file)
	}
	if strategy == "feature-flag" || r.IntN(3) == 0 {
		fmt.Fprintf(b, "flags:\n  - {name: %s, type: %s, default: false, rollout: [1, %d, 100], owner: %s, cleanup: 2027-%02d-%02d}\n",
			g.flag, g.pick([]string{"release", "kill-switch", "experiment", "ops"}), g.between(5, 50), g.team, g.between(2, 12), g.between(1, 28))
	}
	fmt.Fprintf(b, "health_checks:\n  - {name: readiness, type: probe, endpoint: /health/ready, interval: %ds, failure_threshold: %d}\n", 5*g.between(1, 4), g.between(2, 5))
	if r.IntN(2) == 0 {
		fmt.Fprintf(b, "  - {name: smoke, type: post-deploy, command: \"make smoke ENV=production SERVICE=%s SUITE=%s\", failure_threshold: 1}\n", g.svc, g.pick(nouns))
	}
	if g.input {
		fmt.Fprintf(b, "inputs:\n  - {name: cluster, description: the cluster the steps run against, default: %s, example: prod-us-%d, pattern: \"prod-[a-z]+-[0-9]+\"}\n", g.cluster, g.between(1, 4))
	}
	fmt.Fprintf(b, "contacts:\n  primary: \"@%s-oncall\"\n  secondary: \"@%s-oncall\"\n  escalation: [%s-lead, %s]\n", g.svc, g.pick([]string{"platform", "dba", "sre", "edge"}), g.svc, g.pick([]string{"vp-eng", "head-of-platform", "cto"}))
	if r.IntN(2) == 0 {
		b.WriteString("communication:\n")
		for _, when := range []string{"T-24h", "T-0", fmt.Sprintf("T+%dm", 30*g.between(1, 4))}[:g.between(1, 3)] {
			fmt.Fprintf(b, "  - {when: %s, audience: %s, channel: %q, message: \"%s %s %s\"}\n", when, g.pick([]string{"support", "engineering", "finance", "customers"}), g.pick(channels), g.svc, g.to, strings.TrimSuffix(g.sentence(g.between(5, 10)), "."))
		}
	}
	b.WriteString("---\n\n")
}

func fmtSeconds(s int) string {
	if s%60 == 0 {
		return fmt.Sprintf("%dm", s/60)
	}
	return fmt.Sprintf("%ds", s)
}

// highRisk says whether to write the sections only high risk requires:
// always at high risk, at random below it, as teams write more than
// they must.
func (g *gen) highRisk() bool { return g.risk == "high" || g.r.IntN(2) == 0 }

func (g *gen) rollout() {
	g.heading("Executive summary")
	fmt.Fprintf(&g.b, "%s\n\n| | |\n|---|---|\n| When | %s |\n| Duration | %d minutes |\n| Risk | %s: %s |\n| Rollback time | under %d minutes |\n| Affected systems | %s, `%s` table |\n| Change | %s |\n\n",
		g.para(g.between(2, 4)), g.pick([]string{"Tuesday", "Wednesday", "Thursday"}), 30*g.between(1, 6), g.risk, strings.ToLower(g.sentence(6)), 5*g.between(1, 6), g.svc, g.table, g.change)
	g.heading("Prerequisites and approvals")
	fmt.Fprintf(&g.b, "- %s approved %s.\n- Image signed: `cosign verify registry.internal/%s:%s`.\n- %s\n\n", strings.Join([]string{"Tech lead", g.pick(people)}, " and "), g.change, g.svc, g.to, g.sentence(g.between(6, 12)))
	if g.highRisk() {
		g.heading("Go / no-go criteria")
		g.checklist(g.between(3, 6))
		g.heading("Preflight checks")
		g.numbered(g.between(1, 3), false)
	}
	g.heading("Rollout procedure")
	for phase := 1; phase <= g.between(1, 3); phase++ {
		fmt.Fprintf(&g.b, "### Phase %d: %s (%d min)\n\n", phase, g.pick(words), 5*g.between(1, 12))
		g.numbered(g.between(1, 3), true)
	}
	g.heading("Verification signals")
	g.signalTable()
	g.b.WriteString(g.para(1) + "\n\n")
	g.promqlBlock("")
	g.heading("Rollback procedure")
	g.b.WriteString(g.para(1) + "\n\n")
	g.rollbackSteps(g.between(2, 4))
	if g.highRisk() {
		g.heading("Communication plan")
		fmt.Fprintf(&g.b, "%s On a rollback, the %s posts in `%s`: \"%s %s rolled back at HH:MM UTC. %s\"\n\n", g.para(1), g.pick(people), g.pick(channels), g.svc, g.to, g.sentence(8))
		g.heading("Post-deployment tasks")
		g.b.WriteString("| When | Task | Owner |\n|---|---|---|\n")
		for _, when := range []string{"1 h", "24 h", "1 week"} {
			fmt.Fprintf(&g.b, "| %s | %s | %s |\n", when, strings.TrimSuffix(g.sentence(g.between(4, 9)), "."), g.team)
		}
		g.b.WriteString("\n")
		g.heading("Contingency plans")
		g.b.WriteString("| Scenario | Symptoms | Response | Timeline |\n|---|---|---|---|\n")
		for _, s := range []string{"Partial failure", "Degradation", "Data inconsistency", "Dependency failure"} {
			fmt.Fprintf(&g.b, "| %s | %s | %s | %d min |\n", s, strings.TrimSuffix(g.sentence(g.between(4, 8)), "."), strings.TrimSuffix(g.sentence(g.between(4, 8)), "."), 5*g.between(1, 8))
		}
		g.b.WriteString("\n")
	}
	g.heading("Contacts")
	fmt.Fprintf(&g.b, "Primary `@%s-oncall`; escalate to the %s lead. %s\n", g.svc, g.svc, g.sentence(g.between(6, 12)))
}

func (g *gen) deployment() {
	g.heading("Environment matrix")
	g.b.WriteString("| Environment | Version | Cluster | Owner |\n|---|---|---|---|\n")
	fmt.Fprintf(&g.b, "| staging | %s | staging-%s | %s |\n| production | %s | %s | %s |\n\n", g.to, g.region, g.team, g.to, g.cluster, g.team)
	g.goNoGo()
	if g.highRisk() {
		g.heading("Pipeline")
		fmt.Fprintf(&g.b, "- %s\n- %s\n- %s\n\n", g.sentence(g.between(5, 10)), g.sentence(g.between(5, 10)), g.sentence(g.between(5, 10)))
		g.yamlBlock("")
	}
	g.heading("Deployment strategy")
	g.b.WriteString(g.para(g.between(1, 3)) + "\n\n")
	g.yamlBlock("")
	g.heading("Rollback checklist")
	g.rollbackSteps(g.between(2, 5))
	if g.highRisk() {
		g.heading("Feature flag plan")
		fmt.Fprintf(&g.b, "%s\n\n", g.para(1))
		g.jsonBlock("")
	}
	g.heading("Health checks")
	g.b.WriteString("| Check | Endpoint | Threshold |\n|---|---|---|\n")
	for n := g.between(2, 4); n > 0; n-- {
		fmt.Fprintf(&g.b, "| %s | `%s` | %d ms |\n", g.pick(words), g.pick(routes), 50*g.between(2, 20))
	}
	g.b.WriteString("\n")
	g.shBlock("")
	if g.highRisk() || g.mig != nil {
		g.heading("Database migration plan")
		g.b.WriteString(g.para(1) + "\n\n")
		g.sqlBlock("")
	}
}

func (g *gen) rollbackPlan() {
	g.heading("Rollback classification")
	g.b.WriteString(g.para(g.between(1, 3)) + "\n\n")
	g.heading("Go / no-go criteria")
	g.checklist(g.between(2, 5))
	g.heading("Rollback triggers")
	g.signalTable()
	g.promqlBlock("")
	g.heading("Step-by-step rollback procedure")
	g.rollbackSteps(g.between(3, 6))
	// Complex rollbacks need it; the others have it at high risk.
	if g.class == "complex" || g.highRisk() {
		g.heading("Data recovery")
		fmt.Fprintf(&g.b, "%s The backup of `%s` is verified before any step:\n\n", g.para(1), g.table)
		g.consoleBlock("", []string{
			fmt.Sprintf("pg_restore --list /backups/%s/%s-%s.dump | grep -c 'TABLE DATA'", g.svc, g.table, g.sha[:8]),
			fmt.Sprintf("psql -h %s -d %s -Atc \"SELECT count(*) FROM %s WHERE updated_at > '%s'\"", g.dbHost, strings.ReplaceAll(g.svc, "-", "_"), g.table, g.changeTime()),
		})
		g.sqlBlock("")
	}
	if g.highRisk() {
		g.heading("Canary and progressive rollout")
		g.b.WriteString(g.para(1) + "\n\n")
	}
	g.heading("Communication plan")
	fmt.Fprintf(&g.b, "> %s %s is being rolled back to %s. %s\n\n> %s\n\n", g.svc, g.to, g.from, g.sentence(g.between(6, 12)), g.sentence(g.between(6, 12)))
}

func (g *gen) automated() {
	g.heading("Trigger table")
	g.signalTable()
	g.promqlBlock("")
	g.goNoGo()
	g.heading("State machine")
	fmt.Fprintf(&g.b, "%s\n\n", g.para(g.between(1, 3)))
	g.heading("Migration-safety policy")
	fmt.Fprintf(&g.b, "%s\n\n", g.para(g.between(1, 2)))
	g.sqlBlock("")
	if g.highRisk() {
		g.heading("Stuck-state and override")
		g.numbered(g.between(2, 3), true)
	}
	g.heading("Game-day plan")
	fmt.Fprintf(&g.b, "%s\n\n", g.para(1))
	g.yamlBlock("")
}

func (g *gen) process() {
	g.heading("Expectations")
	fmt.Fprintf(&g.b, "%s\n\n", g.para(g.between(1, 3)))
	g.b.WriteString("| Signal | Threshold | Window |\n|---|---|---|\n")
	for j := 0; j < g.between(3, 5); j++ {
		fmt.Fprintf(&g.b, "| %s | %d ms | %d m |\n", g.pick(words), 100+g.r.IntN(900), 1+g.r.IntN(15))
	}
	g.b.WriteString("\n")
	g.heading("Metrics to observe")
	fmt.Fprintf(&g.b, "- %s\n- %s\n- %s\n\n", g.sentence(6), g.sentence(8), g.sentence(5))
	g.promqlBlock("")
	g.goNoGo()
	g.heading("Rollout steps")
	g.numbered(g.between(2, 4), true)
	if g.highRisk() {
		g.heading("Testing scenarios")
		fmt.Fprintf(&g.b, "- %s\n- %s\n\n", g.sentence(7), g.sentence(9))
		g.shBlock("")
		g.heading("Communication")
		fmt.Fprintf(&g.b, "%s\n\n", g.para(1))
		g.heading("Staging and production checks")
		fmt.Fprintf(&g.b, "%s\n\n", g.para(1))
		g.sqlBlock("")
		g.heading("Retro")
		fmt.Fprintf(&g.b, "%s\n", g.para(g.between(2, 4)))
	}
}

func (g *gen) changeTime() string {
	return fmt.Sprintf("2026-12-%02d %02d:%02d:00+00", g.between(1, 17), g.between(7, 12), g.r.IntN(60))
}

// goNoGo writes the criteria every high-risk plan has (the go-no-go
// rule), for the kinds whose sections do not include them.
func (g *gen) goNoGo() {
	if g.risk != "high" {
		return
	}
	g.heading("Go / no-go criteria")
	g.checklist(g.between(2, 5))
}

func (g *gen) checklist(n int) {
	for ; n > 0; n-- {
		if g.r.IntN(2) == 0 {
			fmt.Fprintf(&g.b, "- [ ] %s: `%s` %s\n", strings.TrimSuffix(g.sentence(g.between(4, 9)), "."), g.command(), g.pick([]string{"is empty", "prints ok", "shows no lag", "returns 0"}))
		} else {
			fmt.Fprintf(&g.b, "- [ ] %s\n", g.sentence(g.between(5, 12)))
		}
	}
	g.b.WriteString("\n")
}

func (g *gen) signalTable() {
	g.b.WriteString("| Time after each step | Signal | Healthy |\n|---|---|---|\n")
	for _, t := range []string{"0-2 min", "2-5 min", "5-15 min", "15+ min"} {
		fmt.Fprintf(&g.b, "| %s | %s of `%s %s` | under %d %s |\n", t, g.pick([]string{"5xx rate", "p99 latency", "saturation", "queue lag", "decline rate"}), g.pick([]string{"GET", "POST", "PUT"}), g.pick(routes), g.between(1, 900), g.pick([]string{"ms", "%", "s", "messages"}))
	}
	g.b.WriteString("\n")
}

// numbered writes numbered steps, each an action with its command, most
// with a block nested in the item as the example plans write them.
func (g *gen) numbered(n int, validation bool) {
	for k := 1; k <= n; k++ {
		fmt.Fprintf(&g.b, "%d. %s: `%s`.", k, strings.TrimSuffix(g.sentence(g.between(3, 7)), "."), g.command())
		if validation {
			fmt.Fprintf(&g.b, " Validation: %s (%d min)", strings.ToLower(strings.TrimSuffix(g.sentence(g.between(4, 9)), ".")), g.between(1, 15))
		}
		g.b.WriteString("\n\n")
		if g.r.IntN(4) > 0 {
			g.anyBlock("   ")
		}
	}
}

// rollbackSteps writes steps that pass the rollback-step rule: each an
// exact command and a verification.
func (g *gen) rollbackSteps(n int) {
	for k := 1; k <= n; k++ {
		fmt.Fprintf(&g.b, "%d. %s: `%s`. Verify: %s.\n\n", k, strings.TrimSuffix(g.sentence(g.between(3, 7)), "."), g.command(), strings.ToLower(strings.TrimSuffix(g.sentence(g.between(4, 9)), ".")))
		if g.r.IntN(3) > 0 {
			g.consoleBlock("   ", nil)
		}
	}
}

// anyBlock writes a block of a language drawn as the example plans use
// them: console most, then SQL, sh, PromQL, YAML and JSON.
func (g *gen) anyBlock(indent string) {
	switch l := g.r.IntN(12); {
	case l < 5:
		g.consoleBlock(indent, nil)
	case l < 7:
		g.sqlBlock(indent)
	case l < 8:
		g.shBlock(indent)
	case l < 9:
		g.promqlBlock(indent)
	case l < 11:
		g.yamlBlock(indent)
	default:
		g.jsonBlock(indent)
	}
}

// block writes one fenced block, indented to nest in a list item.
func (g *gen) block(indent, lang, code string) {
	g.inputUsed = g.inputUsed || strings.Contains(code, "{{ .cluster }}")
	if !g.own(code) || g.written[code] {
		// Every block names something of its plan's own, and its place in
		// the plan, as a real session's time stamp does. (JSON, which has
		// no comments, always names the change or the commit.)
		comment := "#"
		if lang == "sql" {
			comment = "--"
		}
		g.clock += g.between(1, 9)
		code = fmt.Sprintf("%s %s, %02d:%02d UTC\n%s", comment, g.change, 7+g.clock/60, g.clock%60, code)
	}
	if g.written == nil {
		g.written = map[string]bool{}
	}
	g.written[code] = true
	g.b.WriteString(indent + "```" + lang + "\n")
	for _, line := range strings.SplitAfter(strings.TrimSuffix(code, "\n"), "\n") {
		if line != "\n" && line != "" {
			g.b.WriteString(indent)
		}
		g.b.WriteString(line)
	}
	g.b.WriteString("\n" + indent + "```\n\n")
}

// own reports whether code names something only this plan has.
func (g *gen) own(code string) bool {
	for _, s := range []string{g.change, g.flag, g.sha, g.index} {
		if strings.Contains(code, s) {
			return true
		}
	}
	return false
}

// clusterRef is the cluster as a command names it: the declared input's
// placeholder in plans that have one.
func (g *gen) clusterRef() string {
	if g.input {
		return "{{ .cluster }}"
	}
	return g.cluster
}

// command is one command line of the plan's infrastructure, with the
// plan's own names and fresh numbers and flags.
func (g *gen) command() string {
	r := g.r
	switch g.infra {
	case "vm":
		host := fmt.Sprintf("%s-%02d.%s", g.svc, 1+r.IntN(24), g.region)
		switch r.IntN(6) {
		case 0:
			return fmt.Sprintf("ansible-playbook %s.yml --tags %s -l %s -e %s_version=%s --diff", g.svc, g.pick([]string{"deploy", "drain", "config", "restart"}), host, strings.ReplaceAll(g.svc, "-", "_"), g.to)
		case 1:
			return fmt.Sprintf("ssh %s sudo systemctl status %s --no-pager -n %d", host, g.svc, g.between(5, 50))
		case 2:
			return fmt.Sprintf("ssh %s 'sudo journalctl -u %s --since \"-%dmin\" | grep -c %s'", host, g.svc, g.between(5, 60), g.pick([]string{"ERROR", "panic", "timeout", "refused"}))
		case 3:
			return fmt.Sprintf("consul maint -enable -service=%s-%d -reason \"%s\"", g.svc, r.IntN(24), g.change)
		case 4:
			return fmt.Sprintf("curl -fsS --max-time %d http://%s:%d/health/ready", g.between(2, 10), host, g.port)
		default:
			return fmt.Sprintf("ssh %s 'sudo apt-get install -y --allow-downgrades %s=%s-%d'", host, g.svc, g.from, g.between(1, 4))
		}
	case "database":
		switch r.IntN(4) {
		case 0:
			return fmt.Sprintf("pg_dump -h %s -Fc -t %s -f /backups/%s/%s-%s.dump %s", g.dbHost, g.table, g.svc, g.table, g.hex(8), strings.ReplaceAll(g.svc, "-", "_"))
		case 1:
			return fmt.Sprintf("psql -h %s -d %s -v ON_ERROR_STOP=1 -f migrations/%04d_%s.sql", g.dbHost, strings.ReplaceAll(g.svc, "-", "_"), g.i, g.column)
		case 2:
			return fmt.Sprintf("patronictl -c /etc/patroni/%s.yml switchover --candidate %s --scheduled '%s' --force", g.svc, strings.Replace(g.dbHost, ".internal", "", 1), g.changeTime())
		default:
			return fmt.Sprintf("psql -h %s -Atc \"SELECT pg_size_pretty(pg_total_relation_size('%s'))\"", g.dbHost, g.table)
		}
	case "containers":
		switch r.IntN(3) {
		case 0:
			return fmt.Sprintf("nomad job run -check-index %d jobs/%s.nomad.hcl", 1000+r.IntN(900000), g.svc)
		case 1:
			return fmt.Sprintf("nomad job revert -verbose %s %d", g.svc, g.between(1, 90))
		default:
			return fmt.Sprintf("docker service update --image registry.internal/%s:%s --update-parallelism %d --update-delay %ds %s_%s", g.svc, g.to, g.between(1, 4), 5*g.between(1, 12), g.ns, strings.ReplaceAll(g.svc, "-", "_"))
		}
	}
	switch r.IntN(12) {
	case 0:
		return fmt.Sprintf("kubectl --context %s -n %s argo rollouts set image %s app=registry.internal/%s:%s", g.clusterRef(), g.ns, g.svc, g.svc, g.to)
	case 1:
		return fmt.Sprintf("kubectl -n %s argo rollouts abort %s", g.ns, g.svc)
	case 2:
		return fmt.Sprintf("kubectl -n %s argo rollouts promote %s%s", g.ns, g.svc, g.pick([]string{"", " --full"}))
	case 3:
		return fmt.Sprintf("kubectl -n %s rollout status deploy/%s-%s --timeout=%dm", g.ns, g.svc, g.pick([]string{"worker", "api", "consumer", "cron"}), g.between(2, 15))
	case 4:
		return fmt.Sprintf("kubectl -n %s get pods -l app=%s,release=%s -o wide", g.ns, g.svc, g.pick([]string{"canary", "stable"}))
	case 5:
		return fmt.Sprintf("kubectl -n %s create job migrate-%04d-%s --from=cronjob/%s-migrate", g.ns, g.i, g.hex(4), g.svc)
	case 6:
		return fmt.Sprintf("helm -n %s upgrade %s charts/%s --version %s --set image.tag=%s --atomic --timeout %dm", g.ns, g.svc, g.svc, g.to, g.to, g.between(3, 15))
	case 7:
		return fmt.Sprintf("helm -n %s rollback %s %d --wait --timeout %dm", g.ns, g.svc, g.between(2, 140), g.between(3, 15))
	case 8:
		return fmt.Sprintf("flagctl %s %s %s", g.pick([]string{"set", "get", "rollout"}), g.flag, g.pick([]string{"false", "true", "--steps 1,10,100 --interval 5m", "--env production"}))
	case 9:
		return fmt.Sprintf("kubectl -n %s scale deploy/%s --replicas=%d", g.ns, g.svc, g.between(2, 60))
	case 10:
		return fmt.Sprintf("curl -fsS -H 'X-Request-Id: %s' https://%s.%s.internal%s/health/ready", g.hex(16), g.svc, g.clusterRef(), "")
	default:
		return fmt.Sprintf("kubectl -n %s logs deploy/%s --since=%dm | grep -c '%s'", g.ns, g.svc, g.between(2, 60), g.pick([]string{"level=error", "panic:", "context deadline exceeded", "connection refused", "status=5"}))
	}
}

// output is what a command prints, as console blocks show it.
func (g *gen) output(cmd string) []string {
	r := g.r
	switch {
	case strings.Contains(cmd, "get pods"):
		out := []string{"NAME                                  READY   STATUS    RESTARTS   AGE     IP            NODE"}
		for n := g.between(2, 4); n > 0; n-- {
			out = append(out, fmt.Sprintf("%-37s 1/1     Running   %d          %dm     10.%d.%d.%d   ip-10-%d-%d-%d", g.podName(), r.IntN(3), g.between(1, 90), r.IntN(255), r.IntN(255), r.IntN(255), r.IntN(255), r.IntN(255), r.IntN(255)))
		}
		return out
	case strings.Contains(cmd, "set image"):
		return []string{fmt.Sprintf("rollout \"%s\" image updated", g.svc)}
	case strings.Contains(cmd, "abort"):
		return []string{fmt.Sprintf("rollout '%s' aborted", g.svc)}
	case strings.Contains(cmd, "rollout status"):
		return []string{fmt.Sprintf("Waiting for deployment spec update to be observed... %d of %d updated replicas are available...", g.between(1, 5), g.between(6, 12)), "deployment successfully rolled out"}
	case strings.Contains(cmd, "create job"):
		return []string{"job.batch/" + strings.Fields(cmd)[5] + " created"}
	case strings.Contains(cmd, "helm"):
		return []string{fmt.Sprintf("Release %q has been upgraded. Happy Helming!", g.svc), fmt.Sprintf("NAME: %s", g.svc), fmt.Sprintf("LAST DEPLOYED: Tue Dec  %d %02d:%02d:%02d 2026", g.between(1, 9), g.between(7, 12), r.IntN(60), r.IntN(60)), fmt.Sprintf("NAMESPACE: %s", g.ns), fmt.Sprintf("REVISION: %d", g.between(2, 140))}
	case strings.Contains(cmd, "grep -c"), strings.Contains(cmd, "count(*)"):
		return []string{fmt.Sprint(r.IntN(40))}
	case strings.Contains(cmd, "health"):
		return []string{"ok"}
	case strings.Contains(cmd, "systemctl"):
		return []string{fmt.Sprintf("● %s.service - %s", g.svc, g.sentence(3)), fmt.Sprintf("     Active: active (running) since Tue 2026-12-%02d %02d:%02d:%02d UTC; %dmin ago", g.between(1, 9), g.between(7, 12), r.IntN(60), r.IntN(60), g.between(1, 50)), fmt.Sprintf("   Main PID: %d (%s)", 1000+r.IntN(60000), g.svc)}
	case strings.Contains(cmd, "pg_size_pretty"):
		return []string{fmt.Sprintf("%d GB", g.between(1, 900))}
	case strings.Contains(cmd, "flagctl get"):
		return []string{g.pick([]string{"true", "false"})}
	}
	return nil
}

// consoleBlock writes commands with their output; cmds nil draws one to
// three of the plan's commands.
func (g *gen) consoleBlock(indent string, cmds []string) {
	if cmds == nil {
		for n := g.between(1, 3); n > 0; n-- {
			cmds = append(cmds, g.command())
		}
	}
	var b strings.Builder
	for _, c := range cmds {
		fmt.Fprintf(&b, "$ %s\n", c)
		for _, o := range g.output(c) {
			b.WriteString(o + "\n")
		}
	}
	g.block(indent, "console", b.String())
}

func (g *gen) shBlock(indent string) {
	r := g.r
	var code string
	switch r.IntN(4) {
	case 0:
		code = fmt.Sprintf(`set -euo pipefail
ns=%s
for pod in $(kubectl -n "$ns" get pods -l app=%s,release=%s -o name); do
  errors=$(kubectl -n "$ns" logs "$pod" --since=%dm | grep -c '%s' || true)
  echo "$pod $errors"
done | sort -k2 -n -r | head -n %d
`, g.ns, g.svc, g.pick([]string{"canary", "stable"}), g.between(2, 60), g.pick([]string{"level=error", "panic", "timeout", "status=5"}), g.between(3, 20))
	case 1:
		code = fmt.Sprintf(`# wait until every replica of %s answers ready (%s)
for i in $(seq 1 %d); do
  if curl -fsS --max-time %d "https://%s.%s.internal/health/ready" | jq -e '.status == "ok"' >/dev/null; then
    echo "ready after $i tries"; exit 0
  fi
  sleep %d
done
echo "%s %s not ready" >&2; exit 1
`, g.svc, g.change, g.between(10, 120), g.between(2, 10), g.svc, g.clusterRef(), g.between(2, 15), g.svc, g.to)
	case 2:
		code = fmt.Sprintf(`# backfill %s.%s in batches of %d, %s
while :; do
  n=$(psql -h %s -d %s -Atc "WITH b AS (SELECT id FROM %s WHERE %s IS NULL ORDER BY id LIMIT %d FOR UPDATE SKIP LOCKED) UPDATE %s t SET %s = %s FROM b WHERE t.id = b.id RETURNING 1" | wc -l)
  [ "$n" -eq 0 ] && break
  sleep %s
done
`, g.table, g.column, 500*g.between(1, 20), g.change, g.dbHost, strings.ReplaceAll(g.svc, "-", "_"), g.table, g.column, 500*g.between(1, 20), g.table, g.column, g.pick([]string{"DEFAULT", "0", "''", "now()", "false"}), g.pick([]string{"0.1", "0.5", "1", "2"}))
	default:
		hosts := make([]string, g.between(2, 6))
		for k := range hosts {
			hosts[k] = fmt.Sprintf("%s-%02d", g.svc, 1+r.IntN(40))
		}
		code = fmt.Sprintf(`# drain, upgrade and return each host to the pool (%s)
for h in %s; do
  ssh "$h" sudo systemctl reload %s-drain
  until [ "$(ssh "$h" ss -Htn state established '( sport = :%d )' | wc -l)" -lt %d ]; do sleep %d; done
  ansible-playbook %s.yml --tags upgrade -l "$h" -e version=%s
done
`, g.change, strings.Join(hosts, " "), g.svc, g.port, g.between(5, 50), g.between(2, 10), g.svc, g.to)
	}
	g.block(indent, g.pick([]string{"sh", "bash"}), code)
}

func (g *gen) sqlBlock(indent string) {
	r := g.r
	var code string
	switch r.IntN(7) {
	case 0:
		code = fmt.Sprintf(`-- %s
SELECT date_trunc('minute', created_at) AS minute,
       count(*) FILTER (WHERE %s = '%s') AS %s,
       count(*) AS total
FROM %s
WHERE created_at > now() - interval '%d minutes'
  AND region IN ('%s', '%s')
GROUP BY 1
ORDER BY 1 DESC
LIMIT %d;
`, g.sentence(5), g.column, g.pick(words), g.pick(nouns), g.table, g.between(1, 120), g.region, g.pick(regions), g.between(10, 500))
	case 1:
		code = fmt.Sprintf(`SELECT client_addr, state, sync_state,
       pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn) AS lag_bytes,
       now() - pg_last_xact_replay_timestamp() AS lag
FROM pg_stat_replication
WHERE application_name = '%s'
  AND pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn) > %d;
`, strings.Replace(g.dbHost, ".internal", "", 1), 1024*g.between(1, 4096))
	case 2:
		code = fmt.Sprintf(`SELECT l.pid, l.mode, l.granted, a.state,
       now() - a.query_start AS running_for, left(a.query, %d) AS query
FROM pg_locks l
JOIN pg_stat_activity a USING (pid)
WHERE l.relation = '%s'::regclass
  AND (NOT l.granted OR now() - a.query_start > interval '%d seconds')
ORDER BY a.query_start;
`, 40+r.IntN(80), g.table, g.between(1, 120))
	case 3:
		code = fmt.Sprintf(`SELECT column_name, data_type, is_nullable
  FROM information_schema.columns
 WHERE table_name = '%s' AND column_name = '%s';
SELECT indisvalid, indisready FROM pg_index WHERE indexrelid = '%s'::regclass;
`, g.table, g.column, g.index)
	case 4:
		code = fmt.Sprintf(`SELECT count(*) AS filled, count(*) FILTER (WHERE %s IS NULL) AS missing
  FROM %s
 WHERE created_at > now() - interval '%d min'
   AND tenant_id = %d;
`, g.column, g.table, g.between(1, 90), g.between(1, 99999))
	case 5:
		code = fmt.Sprintf(`EXPLAIN (ANALYZE, BUFFERS)
SELECT o.id, o.%s, c.%s
  FROM %s o
  JOIN %s c ON c.id = o.%s_id
 WHERE o.%s = $1
   AND o.created_at >= '%s'
 ORDER BY o.created_at DESC
 LIMIT %d;
`, g.column, g.pick(nouns)+"_"+g.pick(suffixes), g.table, g.pick(tables), g.pick(nouns), g.column, g.changeTime(), g.between(10, 200))
	default:
		code = fmt.Sprintf(`SELECT relname, n_live_tup, n_dead_tup,
       round(100.0 * n_dead_tup / greatest(n_live_tup, 1), %d) AS dead_pct,
       last_autovacuum
  FROM pg_stat_user_tables
 WHERE relname IN ('%s', '%s')
   AND n_dead_tup > %d;
`, g.between(1, 3), g.table, g.pick(tables), 1000*g.between(1, 900))
	}
	g.block(indent, "sql", code)
}

func (g *gen) promqlBlock(indent string) {
	var b strings.Builder
	for n := g.between(1, 3); n > 0; n-- {
		w := fmt.Sprintf("%dm", g.between(1, 15))
		switch g.r.IntN(6) {
		case 0:
			fmt.Fprintf(&b, "# 5xx ratio of the canary minus the stable release's, over %s\n", w)
			fmt.Fprintf(&b, "sum(rate(http_requests_total{service=%q,release=\"canary\",code=~\"5..\"}[%s]))\n  / sum(rate(http_requests_total{service=%q,release=\"canary\"}[%s]))\n- sum(rate(http_requests_total{service=%q,release=\"stable\",code=~\"5..\"}[%s]))\n  / sum(rate(http_requests_total{service=%q,release=\"stable\"}[%s]))\n", g.svc, w, g.svc, w, g.svc, w, g.svc, w)
		case 1:
			fmt.Fprintf(&b, "# p%d latency of %s on %s\n", []int{50, 95, 99}[g.r.IntN(3)], g.route, g.svc)
			fmt.Fprintf(&b, "histogram_quantile(0.%d, sum by (le) (rate(http_request_duration_seconds_bucket{service=%q,route=%q,release=%q}[%s])))\n", []int{5, 95, 99}[g.r.IntN(3)], g.svc, g.route, g.pick([]string{"canary", "stable"}), w)
		case 2:
			fmt.Fprintf(&b, "sum by (pod) (rate(container_cpu_usage_seconds_total{namespace=%q,pod=~\"%s-.*\",container!=\"\"}[%s]))\n  / sum by (pod) (kube_pod_container_resource_limits{namespace=%q,resource=\"cpu\"}) > 0.%d\n", g.ns, g.svc, w, g.ns, g.between(5, 95))
		case 3:
			fmt.Fprintf(&b, "max_over_time(pg_replication_lag_seconds{instance=\"%s:9187\"}[%s]) > %d\n", g.dbHost, w, g.between(1, 120))
		case 4:
			fmt.Fprintf(&b, "increase(kube_pod_container_status_restarts_total{namespace=%q,container=%q}[%s]) > %d\n", g.ns, g.pick([]string{"app", "sidecar", "migrate", g.svc}), w, g.r.IntN(5))
		default:
			fmt.Fprintf(&b, "sum(rate(%s_total{service=%q,outcome=%q}[%s]))\n  / sum(rate(%s_total{service=%q}[%s]))\n  > %d * sum(rate(%s_total{service=%q,outcome=%q}[%s] offset 1w))\n", g.column, g.svc, g.pick([]string{"declined", "failed", "timeout"}), w, g.column, g.svc, w, g.between(2, 5), g.column, g.svc, "declined", w)
		}
		if n > 1 {
			b.WriteString("\n")
		}
	}
	g.block(indent, "promql", b.String())
}

func (g *gen) yamlBlock(indent string) {
	r := g.r
	var code string
	switch r.IntN(4) {
	case 0:
		var steps strings.Builder
		for _, w := range g.steps[:len(g.steps)-1] {
			fmt.Fprintf(&steps, "        - setWeight: %d\n        - pause: {duration: %dm}\n", w, 5*g.between(1, 6))
		}
		code = fmt.Sprintf(`apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata:
  name: %s
  namespace: %s
  annotations: {ticket: %s}
spec:
  replicas: %d
  strategy:
    canary:
      analysis:
        templates: [{templateName: %s-%s}]
      steps:
%s  template:
    spec:
      containers:
        - name: app
          image: registry.internal/%s:%s
          resources: {requests: {cpu: %dm, memory: %dMi}, limits: {memory: %dMi}}
`, g.svc, g.ns, g.change, g.between(2, 40), g.svc, g.pick(words), steps.String(), g.svc, g.to, 50*g.between(1, 40), 64*g.between(1, 32), 128*g.between(1, 32))
	case 1:
		code = fmt.Sprintf(`apiVersion: monitoring.coreos.com/v1
kind: PrometheusRule
metadata: {name: %s-%s, namespace: %s}
spec:
  groups:
    - name: %s.rules
      rules:
        - alert: %s%sHigh
          expr: sum(rate(http_requests_total{service="%s",code=~"5.."}[%dm])) / sum(rate(http_requests_total{service="%s"}[%dm])) > 0.%02d
          for: %dm
          labels: {severity: %s, team: %s}
          annotations:
            summary: %s
            runbook_url: https://runbooks.internal/%s/plan-%05d/
`, g.svc, g.pick(topics), g.ns, g.svc, camel(g.svc), camel(g.column), g.svc, g.between(1, 10), g.svc, g.between(1, 10), g.between(1, 20), g.between(1, 15), g.pick([]string{"page", "ticket", "critical", "warning"}), g.team, strings.TrimSuffix(g.sentence(g.between(4, 9)), "."), g.svc, g.i)
	case 2:
		code = fmt.Sprintf(`# values-production.yaml for %s %s
image:
  repository: registry.internal/%s
  tag: "%s"
replicaCount: %d
env:
  %s_%s: "%d"
  DATABASE_HOST: %s
  FEATURE_%s: "%v"
podDisruptionBudget: {minAvailable: %d}
autoscaling: {enabled: true, minReplicas: %d, maxReplicas: %d, targetCPUUtilizationPercentage: %d}
`, g.svc, g.change, g.svc, g.to, g.between(2, 30), strings.ToUpper(g.pick(nouns)), strings.ToUpper(g.pick(suffixes)), g.between(1, 5000), g.dbHost, strings.ToUpper(strings.ReplaceAll(g.column, "-", "_")), r.IntN(2) == 0, g.between(1, 5), g.between(2, 10), g.between(10, 120), g.between(40, 90))
	default:
		code = fmt.Sprintf(`# %s inventory, %s
all:
  vars:
    %s_version: "%s"
    %s_previous: "%s"
    drain_timeout: %ds
  children:
    %s_%s:
      hosts:
        %s-%02d.%s: {weight: %d}
        %s-%02d.%s: {weight: %d}
`, g.svc, g.change, strings.ReplaceAll(g.svc, "-", "_"), g.to, strings.ReplaceAll(g.svc, "-", "_"), g.from, 30*g.between(1, 20), strings.ReplaceAll(g.svc, "-", "_"), strings.ReplaceAll(g.region, "-", "_"), g.svc, g.between(1, 40), g.region, g.between(1, 100), g.svc, g.between(41, 80), g.region, g.between(1, 100))
	}
	g.block(indent, "yaml", code)
}

func (g *gen) jsonBlock(indent string) {
	var code string
	switch g.r.IntN(3) {
	case 0:
		code = fmt.Sprintf(`{
  "flag": %q,
  "owner": %q,
  "variations": [false, true],
  "rules": [
    {"segment": %q, "rollout": {"true": %d, "false": %d}},
    {"segment": "internal-%s", "serve": true}
  ],
  "ticket": %q
}
`, g.flag, g.team, g.pick(nouns)+"-"+g.pick(suffixes), g.between(1, 99), 0, g.region, g.change)
	case 1:
		code = fmt.Sprintf(`{
  "method": "POST",
  "path": %q,
  "headers": {"Idempotency-Key": %q, "X-Ticket": %q},
  "body": {%q: %d, %q: %q, "currency": %q},
  "expect": {"status": %d, "max_ms": %d}
}
`, g.route, g.hex(24), g.change, g.column, g.between(1, 99999), g.pick(nouns), g.pick(words), g.pick([]string{"EUR", "USD", "GBP", "JPY", "BRL"}), []int{200, 201, 202, 204}[g.r.IntN(4)], 50*g.between(1, 40))
	default:
		code = fmt.Sprintf(`{
  "service": %q,
  "release": %q,
  "commit": %q,
  "weight": %d,
  "healthy": %v,
  "checks": [{"name": %q, "threshold_ms": %d}, {"name": %q, "threshold_ms": %d}]
}
`, g.svc, g.to, g.sha, g.between(0, 100), g.r.IntN(2) == 0, g.pick(words), 100+g.r.IntN(900), g.pick(words), 100+g.r.IntN(900))
	}
	g.block(indent, "json", code)
}

// migrationSQL is an expand-only migration: a nullable column, its index
// built concurrently, sometimes a side table, with the lock timeout the
// lock rules ask for.
func (g *gen) migrationSQL(id string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "-- %s: %s (%s)\nSET lock_timeout = '%ds';\n\nALTER TABLE %s ADD COLUMN IF NOT EXISTS %s %s;\n", id, g.sentence(g.between(4, 8)), g.change, g.between(1, 10), g.table, g.column, g.colType)
	if g.r.IntN(2) == 0 {
		fmt.Fprintf(&b, "\nCREATE TABLE IF NOT EXISTS %s_%s_%d (\n    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,\n    %s_id bigint NOT NULL,\n    %s %s,\n    created_at timestamptz NOT NULL DEFAULT now()\n);\n", g.table, g.pick(nouns), g.i, strings.TrimSuffix(g.table, "s"), g.column, g.colType)
	}
	fmt.Fprintf(&b, "\nCREATE INDEX CONCURRENTLY IF NOT EXISTS %s ON %s (%s)%s;\n", g.index, g.table, g.column, g.pick([]string{"", " WHERE " + g.column + " IS NOT NULL"}))
	return b.String()
}
