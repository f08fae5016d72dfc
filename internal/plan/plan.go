// Package plan owns the plan model: a Markdown rollout or rollback plan with
// its YAML front matter parsed into typed fields, each remembered with the
// line and column it came from. The site generator, the checks, the game-day
// harness and the exporters all read plans through this package.
package plan

import (
	"path"
	"strings"
	"time"
)

// Kinds of plan, each with its own required sections (SPEC 1.1).
const (
	KindRollout           = "rollout"
	KindDeployment        = "deployment"
	KindRollback          = "rollback"
	KindAutomatedRollback = "automated-rollback"
	KindProcess           = "process"
	// KindAlert is an alert runbook: one page per alerting rule (SPEC 4).
	KindAlert = "alert"
)

// Kinds lists every plan kind in a stable order.
var Kinds = []string{KindRollout, KindDeployment, KindRollback, KindAutomatedRollback, KindProcess, KindAlert}

// Plan is one Markdown source file: front matter and body.
type Plan struct {
	// Path is the file's path relative to the content folder, with slashes.
	Path string `yaml:"-"`
	// Section is true for a folder's index page (IndexNames) that is not
	// itself a plan: it lists the folder.
	Section bool `yaml:"-"`
	// HasFrontMatter is false for plain Markdown files.
	HasFrontMatter bool `yaml:"-"`
	// Body is the Markdown after the front matter; BodyLine is its first
	// line in the file (1-based), so rendered positions map back to it.
	Body     []byte `yaml:"-"`
	BodyLine int    `yaml:"-"`

	Title          string        `yaml:"title"`
	Kind           string        `yaml:"kind" enum:"rollout,deployment,rollback,automated-rollback,process,alert"`
	Service        string        `yaml:"service"`
	Owners         []string      `yaml:"owners"`
	Tags           []string      `yaml:"tags"`
	Environments   []string      `yaml:"environments"`
	Infrastructure string        `yaml:"infrastructure" enum:"kubernetes,vm,serverless,containers,database"`
	Change         Change        `yaml:"change"`
	Risk           string        `yaml:"risk" enum:"low,medium,high"`
	Reviewed       Date          `yaml:"reviewed"`
	Window         Window        `yaml:"window"`
	Approvals      []string      `yaml:"approvals"`
	Strategy       Strategy      `yaml:"strategy"`
	Analysis       Analysis      `yaml:"analysis"`
	Triggers       []Trigger     `yaml:"triggers"`
	Rollback       Rollback      `yaml:"rollback"`
	Migrations     []Migration   `yaml:"migrations"`
	Flags          []Flag        `yaml:"flags"`
	HealthChecks   []HealthCheck `yaml:"health_checks"`
	Contacts       Contacts      `yaml:"contacts"`
	Communication  []Message     `yaml:"communication"`
	Gameday        Gameday       `yaml:"gameday"`
	// Inputs are the values the page's commands need, written in code
	// blocks as {{ .name }} placeholders (SPEC 2.1).
	Inputs []Input `yaml:"inputs"`

	// Alert runbooks (kind: alert): the alerting rules the page explains,
	// and their severity. With no alert: the file name is the alert name.
	Alert    Names  `yaml:"alert"`
	Severity string `yaml:"severity"`

	// Hugo-style page keys.
	Description string   `yaml:"description"`
	Date        Date     `yaml:"date"`
	Lastmod     Date     `yaml:"lastmod"`
	Draft       bool     `yaml:"draft"`
	Weight      int      `yaml:"weight"`
	Aliases     []string `yaml:"aliases"`
	Slug        string   `yaml:"slug"`
	URL         string   `yaml:"url"`

	// Params keeps front-matter keys rollbook does not know, as decoded YAML.
	Params map[string]any `yaml:"-"`

	pos    map[string]Pos
	quoted map[string]bool // text values written in quotes, by path
}

// Change describes what is being changed.
type Change struct {
	Type    string `yaml:"type"`
	From    string `yaml:"from"`
	To      string `yaml:"to"`
	Summary string `yaml:"summary"`
}

// Window is the change window.
type Window struct {
	Start    Time     `yaml:"start"`
	Duration Duration `yaml:"duration"`
	Downtime Duration `yaml:"downtime"`
}

// Strategy is how traffic moves to the new release.
type Strategy struct {
	Type  string `yaml:"type" enum:"canary,blue-green,rolling,feature-flag"`
	Steps []Step `yaml:"steps"`
}

// Step is one traffic weight (percent) and how long to bake at it.
type Step struct {
	Weight int      `yaml:"weight"`
	Bake   Duration `yaml:"bake"`
}

// Analysis says how often triggers are evaluated.
type Analysis struct {
	Interval Duration `yaml:"interval"`
	NoData   NoData   `yaml:"no_data"`
}

// NoData says what follows windows whose analysis is inconclusive (no
// series, NaN, fewer than min_requests): no data is never a pass.
type NoData struct {
	After int    `yaml:"after"`
	Then  string `yaml:"then" enum:"hold,rollback"`
}

// DefaultNoDataAfter is how many inconclusive windows in a row are
// tolerated when the plan does not say.
const DefaultNoDataAfter = 3

// Windows is how many inconclusive windows in a row set the policy off.
func (n NoData) Windows() int {
	if n.After < 1 {
		return DefaultNoDataAfter
	}
	return n.After
}

// Rollback reports whether no data rolls back; the default holds the
// release where it is and pages.
func (n NoData) Rollback() bool { return n.Then == "rollback" }

// Trigger is one condition that makes a release bad.
type Trigger struct {
	Metric      string    `yaml:"metric"`
	Compare     string    `yaml:"compare" enum:"baseline,absolute"`
	Max         Threshold `yaml:"max"`
	Min         Threshold `yaml:"min"`
	MaxDelta    Percent   `yaml:"max_delta"`
	Window      Duration  `yaml:"window"`
	MinRequests int       `yaml:"min_requests"`
	Consecutive int       `yaml:"consecutive"`
	Endpoint    string    `yaml:"endpoint"`
	Failures    int       `yaml:"failures"`
	Query       string    `yaml:"query"`
}

// IsRatio reports whether the trigger's metric is a ratio of requests
// (an error or success rate), which needs min_requests to be meaningful.
func (t Trigger) IsRatio() bool {
	m := strings.ToLower(t.Metric)
	return strings.HasSuffix(m, "_rate") || strings.HasSuffix(m, "_ratio") || strings.Contains(m, "error") && !strings.Contains(m, "count")
}

// IsHealth reports whether the trigger counts failed health probes.
func (t Trigger) IsHealth() bool { return t.Metric == "health" }

// Consecutives returns how many bad analyses in a row fire the trigger (at least 1).
func (t Trigger) Consecutives() int {
	if t.Consecutive < 1 {
		return 1
	}
	return t.Consecutive
}

// Rollback is the plan's rollback policy.
type Rollback struct {
	Class         string       `yaml:"class" enum:"instant,fast,complex,irreversible"`
	Target        Duration     `yaml:"target"`
	Automatic     bool         `yaml:"automatic"`
	DecisionMaker string       `yaml:"decision_maker"`
	MaxAutomatic  MaxAutomatic `yaml:"max_automatic"`
}

// MaxAutomatic caps automatic rollbacks: beyond Count per Per, a human decides.
type MaxAutomatic struct {
	Count int      `yaml:"count"`
	Per   Duration `yaml:"per"`
}

// Migration is a schema change shipped with the release.
type Migration struct {
	ID    string `yaml:"id"`
	File  string `yaml:"file"`
	Phase string `yaml:"phase" enum:"expand,contract,migrate"`
	// Runs is when the migration runs in the rollout (SPEC 3.3); "" takes
	// the default Timing gives. Read it through Timing.
	Runs string `yaml:"runs" enum:"pre-deploy,post-deploy,during-deploy,manual"`
	// AtStep is the 1-based index into strategy.steps a during-deploy
	// migration runs at.
	AtStep     int  `yaml:"at_step"`
	Reversible bool `yaml:"reversible"`
	// LockBudget is the longest a drill lets the migration block the
	// service's queries (migration-lock); 0 takes rollbook.yaml's
	// gameday.lock_budget.
	LockBudget Duration `yaml:"lock_budget"`
}

// Flag is a feature flag the change uses.
type Flag struct {
	Name    string `yaml:"name"`
	Type    string `yaml:"type" enum:"release,kill-switch,experiment,ops,permission"`
	Default bool   `yaml:"default"`
	Rollout []int  `yaml:"rollout"`
	Owner   string `yaml:"owner"`
	Cleanup Date   `yaml:"cleanup"`
}

// HealthCheck is a probe or a post-deploy check.
type HealthCheck struct {
	Name             string   `yaml:"name"`
	Type             string   `yaml:"type" enum:"probe,post-deploy,synthetic,smoke"`
	Endpoint         string   `yaml:"endpoint"`
	Command          string   `yaml:"command"`
	Interval         Duration `yaml:"interval"`
	FailureThreshold int      `yaml:"failure_threshold"`
}

// Contacts says who to page.
type Contacts struct {
	Primary    string   `yaml:"primary"`
	Secondary  string   `yaml:"secondary"`
	Escalation []string `yaml:"escalation"`
}

// Message is one scheduled communication.
type Message struct {
	When     string `yaml:"when"`
	Audience string `yaml:"audience"`
	Channel  string `yaml:"channel"`
	Message  string `yaml:"message"`
}

// Gameday says when and how the plan's policy is drilled.
type Gameday struct {
	Schedule  Cron     `yaml:"schedule"`
	Scenarios []string `yaml:"scenarios" enumof:"scenario"` // names from internal/scenario
	// Service and Database name the team's own service (SPEC 3.1); without
	// them the drill runs the built-in demo service.
	Service  GamedayService  `yaml:"service"`
	Database GamedayDatabase `yaml:"database"`
}

// Names is a list of names that front matter may also write as one
// value: alert: KubePodCrashLooping or alert: [A, B].
type Names []string

// AlertNames returns the alerts an alert runbook explains: its alert:
// key, else its file name (KubePodCrashLooping.md). Other pages have none.
func (p *Plan) AlertNames() []string {
	if p.Kind != KindAlert || p.Section {
		return nil
	}
	if len(p.Alert) > 0 {
		return p.Alert
	}
	base := path.Base(p.Path)
	base = strings.TrimSuffix(base, path.Ext(base))
	if base == "index" || base == "README" {
		base = path.Base(path.Dir(p.Path))
	}
	return []string{base}
}

// Pos is a 1-based position in the plan's source file.
type Pos struct {
	Line, Col int
}

// Pos returns where the front-matter value at path was written, for example
// "triggers[1].window" or "rollback". A path not written in the file yields
// the position of its nearest written parent, or line 1.
func (p *Plan) Pos(path string) Pos {
	for path != "" {
		if ps, ok := p.pos[path]; ok {
			return ps
		}
		i := strings.LastIndexAny(path, ".[")
		if i < 0 {
			break
		}
		path = path[:i]
	}
	return Pos{Line: 1, Col: 1}
}

// QuoteWidth is 1 when the text value at path was written in quotes (its
// position is the quote's), else 0: a column inside the value is then
// Pos(path).Col + QuoteWidth(path) + offset.
func (p *Plan) QuoteWidth(path string) int {
	if p.quoted[path] {
		return 1
	}
	return 0
}

// Has reports whether the front matter sets the value at path.
func (p *Plan) Has(path string) bool {
	_, ok := p.pos[path]
	return ok
}

// IsPlan reports whether the page is a plan (has a kind), not a plain page.
func (p *Plan) IsPlan() bool { return p.Kind != "" && !p.Section }

// ReviewedAt returns the last review date, or the zero time.
func (p *Plan) ReviewedAt() time.Time { return p.Reviewed.Time }
