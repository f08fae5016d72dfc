package check

import (
	"slices"
	"strings"

	"github.com/rollbook/rollbook/internal/diag"
)

// Rule is one rule of check and build: the name a finding carries and a
// team writes under rules: in rollbook.yaml, the severity it has unless
// rollbook.yaml changes it, and what it checks (for the error that lists
// the rule names).
type Rule struct {
	Name     string
	Severity diag.Severity
	Checks   string
}

// rules is the one registry of rule names, for every package that makes
// findings (the plan parser, these checks, the site). A new rule is one
// line here; a finding whose rule is not here fails the registry test.
var rules = []Rule{
	// Reading the file (internal/plan).
	{"file-size", diag.Error, "a content file is under the size limit"},
	{"encoding", diag.Error, "a content file is UTF-8"},
	{"front-matter", diag.Error, "front matter opened with --- is closed"},
	{"yaml", diag.Error, "front matter is valid YAML"},
	{"unknown-key", diag.Warning, "front matter keys are known ones"},
	{"type", diag.Error, "front matter values have the right type"},
	{"value", diag.Error, "front matter values parse (durations, dates, percentages)"},
	{"enum", diag.Error, "front matter values are one of the allowed words"},

	// Plan rules (SPEC 1.3, this package).
	{"required-section", diag.Error, "sections the plan's kind and risk require"},
	{"approvals", diag.Error, "a high-risk plan lists approvals"},
	{"go-no-go", diag.Error, "a high-risk plan has go / no-go criteria"},
	{"rollback-step", diag.Error, "every rollback step has an exact command and a verification"},
	{"trigger-interval", diag.Warning, "automatic triggers have an analysis interval"},
	{"trigger", diag.Error, "a trigger names its metric"},
	{"trigger-threshold", diag.Error, "a trigger has a threshold"},
	{"trigger-window", diag.Error, "a trigger has a window of at least two analysis intervals"},
	{"trigger-min-requests", diag.Error, "a ratio trigger has min_requests"},
	{"trigger-query", diag.Error, "a query: trigger parses as PromQL"},
	{"trigger-power", diag.Warning, "a baseline trigger's min_requests is enough for its statistics targets"},
	{"data-recovery", diag.Error, "a complex or irreversible rollback has a data recovery section"},
	{"backup-check", diag.Error, "data recovery shows how the backup is verified"},
	{"migration-file", diag.Error, "a migration's SQL file exists inside the content folder"},
	{"migration-sql", diag.Error, "a migration's SQL parses"},
	{"migration-phase", diag.Error, "a migration's declared phase matches its SQL"},
	{"contract-auto-rollback", diag.Error, "no contract migration ships with automatic rollback"},
	{"contract-before-promotion", diag.Error, "no contract migration runs while the previous release still takes traffic"},
	{"migration-runs", diag.Warning, "a contract migration says when it runs (runs:)"},
	{"migration-at-step", diag.Error, "a during-deploy migration's at_step is one of the strategy's steps, and only a during-deploy one has at_step"},

	// Lock rules of migration SQL (internal/migrate, locks.go), reported at
	// the SQL file's line and column: errors hold a lock that stops the
	// service for as long as the table is big, or fail; warnings take a
	// brief lock that can still queue behind a long query.
	{"create-index-not-concurrently", diag.Error, "CREATE INDEX on an existing table is CONCURRENTLY (a plain one holds SHARE, blocking writes, while it reads the table)"},
	{"drop-index-not-concurrently", diag.Warning, "DROP INDEX is CONCURRENTLY (a plain one takes ACCESS EXCLUSIVE on the table)"},
	{"constraint-without-not-valid", diag.Error, "a CHECK constraint on an existing table is added NOT VALID, then validated (else ACCESS EXCLUSIVE while every row is read)"},
	{"unique-constraint-without-index", diag.Error, "a UNIQUE or PRIMARY KEY constraint uses an index built CONCURRENTLY (else ACCESS EXCLUSIVE while the index is built)"},
	{"foreign-key-without-not-valid", diag.Error, "a FOREIGN KEY is added NOT VALID, then validated (else SHARE ROW EXCLUSIVE on both tables while every row is read)"},
	{"set-not-null-without-check", diag.Error, "SET NOT NULL follows a validated CHECK (col IS NOT NULL) in the same file (else ACCESS EXCLUSIVE while every row is read)"},
	{"column-type-rewrite", diag.Error, "ALTER COLUMN TYPE does not rewrite the table (only binary-coercible changes such as varchar widening)"},
	{"volatile-default", diag.Error, "ADD COLUMN has no volatile default, serial, identity or stored generated value (each rewrites the table under ACCESS EXCLUSIVE)"},
	{"concurrently-in-transaction", diag.Error, "CREATE INDEX, DROP INDEX and REINDEX CONCURRENTLY are not inside BEGIN … COMMIT, where they fail"},
	{"missing-lock-timeout", diag.Warning, "an ACCESS EXCLUSIVE statement follows SET lock_timeout, so it cannot queue every query behind a long one"},
	{"table-rewrite", diag.Error, "no VACUUM FULL, CLUSTER or ALTER TABLE SET TABLESPACE / SET LOGGED / SET UNLOGGED in a migration (each rewrites the table under ACCESS EXCLUSIVE)"},
	{"reindex-not-concurrently", diag.Error, "REINDEX is CONCURRENTLY (a plain one blocks writes to the table and reads through the index)"},
	{"flag-owner", diag.Error, "a feature flag has an owner"},
	{"flag-cleanup", diag.Error, "a feature flag has a cleanup date"},
	{"stale-flag", diag.Warning, "a feature flag is removed by its cleanup date"},
	{"risky-window", diag.Warning, "a high-risk or complex change does not start on a Friday afternoon or weekend"},
	{"stale-review", diag.Warning, "a plan was reviewed within stale_after"},
	{"gameday-trigger", diag.Error, "a drilled scenario has the trigger it needs to fire"},
	{"gameday-steps", diag.Error, "a drilled canary scenario has canary steps"},
	{"gameday-migration", diag.Error, "a scenario that runs migrations under a long query has a migration the drill applies"},
	{"gameday-service", diag.Error, "gameday.service and gameday.database name releases, paths, checks and files a drill can use"},
	{"migration-manual", diag.Error, "a drilled incompatible-migration scenario has a migration the drill may apply (not every one runs: manual)"},
	{"todo-placeholder", diag.Warning, "no TODO placeholder from rollbook new is left in a plan"},
	{"input", diag.Error, "an input has a name of letters, digits and _, declared once, and a pattern that is a regular expression its default and example match"},
	{"input-undeclared", diag.Error, "every {{ .name }} placeholder in a code block is a declared input"},
	{"input-unused", diag.Warning, "every declared input is used by a placeholder in a code block"},

	// The site (package site).
	{"url", diag.Error, "a page's url, slug and aliases stay inside the site"},
	{"duplicate-url", diag.Error, "no two pages or aliases have the same URL"},
	{"markdown", diag.Error, "the page body renders"},
	{"broken-link", diag.Error, "internal links reach a page or file"},
	{"broken-anchor", diag.Error, "a link's #fragment (in Markdown, front matter or a runbook_url) names a heading or anchor of the page it reaches"},
	{"external-link", diag.Error, "an http(s) link's server does not answer 404 or 410 (check --external)"},
	{"external-link-unreachable", diag.Warning, "an http(s) link's server answers within the timeout, without a 5xx or rate limiting (check --external)"},
	{"lost-url", diag.Error, "a page URL or alias the site had at the --since git ref still reaches a page (check --since)"},
	{"content-symlink", diag.Error, "no page or asset is a symlink leading outside the content folder"},
	{"index-page", diag.Warning, "a folder has one index page (_index.md, index.md or README.md)"},
	{"raw-html", diag.Warning, "raw HTML in Markdown is on the allowlist and balanced (what is dropped or closed is named)"},
	{"diagram", diag.Warning, "a diagram block is drawn (mermaid is shown as its source)"},

	// Alert runbooks and alerting rules (SPEC 4, alerts.go).
	{"alert-rules-glob", diag.Warning, "each alert_rules pattern matches a file"},
	{"alert-rule-file", diag.Error, "a rule file is YAML holding rule groups"},
	{"alert-group-name", diag.Error, "a rule group has a name, unique in its file"},
	{"alert-expr", diag.Error, "an alerting rule has an expr, and it is PromQL"},
	{"alert-rule", diag.Error, "a rule is one Prometheus loads (fields, labels, templates, durations)"},
	{"alert-runbook-url", diag.Error, "a runbook_url annotation is a URL"},
	{"alert-runbook-broken", diag.Error, "a runbook_url into the site reaches a page"},
	{"alert-no-runbook", diag.Error, "an alert of a severity in alerts.require_runbook has a runbook"},
	{"alert-duplicate", diag.Error, "one alert name has one runbook"},
	{"alert-orphan-runbook", diag.Warning, "an alert runbook's alert is in a rule file"},
}

// Off is the severity rollbook.yaml gives a rule to drop its findings.
const Off diag.Severity = "off"

// Lookup returns the registered rule of that name.
func Lookup(name string) (Rule, bool) {
	i := slices.IndexFunc(rules, func(r Rule) bool { return r.Name == name })
	if i < 0 {
		return Rule{}, false
	}
	return rules[i], true
}

// Rules returns every registered rule, sorted by name.
func Rules() []Rule {
	out := slices.Clone(rules)
	slices.SortFunc(out, func(a, b Rule) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// RuleNames lists the rule names, sorted, for messages that say what to write.
func RuleNames() []string {
	var names []string
	for _, r := range Rules() {
		names = append(names, r.Name)
	}
	return names
}

// severity is the registered severity of a rule this package reports.
func severity(rule string) diag.Severity {
	r, ok := Lookup(rule)
	if !ok {
		panic("check: rule " + rule + " is not in the registry (rules.go)")
	}
	return r.Severity
}

// Severities is rollbook.yaml's rules: what severity each named rule has
// instead of its registered one; Off drops the rule's findings.
type Severities map[string]diag.Severity

// Apply gives each finding the severity rollbook.yaml sets for its rule,
// keeping the one it had in Default, and leaves out the rules set off.
// Applying twice changes nothing more, so each stage of a build may apply it.
func (s Severities) Apply(ds diag.List) diag.List {
	if len(s) == 0 {
		return ds
	}
	out := ds[:0:0]
	for _, f := range ds {
		sev, ok := s[f.Rule]
		switch {
		case !ok || sev == f.Severity:
		case sev == Off:
			continue
		default:
			if f.Default == "" {
				f.Default = f.Severity
			}
			f.Severity = sev
		}
		out = append(out, f)
	}
	return out
}
