// Package check owns the plan rules of SPEC 1.3: required sections for a
// plan's kind and risk, concrete rollback steps, specific triggers, safe
// migrations, flag hygiene, change windows and review age. Each finding
// names the file, line and column, and says what to write instead.
package check

import (
	"fmt"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/rollbook/rollbook/internal/analysis"
	"github.com/rollbook/rollbook/internal/contentpath"
	"github.com/rollbook/rollbook/internal/diag"
	"github.com/rollbook/rollbook/internal/metricquery"
	"github.com/rollbook/rollbook/internal/migrate"
	"github.com/rollbook/rollbook/internal/plan"
	"github.com/rollbook/rollbook/internal/scenario"
)

// DefaultStaleAfter is how long a plan may go without review.
const DefaultStaleAfter = 90 * 24 * time.Hour

// Options configures the rules.
type Options struct {
	// Now is the time review ages and flag cleanup dates are measured against.
	Now time.Time
	// StaleAfter is the longest time since the last review; 0 means DefaultStaleAfter.
	StaleAfter time.Duration
	// ContentDir is the content folder on disk, to read migration files.
	ContentDir string
	// Analyze classifies a migration file; nil means migrate.AnalyzeFile.
	// The site passes a cached one so each file is parsed once per build.
	Analyze func(file string) (migrate.Result, error)
	// Memo keeps each body's outline between builds (the site passes its
	// persistent build cache); nil parses every body. Parsing the Markdown
	// is most of what checking a plan costs.
	Memo Memo
}

// Memo stores a result under its kind and the inputs it was computed from.
// The bytes Get returns are the caller's: the memo neither keeps nor
// changes them, so what is decoded from them may share them.
type Memo interface {
	Get(kind string, inputs ...[]byte) ([]byte, bool)
	Put(data []byte, kind string, inputs ...[]byte)
}

// Plan checks one plan. name is the file name used in findings.
func Plan(p *plan.Plan, name string, opts Options) diag.List {
	if !p.IsPlan() {
		return nil
	}
	c := &checker{p: p, name: name, opts: opts, out: memoOutline(opts.Memo, p.Body, p.BodyLine)}
	if c.opts.Analyze == nil {
		c.opts.Analyze = migrate.AnalyzeFile
	}
	if c.opts.StaleAfter == 0 {
		c.opts.StaleAfter = DefaultStaleAfter
	}
	c.sections()
	c.highRisk()
	c.rollbackSteps()
	c.triggers()
	c.dataRecovery()
	c.migrations()
	c.flags()
	c.window()
	c.review()
	c.gameday()
	c.gamedayService()
	c.placeholders()
	c.inputs()
	c.ds.Sort()
	return c.ds
}

type checker struct {
	p    *plan.Plan
	name string
	opts Options
	out  outline
	ds   diag.List
	// norm is each heading of out as section names are matched against
	// it, made at the first look for a section.
	norm []string
	// sqlSeen holds the migration files whose lock findings are reported.
	sqlSeen map[string]bool
}

// at reports a finding at a front-matter path, with its rule's
// registered severity (rules.go).
func (c *checker) at(path string, rule, msg, fix string) {
	pos := c.p.Pos(path)
	c.add(pos.Line, pos.Col, rule, msg, fix)
}

func (c *checker) atLine(line int, rule, msg, fix string) { c.add(line, 1, rule, msg, fix) }

// add reports a finding at line:col of the plan, with its rule's severity.
func (c *checker) add(line, col int, rule, msg, fix string) {
	c.ds = append(c.ds, diag.At(c.name, line, col).As(severity(rule), rule, msg, fix))
}

// find returns the heading that names the section, or nil.
func (c *checker) find(s plan.Section) *heading {
	if c.norm == nil {
		c.norm = make([]string, len(c.out.Headings))
		for i, h := range c.out.Headings {
			c.norm[i] = plan.NormalizeHeading(h.Text)
		}
	}
	names := s.NormalizedNames()
	for i := range c.out.Headings {
		if plan.MatchesNormalized(names, c.norm[i]) {
			return &c.out.Headings[i]
		}
	}
	return nil
}

func (c *checker) findName(names ...string) *heading {
	return c.find(plan.Section{Name: names[0], Aliases: names[1:]})
}

func risk(p *plan.Plan) string {
	if p.Risk == "" {
		return "medium"
	}
	return p.Risk
}

func (c *checker) sections() {
	for _, s := range plan.RequiredSections(c.p.Kind, risk(c.p)) {
		if c.find(s) != nil || s.Generated != nil && s.Generated(c.p) {
			continue
		}
		why := "a " + c.p.Kind + " plan"
		if !s.Core {
			why = "a high-risk " + c.p.Kind + " plan"
		}
		c.at("kind", "required-section", fmt.Sprintf("%s needs a %q section", why, s.Name),
			fmt.Sprintf("add \"## %s\" with: %s", s.Name, s.Hint))
	}
}

func (c *checker) highRisk() {
	if risk(c.p) != "high" {
		return
	}
	if len(c.p.Approvals) == 0 {
		c.at("risk", "approvals", "a high-risk plan needs approvals", "list who signs off, for example approvals: [tech-lead, change-board]")
	}
	if c.findName("Go / no-go criteria", "Go/no-go", "Go / no-go", "Preflight checks", "Go/no-go checklist") == nil {
		c.at("risk", "go-no-go", "a high-risk plan needs go / no-go criteria", `add "## Go / no-go criteria" (or "## Preflight checks") listing each check that must pass before starting`)
	}
}

// verifyWords are the words by which a rollback step says how to verify
// it; "wait for" is two.
var verifyWords = map[string]bool{"verify": true, "verified": true, "verification": true, "check": true, "checks": true, "confirm": true, "expect": true, "expected": true, "validate": true, "validation": true, "ensure": true, "should": true, "until": true, "watch": true, "assert": true, "return": true, "returns": true, "show": true, "shows": true}

// saysHowToVerify reports whether text holds one of verifyWords as a whole
// word (letters, digits and _, as a regexp's \b sees them), in any case.
// A word scan, not that regexp: on every plan of every build, the
// regexp's backtracking over its alternatives cost more than the rest of
// the step checks.
func saysHowToVerify(text string) bool {
	wordByte := func(c byte) bool {
		return c == '_' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
	}
	var buf [16]byte
	prevWait := false // the word before, "wait", ended one space ago
	for i := 0; i < len(text); {
		if !wordByte(text[i]) {
			i++
			continue
		}
		j := i
		for j < len(text) && wordByte(text[j]) {
			j++
		}
		w := text[i:j]
		if len(w) <= len(buf) {
			lw := buf[:len(w)]
			for k := range len(w) {
				c := w[k]
				if c >= 'A' && c <= 'Z' {
					c += 'a' - 'A'
				}
				lw[k] = c
			}
			if verifyWords[string(lw)] || prevWait && string(lw) == "for" {
				return true
			}
			prevWait = string(lw) == "wait" && j < len(text) && text[j] == ' '
		} else {
			prevWait = false
		}
		if prevWait && j+1 < len(text) && !wordByte(text[j+1]) {
			prevWait = false
		}
		i = j
	}
	return false
}

func (c *checker) rollbackSteps() {
	h := c.find(plan.RollbackProcedure)
	if h == nil {
		return
	}
	if len(h.Items) == 0 {
		if !h.HasCode {
			c.atLine(h.Line, "rollback-step", fmt.Sprintf("%q has no steps", h.Text), "write numbered steps, each with the exact command in `code` and how to verify it")
		}
		return
	}
	for i, it := range h.Items {
		if !it.HasCode {
			c.atLine(it.Line, "rollback-step", fmt.Sprintf("rollback step %d has no exact command", i+1), "put the exact command or action in `code`, for example `kubectl argo rollouts abort payments-api`")
		}
		if !saysHowToVerify(it.Text) {
			c.atLine(it.Line, "rollback-step", fmt.Sprintf("rollback step %d says nothing about how to verify it", i+1), `add "Verify: …" with the check that proves the step worked`)
		}
	}
}

func (c *checker) triggers() {
	interval := c.p.Analysis.Interval.D()
	if len(c.p.Triggers) > 0 && interval == 0 && c.p.Rollback.Automatic {
		c.at("triggers", "trigger-interval", "triggers are evaluated automatically but analysis.interval is not set", "add analysis: {interval: 30s}")
	}
	for i, t := range c.p.Triggers {
		p := fmt.Sprintf("triggers[%d]", i)
		if t.Metric == "" {
			c.at(p, "trigger", "trigger has no metric", "add metric: error_rate (or latency_p99, health, …)")
			continue
		}
		if t.IsHealth() {
			if t.Failures == 0 {
				c.at(p, "trigger-threshold", "health trigger has no failure count", "add failures: 3 (consecutive failed probes)")
			}
			continue
		}
		if !t.Max.Set && !t.Min.Set && t.MaxDelta == 0 {
			c.at(p, "trigger-threshold", fmt.Sprintf("trigger %q has no threshold", t.Metric), "add max: (for example 800ms or 5%), min:, or compare: baseline with max_delta: 2%")
		}
		if t.Compare == "baseline" && t.MaxDelta == 0 {
			c.at(p, "trigger-threshold", fmt.Sprintf("trigger %q compares with the baseline but has no max_delta", t.Metric), "add max_delta: 2%")
		}
		if t.Window == 0 {
			c.at(p, "trigger-window", fmt.Sprintf("trigger %q has no window: a single spike would fire it", t.Metric), "add window: 2m (at least two analysis intervals)")
		} else if interval > 0 && t.Window.D() < 2*interval {
			c.at(p+".window", "trigger-window", fmt.Sprintf("window %s is shorter than two analysis intervals (%s): a single spike would fire it", t.Window, 2*c.p.Analysis.Interval), fmt.Sprintf("set window: %s or more", plan.FormatDuration(2*interval)))
		}
		if t.Query != "" {
			c.query(p+".query", t.Query)
		}
		if need := analysis.RequiredRequests(float64(t.MaxDelta)); t.Compare == "baseline" && t.MinRequests > 0 && t.MinRequests < need {
			c.at(p+".min_requests", "trigger-power", fmt.Sprintf("min_requests %d is too low for the exported baseline test of +%s: at the floor it cannot keep false rollbacks to %d in 1000 healthy canaries and still catch the regression within 2 windows in %d%% of them (it needs about %d requests a window)", t.MinRequests, t.MaxDelta, analysis.MaxFalseRollbacksPer1000, analysis.MinDetectionPercent, need), fmt.Sprintf("set min_requests: %d (or a longer window, so one holds that many canary requests)", need))
		}
		if t.IsRatio() && t.MinRequests == 0 && t.Query == "" {
			c.at(p, "trigger-min-requests", fmt.Sprintf("ratio trigger %q has no min_requests: a handful of requests could fire it", t.Metric), "add min_requests: 1500")
		}
	}
}

// query checks a query: trigger with Prometheus's own PromQL parser and
// reports the parser's message where it stopped.
func (c *checker) query(path, q string) {
	pe := metricquery.Parse(q)
	if pe == nil {
		return
	}
	pos := c.p.Pos(path)
	line, col := pos.Line, pos.Col
	// A query on one line maps to the column the parser stopped at; the
	// token starts at the quote when the value is quoted.
	if !strings.Contains(q, "\n") {
		col += pe.Offset + c.p.QuoteWidth(path)
	}
	c.add(line, col, "trigger-query", "query does not parse as PromQL: "+pe.Message,
		"write a PromQL expression (check it with promtool or the Prometheus UI), for example sum(rate(orders_total[5m]))")
}

func (c *checker) dataRecovery() {
	cl := c.p.Rollback.Class
	if cl != "complex" && cl != "irreversible" {
		return
	}
	h := c.findName("Data recovery", "Data recovery plan")
	if h == nil {
		c.at("rollback.class", "data-recovery", fmt.Sprintf("rollback class %q needs a data recovery section", cl), `add "## Data recovery": how data written since the change is recovered, and the backup check`)
		return
	}
	if !strings.Contains(h.Body, "backup") && !strings.Contains(h.Body, "snapshot") || !h.HasCode {
		c.atLine(h.Line, "backup-check", "data recovery does not show how the backup is verified", "add the command that proves a restorable backup exists, for example `pg_restore --list /backups/orders.dump`")
	}
}

func (c *checker) migrations() {
	for i, m := range c.p.Migrations {
		p := fmt.Sprintf("migrations[%d]", i)
		contract, why := c.migration(p, m)
		c.timing(i, m, contract, why)
	}
}

// migration checks one migration's file and SQL, and says whether its
// change is a contract one (declared so, or its SQL is) and why.
func (c *checker) migration(p string, m plan.Migration) (contract bool, why string) {
	declared := m.Phase == "contract"
	if declared {
		why = "declared phase: contract"
	}
	if m.File == "" {
		if declared && c.p.Rollback.Automatic {
			c.contractAuto(p, m.ID, why)
		}
		return declared, why
	}
	rel := path.Join(path.Dir(c.p.Path), m.File)
	if strings.HasPrefix(path.Clean(m.File), "/") || strings.HasPrefix(rel, "../") || rel == ".." {
		c.at(p+".file", "migration-file", fmt.Sprintf("migration file %q is outside the content folder", m.File), "keep migration SQL under content/, relative to the plan")
		return declared, why
	}
	file := filepath.Join(c.opts.ContentDir, filepath.FromSlash(rel))
	if err := contentpath.Check(c.opts.ContentDir, rel); contentpath.IsOutside(err) {
		c.at(p+".file", "migration-file", fmt.Sprintf("migration file %q: %v", m.File, err), contentpath.Fix)
		return declared, why
	} else if err != nil {
		c.at(p+".file", "migration-file", fmt.Sprintf("migration file %q does not exist (looked for %s)", m.File, filepath.ToSlash(file)), "fix the path (relative to the plan's folder) or add the SQL file")
		return declared, why
	}
	res, err := c.opts.Analyze(file)
	if err != nil {
		c.at(p+".file", "migration-sql", err.Error(), "fix the SQL so PostgreSQL can parse it")
		return declared, why
	}
	c.locks(path.Join(path.Dir(c.name), m.File), res)
	if res.Phase == migrate.Contract {
		first := firstContract(res)
		why = fmt.Sprintf("%s:%d: %s", filepath.ToSlash(rel), first.Line, first.Reason)
		if m.Phase != "" && m.Phase != "contract" {
			c.at(p+".phase", "migration-phase", fmt.Sprintf("migration %s is declared %q but its SQL is a contract change: %s", m.ID, m.Phase, why), "declare phase: contract, or split the contract statement into a later release")
		}
		if c.p.Rollback.Automatic {
			c.contractAuto(p, m.ID, why)
		}
		return true, why
	}
	if declared && c.p.Rollback.Automatic {
		c.contractAuto(p, m.ID, why)
	}
	return declared, why
}

// timing checks when migration i runs (SPEC 3.3): at_step against the
// strategy's steps, and a contract change that would run while the
// previous release, which reads what it drops, still serves.
func (c *checker) timing(i int, m plan.Migration, contract bool, why string) {
	p := fmt.Sprintf("migrations[%d]", i)
	steps := c.p.Strategy.Steps
	t := m.Timing(contract)
	stepOK := true
	if bad, ok := t.Misplaced(steps, c.p.Has(p+".at_step")); ok {
		c.at(p+"."+bad.Field, "migration-at-step", "migration "+m.ID+" "+bad.Problem, bad.Fix)
		// A step that is not there hides the contract check below; a
		// step beside another runs does not.
		stepOK = t.Runs != plan.RunsDuringDeploy
	}
	if !contract {
		return
	}
	if t.Defaulted {
		c.at(p, "migration-runs", fmt.Sprintf("contract migration %s does not say when it runs: it defaults to post-deploy (%s)", m.ID, t.Describe(steps)), "write runs: post-deploy"+fullStep(steps))
		return
	}
	if !stepOK || !t.PreviousServes(steps) {
		return
	}
	share := t.PreviousShare(steps)
	pos := p
	if c.p.Has(p + ".runs") {
		pos = p + ".runs"
	}
	c.at(pos, "contract-before-promotion", fmt.Sprintf("migration %s is a contract change (%s) that runs %s, %s: the previous release still serves %d %% of traffic and reads what it drops, so its users get errors", m.ID, why, t.Runs, t.Describe(steps), share),
		"write runs: post-deploy"+fullStep(steps)+", or split the change: expand in this release, write both shapes, and contract in a later release")
}

// fullStep is the fix's way to run at a strategy step of 100 %, when the
// plan has one before its last.
func fullStep(steps []plan.Step) string {
	for i, s := range steps {
		if s.Weight >= 100 {
			return fmt.Sprintf(" (or runs: during-deploy with at_step: %d, the step at %d %%)", i+1, s.Weight)
		}
	}
	return ""
}

// locks reports the lock rules a migration's SQL breaks at the SQL
// file's own line and column (name is its path as findings show it), once
// per file however many of the plan's migrations name it.
func (c *checker) locks(name string, res migrate.Result) {
	if c.sqlSeen[name] {
		return
	}
	if c.sqlSeen == nil {
		c.sqlSeen = map[string]bool{}
	}
	c.sqlSeen[name] = true
	for _, f := range res.Locks {
		c.ds = append(c.ds, diag.At(name, f.Line, f.Column).As(severity(f.Kind), f.Kind, f.Reason, f.Fix))
	}
}

func firstContract(r migrate.Result) migrate.Finding {
	for _, f := range r.Findings {
		if f.Phase == migrate.Contract {
			return f
		}
	}
	return migrate.Finding{}
}

func (c *checker) contractAuto(p, id, why string) {
	c.at(p, "contract-auto-rollback", fmt.Sprintf("migration %s is a contract change shipped with rollback.automatic: true; after it runs the previous release cannot work, so an automatic rollback is unsafe (%s)", id, why), "set rollback.automatic: false and name a decision_maker, or ship the contract step in a later release (expand/contract)")
}

func (c *checker) flags() {
	for i, f := range c.p.Flags {
		p := fmt.Sprintf("flags[%d]", i)
		if f.Owner == "" {
			c.at(p, "flag-owner", fmt.Sprintf("flag %q has no owner", f.Name), "add owner: team-name")
		}
		if f.Cleanup.IsZero() {
			c.at(p, "flag-cleanup", fmt.Sprintf("flag %q has no cleanup date", f.Name), "add cleanup: YYYY-MM-DD, when the flag is removed from the code")
		} else if !c.opts.Now.IsZero() && f.Cleanup.Before(c.opts.Now) {
			c.at(p+".cleanup", "stale-flag", fmt.Sprintf("flag %q was due for removal on %s", f.Name, f.Cleanup), "remove the flag from the code, or move cleanup to a new date with a reason")
		}
	}
}

func (c *checker) window() {
	start := c.p.Window.Start.Time
	if start.IsZero() || !(c.p.Risk == "high" || c.p.Rollback.Class == "complex") {
		return
	}
	wd := start.Weekday()
	if wd == time.Saturday || wd == time.Sunday || wd == time.Friday && start.Hour() >= 12 {
		c.at("window.start", "risky-window", fmt.Sprintf("change window starts %s %s UTC, when fewer people are around to help", wd, start.UTC().Format("15:04")), "move a high-risk or complex change to Monday-Thursday or a Friday morning")
	}
}

func (c *checker) review() {
	if c.opts.Now.IsZero() {
		return
	}
	if c.p.Reviewed.IsZero() {
		c.at("kind", "stale-review", "plan has no review date", fmt.Sprintf("add reviewed: %s after reviewing it", c.opts.Now.Format("2006-01-02")))
		return
	}
	if age := c.opts.Now.Sub(c.p.Reviewed.Time); age > c.opts.StaleAfter {
		c.at("reviewed", "stale-review", fmt.Sprintf("plan was last reviewed %d days ago (limit %d days)", int(age.Hours()/24), int(c.opts.StaleAfter.Hours()/24)), "review the plan with its owners, then set reviewed to the review date")
	}
}

// Stale reports whether a plan is past its review age.
func Stale(p *plan.Plan, now time.Time, staleAfter time.Duration) bool {
	if staleAfter == 0 {
		staleAfter = DefaultStaleAfter
	}
	return p.IsPlan() && (p.Reviewed.IsZero() || now.Sub(p.Reviewed.Time) > staleAfter)
}

func (c *checker) gameday() {
	if len(c.p.Gameday.Scenarios) == 0 {
		return
	}
	has := func(pred func(plan.Trigger) bool) bool {
		for _, t := range c.p.Triggers {
			if pred(t) {
				return true
			}
		}
		return false
	}
	met := map[scenario.Need]func() bool{
		scenario.ErrorTrigger:   func() bool { return has(plan.Trigger.IsRatio) },
		scenario.LatencyTrigger: func() bool { return has(func(t plan.Trigger) bool { return strings.Contains(t.Metric, "latency") }) },
		scenario.Steps:          func() bool { return len(c.p.Strategy.Steps) > 0 },
		scenario.AppliedMigration: func() bool {
			if !c.p.Gameday.Service.Defined() {
				return false
			}
			for _, m := range c.p.Migrations {
				if m.File != "" && m.Timing(m.Phase == "contract").Runs != plan.RunsManual {
					return true
				}
			}
			return false
		},
	}
	for i, s := range c.p.Gameday.Scenarios {
		sc, err := scenario.Lookup(s)
		if err != nil {
			continue // the plan's enum reported it
		}
		p := fmt.Sprintf("gameday.scenarios[%d]", i)
		for _, n := range sc.Needs {
			if met[n]() {
				continue
			}
			t := scenario.NeedText[n]
			c.at(p, t.Rule, fmt.Sprintf(t.Message, s), t.Fix)
		}
	}
}
