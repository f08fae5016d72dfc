package site

import (
	"context"
	"html"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/rollbook/rollbook/internal/drillreport"
	"github.com/rollbook/rollbook/internal/golden"
)

// whatUsersSawReport is a failed drill with every part of SPEC 3.3: the
// headline, the migrations as run, the impact per phase, the blast radius
// and more failing responses than are shown (one body with markup). Its
// second interval has the service's own sample, the first not.
const whatUsersSawReport = `{"plan":"content/payments/api-canary.md","scenario":"incompatible-migration","started":"2026-11-21T10:00:00Z","passed":false,"final_state":"rolled-back",
	"headline":"migration 0107_drop_orders_legacy_status broke the stable release (example-orders:5.9.2) while it served 95 % of traffic: GET /orders → 500 \"column legacy_status does not exist\"",
	"migrations":[
		{"id":"0042_add_ledger_ref","file":"migrations/0042_add_ledger_ref.sql","runs":"pre-deploy","when":"pre-deploy: before step 1","applied":true,"canary_weight":0,"guard":[{"release":"stable","passed":true,"share":100}]},
		{"id":"0107_drop_orders_legacy_status","file":"migrations/0107.sql","runs":"during-deploy","at_step":1,"when":"during-deploy at step 1","contract":true,"applied":true,"canary_weight":5,
		 "guard":[{"release":"stable","passed":false,"share":95,"detail":"GET /orders?limit=1 answered 500, want 200"},{"release":"canary","passed":true,"share":5}]},
		{"id":"0108_vacuum","file":"migrations/0108.sql","runs":"manual","when":"manual","applied":false,"canary_weight":0}],
	"impact":[
		{"phase":"before-trigger","from_ns":0,"to_ns":3000000000,"requests":2480.4,"failed":2231.6,"error_rate":0.89984,"p99_seconds":0.0874},
		{"phase":"rolling-back","from_ns":3000000000,"to_ns":3500000000,"requests":320,"failed":301,"error_rate":0.9406,"p99_seconds":0.0912},
		{"phase":"after","from_ns":3500000000,"to_ns":9000000000,"requests":5000,"failed":0,"error_rate":0,"p99_seconds":0.0045},
		{"phase":"whole-drill","from_ns":0,"to_ns":9000000000,"requests":7800,"failed":2533,"error_rate":0.32474,"p99_seconds":0.0921}],
	"blast_radius":2532.6,
	"failures":[
		{"release":"stable","method":"GET","path":"/orders?limit=1","status":500,"body":"{\"error\":\"column legacy_status does not exist\",\"hint\":\"<script>alert(1)</script>\"}"},
		{"release":"stable","method":"POST","path":"/orders","status":500,"body":"second"},
		{"release":"canary","method":"GET","path":"/stats","status":502,"body":"third"},
		{"release":"stable","method":"GET","path":"/orders/4","status":500,"body":"fourth"},
		{"release":"stable","method":"GET","path":"/orders/5","status":500,"body":"fifth"},
		{"release":"stable","method":"GET","path":"/orders/6","status":500,"body":"sixth"}],
	"timeline":[{"at_ns":900000000,"type":"trigger","message":"trigger fired"}],
	"intervals":[{"at_ns":250000000,"stable":{"requests":100,"error_rate":0.5,"p99_seconds":0.1},"canary":{"requests":60,"error_rate":0.1,"p99_seconds":0.12}},
		{"at_ns":500000000,"stable":{"requests":100,"error_rate":0.9,"p99_seconds":0.1},"canary":{"requests":60,"error_rate":0.0,"p99_seconds":0.12},"service":{"requests":160,"error_rate":0.5625,"p99_seconds":0.11}}]}`

// drillSite is the basic site with the given reports of its canary plan.
func drillSite(t *testing.T, reports map[string]string) string {
	t.Helper()
	root := copyTree(t, "testdata/basic")
	dir := filepath.Join(root, "drills", "payments-api-canary")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, body := range reports {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

var (
	tagRE   = regexp.MustCompile(`<[^>]*>`)
	spaceRE = regexp.MustCompile(`[\s\x{00a0}]+`)
)

// visibleText is a page's text as a person reads it: no markup, entities
// decoded, any run of spaces one space.
func visibleText(page string) string {
	page = regexp.MustCompile(`(?s)<(script|style|svg)\b.*?</(script|style|svg)>`).ReplaceAllString(page, " ")
	return strings.TrimSpace(spaceRE.ReplaceAllString(html.UnescapeString(tagRE.ReplaceAllString(page, " ")), " "))
}

// gamedayPanel is the plan page's Game day panel.
func gamedayPanel(t *testing.T, page string) string {
	t.Helper()
	i := strings.Index(page, `<section class="panel panel-gameday"`)
	if i < 0 {
		t.Fatal("no Game day panel")
	}
	j := strings.Index(page[i:], "</section>")
	return page[i : i+j+len("</section>")]
}

// A failed drill says what users saw: the outage and its cause first,
// then the migrations as run, the impact per phase, the blast radius and
// the first failing responses, each body escaped.
func TestDrillResultShowsWhatUsersSaw(t *testing.T) {
	root := drillSite(t, map[string]string{"1-incompatible-migration.json": whatUsersSawReport})
	if _, err := build(t, root, nil); err != nil {
		t.Fatal(err)
	}
	page := read(t, root, "payments/api-canary/index.html")
	panel := gamedayPanel(t, page)
	text := visibleText(panel)
	for _, want := range []string{
		// The headline, before the table of results.
		`incompatible-migration failed: migration 0107_drop_orders_legacy_status broke the stable release (example-orders:5.9.2) while it served 95 % of traffic: GET /orders → 500 "column legacy_status does not exist" Scenario Last result`,
		// Migrations: when, applied or not, the canary's weight, each
		// release's smoke verdict.
		"Migration When Applied Canary weight Smoke checks after it",
		"0042_add_ledger_ref pre-deploy: before step 1 applied 0 % pass stable (100 % of traffic)",
		"0107_drop_orders_legacy_status contract during-deploy at step 1 applied 5 % fail stable (95 % of traffic): GET /orders?limit=1 answered 500, want 200 pass canary (5 % of traffic)",
		"0108_vacuum manual not applied: manual – –",
		// What users saw, per phase, and the blast radius.
		"What users saw Phase Requests Failed Error rate p99",
		"before the trigger 2480 2232 89.98 % 87 ms",
		"rolling back 320 301 94.06 % 91 ms",
		"after the rollback 5000 0 0 % 4.5 ms",
		"whole drill 7800 2533 32.47 % 92 ms",
		"2533 requests failed before the rollback completed.",
		// The first five failing responses, bodies as text.
		`First failing responses GET /orders?limit=1 → 500 from stable {"error":"column legacy_status does not exist","hint":"<script>alert(1)</script>"} POST /orders → 500 from stable second`,
		"GET /orders/5 → 500 from stable fifth",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("the Game day panel does not read %q; it reads:\n%s", want, text)
		}
	}
	if strings.Contains(text, "sixth") {
		t.Error("more than five failing responses shown")
	}
	// The body's markup is text: escaped by html/template, never markup.
	if strings.Contains(panel, "<script>") || !strings.Contains(panel, `&lt;script&gt;alert(1)&lt;/script&gt;`) {
		t.Errorf("a failing response's body is not escaped:\n%s", panel)
	}
	// The chart draws the service's error rate beside each release's, from
	// the recorded sample and, where there is none, from both releases.
	if !strings.Contains(panel, `class="series-service"`) || !strings.Contains(panel, `class="legend-service"`) {
		t.Error("the drill chart has no line for the whole service")
	}
	// The dashboard names the outage beside the failed drill.
	dash := visibleText(read(t, root, "drills/index.html"))
	if !strings.Contains(dash, "incompatible-migration failed: migration 0107_drop_orders_legacy_status broke the stable release") {
		t.Errorf("the drills dashboard does not name the outage:\n%s", dash)
	}

	// Unminified, the panel is a golden file: review its diff.
	if err := os.WriteFile(filepath.Join(root, "rollbook.yaml"), []byte("title: Test runbooks\nminify: false\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := build(t, root, func(o *Options) { o.Force = true }); err != nil {
		t.Fatal(err)
	}
	golden.Check(t, filepath.Join("testdata", "golden", "drill-result-panel.html"), []byte(gamedayPanel(t, read(t, root, "payments/api-canary/index.html"))))
}

// A report from before SPEC 3.3 shows no headline, migrations, impact or
// failures, not even their headings; a passing drill's headline is not
// shown as an outage.
func TestDrillResultWithoutTheNewFields(t *testing.T) {
	passed := strings.Replace(whatUsersSawReport, `"passed":false`, `"passed":true`, 1)
	passed = strings.Replace(passed, `"incompatible-migration"`, `"healthy-canary"`, 1)
	root := drillSite(t, map[string]string{
		"1-freeze.json":  `{"plan":"content/payments/api-canary.md","scenario":"freeze","started":"2026-11-20T10:01:00Z","passed":false,"final_state":"halted","intervals":[{"at_ns":250000000,"stable":{"requests":100,"error_rate":0.01,"p99_seconds":0.1},"canary":{"requests":0}},{"at_ns":500000000,"stable":{"requests":100,"error_rate":0.02,"p99_seconds":0.1},"canary":{"requests":0}}]}`,
		"2-healthy.json": passed,
	})
	if _, err := build(t, root, nil); err != nil {
		t.Fatal(err)
	}
	panel := gamedayPanel(t, read(t, root, "payments/api-canary/index.html"))
	if strings.Contains(panel, "drill-headline") || strings.Contains(panel, " failed: ") {
		t.Errorf("a headline shown for a passing drill or a report without one:\n%s", panel)
	}
	if strings.Count(panel, `class="drill-result"`) != 1 {
		t.Errorf("want the passing drill's impact alone:\n%s", panel)
	}
	// The freeze drill's part: from its chart to the passing drill's result.
	freeze := panel[strings.Index(panel, "freeze: error rate"):]
	freeze = freeze[:strings.Index(freeze, `class="drill-result"`)]
	for _, absent := range []string{"Migrations", "What users saw", "First failing responses", "requests failed"} {
		if strings.Contains(freeze, absent) {
			t.Errorf("an old report shows %q", absent)
		}
	}
	// Its chart still draws what users saw, from the stable release alone.
	if !strings.Contains(freeze, `class="series-service"`) {
		t.Error("an old report's chart has no service line")
	}
	if strings.Contains(read(t, root, "drills/index.html"), "drill-headline") {
		t.Error("the dashboard shows a headline no failed drill has")
	}
}

// With the build cache warm, a report whose new fields change (a drill
// run again) gives the page a build without the cache gives.
func TestDrillResultFollowsReportsThroughTheCache(t *testing.T) {
	root := drillSite(t, map[string]string{"1-incompatible-migration.json": whatUsersSawReport})
	cache := filepath.Join(t.TempDir(), "cache")
	run := func(out, cacheDir string) (string, int64) {
		t.Helper()
		b, err := New(Options{Root: root, Now: testNow, OutDir: filepath.Join(root, out), CacheDir: cacheDir, Force: true})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := b.Build(context.Background()); err != nil {
			t.Fatal(err)
		}
		return treeHash(t, filepath.Join(root, out)), b.memoHits.Load()
	}
	run("fill", cache)
	if _, hits := run("warm", cache); hits == 0 {
		t.Fatal("an unchanged build took no page from the cache")
	}
	file := filepath.Join(root, "drills", "payments-api-canary", "1-incompatible-migration.json")
	for _, edit := range [][2]string{
		{"while it served 95 % of traffic", "while it served 90 % of traffic"},
		{`"blast_radius":2532.6`, `"blast_radius":12`},
		{`"body":"fifth"`, `"body":"5th"`},
		{`"phase":"after","from_ns":3500000000,"to_ns":9000000000,"requests":5000`, `"phase":"after","from_ns":3500000000,"to_ns":9000000000,"requests":5001`},
		{`"release":"canary","passed":true,"share":5}`, `"release":"canary","passed":false,"share":5}`},
	} {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		changed := strings.Replace(string(data), edit[0], edit[1], 1)
		if changed == string(data) {
			t.Fatalf("the edit %q changed nothing", edit[0])
		}
		if err := os.WriteFile(file, []byte(changed), 0o644); err != nil {
			t.Fatal(err)
		}
		cold, _ := run("cold", "")
		if cached, _ := run("cached", cache); cold != cached {
			t.Errorf("after %q, the cached build differs from a build without the cache", edit[1])
		}
	}
}

func TestDrillResultFormats(t *testing.T) {
	for _, c := range []struct {
		got, want string
	}{
		{ratioPercent(0), "0\u00a0%"},
		{ratioPercent(0.5), "50\u00a0%"},
		{ratioPercent(0.12345), "12.35\u00a0%"},
		{ratioPercent(0.00001), "< 0.01\u00a0%"},
		{millis(0.0874), "87\u00a0ms"},
		{millis(0.0045), "4.5\u00a0ms"},
		{millis(0.002), "2\u00a0ms"},
		{count(2532.6), "2533"},
	} {
		if c.got != c.want {
			t.Errorf("got %q, want %q", c.got, c.want)
		}
	}
	one, zero := 1.0, 0.0
	for _, c := range []struct {
		r    drillReport
		want string
	}{
		{drillReport{}, ""},
		{drillReport{BlastRadius: &one, FinalState: drillreport.RolledBack}, "1 request failed before the rollback completed."},
		{drillReport{BlastRadius: &zero, FinalState: drillreport.Promoted}, "No request failed before the drill ended."},
		{drillReport{BlastRadius: &one, FinalState: drillreport.Halted, Impact: []drillreport.Impact{{Phase: drillreport.PhaseRollingBack}}}, "1 request failed before the rollback completed."},
	} {
		if got := blastRadius(&c.r); got != c.want {
			t.Errorf("blast radius %q, want %q", got, c.want)
		}
	}
	ms := drilledMigrations(&drillReport{Migrations: []drillreport.MigrationRun{
		{ID: "a", Runs: "post-deploy", When: "post-deploy"},
		{ID: "b", Runs: "pre-deploy", Error: "syntax error at or near DROPP"},
		{File: "migrations/c.sql", Runs: "during-deploy", Applied: true, Weight: 50},
	}})
	if ms[0].Applied != "not applied: the drill did not reach it" || ms[1].Applied != "not applied: syntax error at or near DROPP" ||
		ms[2].ID != "migrations/c.sql" || ms[2].When != "during-deploy" || ms[2].Weight != "50\u00a0%" || ms[0].Weight != "" {
		t.Errorf("migrations: %+v", ms)
	}
}

// migrationLoadReport is a drill on volume whose first migration blocked
// the service past its lock budget and whose second was retried behind a
// long query.
const migrationLoadReport = `{"plan":"content/payments/api-canary.md","scenario":"healthy-canary","started":"2026-12-07T10:00:00Z","passed":false,"final_state":"promoted",
	"volume":{"rows":{"orders":1000000},"seed":"seed/production-schema.sql","took_ns":19958479349},
	"migrations":[
		{"id":"0044_orders_sku_idx","file":"0044_orders_sku_idx.sql","runs":"pre-deploy","when":"before step 1","applied":true,"canary_weight":0,"guard":[{"release":"stable","passed":true,"share":100}],
		 "locks":{"duration_ns":5533000000,"attempts":1,"held":[{"relation":"orders","mode":"ShareLock","for_ns":5527000000,"line":8}],
		  "blocked":[{"release":"stable","for_ns":5477000000,"query":"INSERT INTO orders <b>x</b>"}],
		  "worst":{"line":8,"text":"CREATE INDEX orders_sku_idx ON orders (sku)","lock":"ShareLock","fix":"use CREATE INDEX CONCURRENTLY"},
		  "budget_ns":1000000000,"requests":495,"failed":381,"slow":381,"slow_over_ns":800000000,"p99_ns":9935000000,"p99_before_ns":45000000,"samples":105}},
		{"id":"0045_orders_lookup_source","file":"0045.sql","runs":"pre-deploy","when":"before step 1","applied":true,"canary_weight":0,
		 "locks":{"duration_ns":4488000000,"attempts":6,"waited_ns":950000000,"blocked":[{"release":"stable","for_ns":210000000}],
		  "worst":{"line":9,"text":"ALTER TABLE orders ADD COLUMN lookup_source text"},
		  "budget_ns":1000000000,"requests":3486,"failed":0,"slow":0,"slow_over_ns":800000000,"p99_ns":390000000,"p99_before_ns":279000000,"samples":76}}],
	"timeline":[]}`

// A drill on volume says what the database held and, per migration, the
// locks it held, the longest wait of the service's queries against the
// budget, the statement and its fix when over, and what requests felt.
func TestDrillResultShowsMigrationsUnderLoad(t *testing.T) {
	root := drillSite(t, map[string]string{"1-healthy-canary.json": migrationLoadReport})
	if _, err := build(t, root, nil); err != nil {
		t.Fatal(err)
	}
	panel := gamedayPanel(t, read(t, root, "payments/api-canary/index.html"))
	text := visibleText(panel)
	for _, want := range []string{
		"Drilled on 1\u202f000\u202f000 rows of orders, seed production-schema.sql (filled in 20.0 s).",
		"Migrations under load Migration Took Locks held Longest wait of a query Requests while it ran p99 before → during",
		"0044_orders_sku_idx 5.53 s ShareLock on orders, 5.53 s (line 8) over budget stable: 5.48 s (budget 1 s) 495 (381 failed, 381 over 800 ms) 45 ms → 9.94 s 0044_orders_sku_idx.sql:8 CREATE INDEX orders_sku_idx ON orders (sku) (ShareLock) Fix: use CREATE INDEX CONCURRENTLY",
		"0045_orders_lookup_source 4.49 s 6 attempts (gave up on its lock_timeout and was retried) – queued 950 ms for its own locks within budget stable: 210 ms (budget 1 s) 3486 (0 failed, 0 over 800 ms) 279 ms → 390 ms",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("the Game day panel does not read %q; it reads:\n%s", want, text)
		}
	}
	if !strings.Contains(panel, `class="load-over"`) || strings.Contains(text, "ALTER TABLE orders ADD COLUMN lookup_source text") {
		t.Error("only the migration over its budget is red and names its statement")
	}
}

// A plan drilled on both engines shows both results of the scenario, each
// with its engine, and the disagreement the later report found.
func TestDrillResultShowsBothEngines(t *testing.T) {
	builtin := `{"plan":"content/payments/api-canary.md","scenario":"bad-canary-errors","started":"2026-11-21T10:00:00Z","passed":true,"final_state":"rolled-back","timeline":[],"intervals":[]}`
	argo := `{"plan":"content/payments/api-canary.md","scenario":"bad-canary-errors","started":"2026-11-21T11:00:00Z","passed":false,"final_state":"halted","engine":"argo","timeline":[],"intervals":[],
		"disagreements":[{"what":"verdict","this":"failed (final state halted)","other":"passed (final state rolled-back)","other_engine":"builtin","other_run_id":"r1"}]}`
	older := strings.Replace(builtin, "10:00:00Z", "09:00:00Z", 1)
	cases := []struct {
		name    string
		reports map[string]string
		want    []string
		absent  []string
	}{
		{"one engine", map[string]string{"1.json": builtin, "0.json": older}, []string{"bad-canary-errors pass rolled-back"}, []string{"builtin", "argo"}},
		{"both engines", map[string]string{"1.json": builtin, "2.json": argo, "0.json": older}, []string{
			"bad-canary-errors builtin pass rolled-back", "bad-canary-errors argo fail halted",
			"bad-canary-errors: argo disagrees with builtin on the verdict: failed (final state halted) here, passed (final state rolled-back) there.",
		}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			root := drillSite(t, c.reports)
			if _, err := build(t, root, nil); err != nil {
				t.Fatal(err)
			}
			text := visibleText(gamedayPanel(t, read(t, root, "payments/api-canary/index.html")))
			for _, w := range c.want {
				if !strings.Contains(text, w) {
					t.Errorf("the Game day panel does not read %q; it reads:\n%s", w, text)
				}
			}
			for _, a := range c.absent {
				if strings.Contains(text, a) {
					t.Errorf("the Game day panel reads %q:\n%s", a, text)
				}
			}
		})
	}
}
