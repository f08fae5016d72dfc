package site

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/rollbook/rollbook/internal/check"
	"github.com/rollbook/rollbook/internal/diag"
	"github.com/rollbook/rollbook/internal/golden"
)

// alertFindings is every finding of the alert fixture (testdata/alerts): 31
// alerts over ten groups and three severities, in three rule files and two
// PrometheusRule manifests (one beside a ConfigMap), some runbooks missing,
// renamed, external or reached by a differently cased URL.
var alertFindings = []string{
	"content/kubernetes/KubeClientCertificateExpiry.md:3:8: warning alert-orphan-runbook: alert runbook explains alert KubeClientCertificateExpiry, which is in no rule file: renamed or deleted?; did you mean KubeClientCertificateExpiration? write alert: KubeClientCertificateExpiration",
	"content/kubernetes/KubeSchedulerDown.md:2:7: warning alert-orphan-runbook: alert runbook (named KubeSchedulerDown by its file, no alert: key), which is in no rule file: renamed or deleted?; add the alert to a rule file under alert_rules, or remove the page if the alert is gone",
	`deploy/prometheus/payments.yaml:37:26: error alert-runbook-broken: runbook_url "https://runbooks.example.com/payments/queue-backlog.md" of alert PaymentsQueueBacklog reaches no page of this site; write the runbook (rollbook new alert PaymentsQueueBacklog) or point runbook_url at an existing page`,
	"deploy/prometheus/payments.yaml:47:18: error alert-no-runbook: alert PaymentsDBConnectionsExhausted has severity warning but no runbook page; write one with rollbook new alert PaymentsDBConnectionsExhausted (or add a runbook_url annotation)",
	`deploy/prometheus/payments.yaml:67:26: error alert-duplicate: alert PaymentsHighErrorRate is also defined at deploy/prometheus/payments.yaml:17 with runbook_url "https://runbooks.example.com/alerts/PaymentsHighErrorRate/": one alert name, two runbooks; give both rules the same runbook_url, or rename one of the alerts`,
	`deploy/prometheus/payments.yaml:67:26: error alert-runbook-broken: runbook_url "https://runbooks.example.com/payments/canary-errors/" of alert PaymentsHighErrorRate reaches no page of this site; the runbook of PaymentsHighErrorRate is content/payments/errors.md: point runbook_url at it, or at https://runbooks.example.com/alerts/PaymentsHighErrorRate/`,
	"deploy/prometheus/platform-bad.yaml:7:7: error alert-group-name: rule group has no name (Prometheus: Groupname must not be empty); add name: a-group-name as the group's first key",
	`deploy/prometheus/platform-bad.yaml:13:11: error alert-expr: rule 1 of group "platform.certs" has no expr (Prometheus: field 'expr' must be set in rule); add expr: with the PromQL that fires the alert`,
	"deploy/prometheus/platform-bad.yaml:17:51: error alert-expr: expr is not PromQL: unclosed left parenthesis; fix the expression; promtool check rules and the Prometheus UI's query box show the same error",
	`rollbook.yaml:6:5: warning alert-rules-glob: alert_rules pattern "missing/*.yaml" matches no file; fix the pattern (relative to the project folder; ** matches any folders), or remove it`,
	"rules/broken.yaml:6:8: error alert-rule-file: rule file is not valid YAML: did not find expected '-' indicator; fix the YAML syntax (indent with spaces, quote values that hold ': ' or '#')",
	"rules/kubernetes.yaml:19:16: error alert-no-runbook: alert KubeDeploymentReplicasMismatch has severity warning but no runbook page; write one with rollbook new alert KubeDeploymentReplicasMismatch (or add a runbook_url annotation)",
	`rules/kubernetes.yaml:30:24: error alert-runbook-url: runbook_url "runbook to be written" of alert KubeStatefulSetReplicasMismatch is not a URL: it holds spaces; write the runbook's URL, for example https://runbooks.example.com/alerts/KubeStatefulSetReplicasMismatch/`,
	"rules/kubernetes.yaml:81:16: error alert-no-runbook: alert KubeClientCertificateExpiration has severity critical but no runbook page; write one with rollbook new alert KubeClientCertificateExpiration (or add a runbook_url annotation)",
	`rules/node.yaml:23:24: error alert-runbook-broken: runbook_url "https://runbooks.example.com/node/NodeConntrack" of alert NodeHighNumberConntrackEntriesUsed reaches no page of this site; write the runbook (rollbook new alert NodeHighNumberConntrackEntriesUsed) or point runbook_url at an existing page`,
	"rules/node.yaml:36:16: error alert-no-runbook: alert NodeRAIDDegraded has severity critical but no runbook page; write one with rollbook new alert NodeRAIDDegraded (or add a runbook_url annotation)",
}

func TestAlertFixtureFindings(t *testing.T) {
	ds, err := Check(context.Background(), Options{Root: "testdata/alerts", Now: testNow})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range ds {
		got = append(got, f.String())
		if _, ok := check.Lookup(f.Rule); !ok {
			t.Errorf("rule %s is not in the registry", f.Rule)
		}
	}
	if strings.Join(got, "\n") != strings.Join(alertFindings, "\n") {
		t.Errorf("findings:\n%s\n\nwant:\n%s", strings.Join(got, "\n"), strings.Join(alertFindings, "\n"))
	}
	// check --format json carries the same findings.
	var buf bytes.Buffer
	if err := ds.WriteJSON(&buf); err != nil {
		t.Fatal(err)
	}
	var back diag.List
	if err := json.Unmarshal(buf.Bytes(), &back); err != nil || len(back) != len(alertFindings) || back[0].Rule != "alert-orphan-runbook" {
		t.Errorf("json: %v, %d findings", err, len(back))
	}
}

// withConfig copies the alert fixture and appends lines to its rollbook.yaml.
func withConfig(t *testing.T, extra string) string {
	t.Helper()
	root := copyTree(t, "testdata/alerts")
	cfg, err := os.ReadFile(filepath.Join(root, "rollbook.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "rollbook.yaml"), append(cfg, extra...), 0o644); err != nil {
		t.Fatal(err)
	}
	return root
}

// relaxed turns every alert error of the fixture into a warning, as a team
// adopting the checks would, so the site builds.
const relaxed = `minify: false
rules: {alert-rule-file: warning, alert-group-name: warning, alert-expr: warning, alert-runbook-broken: warning,
  alert-no-runbook: warning, alert-duplicate: warning, alert-runbook-url: warning}
`

// section cuts a page from the first start marker to the end marker after
// the last one, for golden files of one part of a page.
func section(t *testing.T, page, start, end string) string {
	t.Helper()
	i, last := strings.Index(page, start), strings.LastIndex(page, start)
	j := -1
	if last >= 0 {
		j = strings.Index(page[last:], end)
	}
	if i < 0 || j < 0 {
		t.Fatalf("page has no %q … %q", start, end)
	}
	return page[i:last+j+len(end)] + "\n"
}

func TestAlertPanelAndList(t *testing.T) {
	root := withConfig(t, relaxed)
	res, err := build(t, root, nil)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(res.Findings.Errors()); n != 0 {
		t.Fatalf("%d errors left: %v", n, res.Findings.Errors())
	}
	// The Alert panels of a runbook explaining two alerts (alert: [A, B]).
	pg := read(t, root, "kubernetes/pod-not-ready/index.html")
	golden.Check(t, filepath.Join("testdata", "golden", "alert-panel.html"), []byte(section(t, pg, `<section class="panel panel-alert"`, "</section>")))
	if !strings.Contains(pg, "<code>KubePodNotReady</code>") || !strings.Contains(pg, "<code>KubeDeploymentRolloutStuck</code>") {
		t.Error("a runbook with alert: [A, B] lacks a panel")
	}
	// PaymentsHighErrorRate is written twice; the canary's copy points its
	// runbook_url elsewhere (a broken link), so the page shows the other.
	errs := read(t, root, "payments/errors/index.html")
	if !strings.Contains(errs, `<span class="k">sum</span>`) || strings.Count(errs, `class="panel panel-alert"`) != 1 || !strings.Contains(errs, "payments.slo") {
		t.Error("the payments runbook lacks its highlighted alert")
	}
	// A plain Markdown runbook (no front matter) reached by runbook_url.
	if pg := read(t, root, "legacy/textfile-errors/index.html"); !strings.Contains(pg, "<code>NodeTextFileCollectorScrapeError</code>") {
		t.Error("a plain page a runbook_url reaches lacks the Alert panel")
	}
	list := read(t, root, "alerts/index.html")
	golden.Check(t, filepath.Join("testdata", "golden", "alerts-page.html"), []byte(section(t, list, `<article class="alerts-page">`, "</article>")))
	for _, want := range []string{"renamed to <code>KubeClientCertificateExpiration</code>?", "<strong>16 of 31</strong>", `<a href="#severity-critical">critical</a>`, "https://wiki.example.com/payments/latency"} {
		if !strings.Contains(list, want) {
			t.Errorf("alerts page lacks %q", want)
		}
	}
	// Stable URLs redirect to the runbook, in the alert's case and lower case.
	for _, p := range []string{"alerts/PaymentsHighErrorRate/index.html", "alerts/paymentshigherrorrate/index.html"} {
		if r := read(t, root, p); !strings.Contains(r, `url=../../payments/errors/"`) {
			t.Errorf("%s: %s", p, r)
		}
	}
	if r := read(t, root, "alerts/PaymentsLatencyHigh/index.html"); !strings.Contains(r, `url=https://wiki.example.com/payments/latency"`) {
		t.Errorf("external runbook redirect: %s", r)
	}
	if _, err := os.Stat(filepath.Join(root, "public", "alerts", "NodeRAIDDegraded")); err == nil {
		t.Error("an alert without a runbook got a stable URL")
	}
	if sm := read(t, root, "sitemap.xml"); !strings.Contains(sm, "https://runbooks.example.com/alerts/</loc>") {
		t.Error("the sitemap lacks the Alerts page")
	}
	if nav := read(t, root, "index.html"); !regexp.MustCompile(`<a href="alerts/">Alerts</a>`).MatchString(nav) {
		t.Error("the navigation lacks Alerts")
	}
}

// With repo_url the Alert panel links the rule at its line in the repository.
func TestAlertSourceLink(t *testing.T) {
	root := withConfig(t, relaxed+"repo_url: https://github.com/acme/runbooks\n")
	if _, err := build(t, root, nil); err != nil {
		t.Fatal(err)
	}
	pg := read(t, root, "kubernetes/pod-not-ready/index.html")
	if !strings.Contains(pg, `<a href="https://github.com/acme/runbooks/blob/main/rules/kubernetes.yaml#L9">rules/kubernetes.yaml</a>:9`) {
		t.Errorf("no link to the rule in the repository:\n%s", section(t, pg, `<section class="panel panel-alert"`, "</section>"))
	}
}

// Rule severities are configurable like every rule: off drops them.
func TestAlertRulesOff(t *testing.T) {
	root := withConfig(t, "rules: {alert-orphan-runbook: off, alert-no-runbook: warning}\n")
	ds, err := Check(context.Background(), Options{Root: root, Now: testNow})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range ds {
		if f.Rule == "alert-orphan-runbook" || f.Rule == "alert-no-runbook" && (f.Severity != diag.Warning || f.Default != diag.Error) {
			t.Errorf("rules: not applied: %v (default %s)", f, f.Default)
		}
	}
	if len(ds) != len(alertFindings)-2 {
		t.Errorf("%d findings, want %d", len(ds), len(alertFindings)-2)
	}
}

// A site without alert_rules has no Alerts page and no alert findings,
// even with alert runbooks.
func TestNoAlertRules(t *testing.T) {
	root := copyTree(t, "testdata/alerts")
	if err := os.WriteFile(filepath.Join(root, "rollbook.yaml"), []byte("title: x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	res, err := build(t, root, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Findings) != 0 {
		t.Errorf("findings without alert_rules: %v", res.Findings)
	}
	if _, err := os.Stat(filepath.Join(root, "public", "alerts")); err == nil {
		t.Error("an Alerts page without alert_rules")
	}
}

// rollbook serve: an alert runbook's text edited in place keeps its Alert
// panel; a rule file or a runbook's alert names changed rebuild the join.
// Each step gives the site a fresh build would.
func TestAlertsServeUpdate(t *testing.T) {
	root := withConfig(t, relaxed)
	b := memSite(t, root)
	page := filepath.Join(root, "content", "kubernetes", "pod-not-ready.md")
	rules := filepath.Join(root, "rules", "kubernetes.yaml")
	edit := func(file, old, new string) {
		t.Helper()
		src, err := os.ReadFile(file)
		if err != nil || !strings.Contains(string(src), old) {
			t.Fatalf("%s lacks %q (%v)", file, old, err)
		}
		if err := os.WriteFile(file, []byte(strings.Replace(string(src), old, new, 1)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, step := range []struct {
		name, file, old, new, want string
	}{
		{"runbook text", page, "Pods do not become ready.", "Pods never become ready.", "Pods never become ready."},
		{"rule file", rules, "Deployment rollout is not progressing.", "The rollout is stuck.", "The rollout is stuck."},
		{"alert names", page, "alert: [KubePodNotReady, KubeDeploymentRolloutStuck]", "alert: [KubePodNotReady]", "KubePodNotReady"},
	} {
		edit(step.file, step.old, step.new)
		if _, err := b.Update(context.Background(), []string{step.file}); err != nil {
			t.Fatalf("%s: %v", step.name, err)
		}
		got := string(b.Files()["kubernetes/pod-not-ready/index.html"])
		if !strings.Contains(got, step.want) || !strings.Contains(got, `class="panel panel-alert"`) {
			t.Errorf("%s: the runbook lacks %q or its Alert panel", step.name, step.want)
		}
		sameSite(t, step.name, b.Files(), memSite(t, root).Files())
	}
	if got := string(b.Files()["kubernetes/pod-not-ready/index.html"]); strings.Contains(got, "<code>KubeDeploymentRolloutStuck</code>") {
		t.Error("the alert taken out of alert: is still on the page")
	}
	if len(b.RuleFiles()) != 5 {
		t.Errorf("rule files to watch: %v", b.RuleFiles())
	}
}

func TestHighlightPromQL(t *testing.T) {
	for _, tc := range []struct{ expr, want, not string }{
		{`sum(job:http_requests:rate5m{code=~"5.."}) > 0.02`, `<span class="k">sum</span>`, `class="err"`},
		{`up{job="</code><script>alert(1)</script>"} == 0`, `&lt;script&gt;`, `<script>`},
	} {
		got := string(highlightPromQL(tc.expr))
		if !strings.Contains(got, tc.want) || strings.Contains(got, tc.not) {
			t.Errorf("%s: %s", tc.expr, got)
		}
	}
}
