// Package gameday runs game-day drills: it takes the rollback policy written
// in a plan, starts the service in containers, ships a deliberately bad
// canary and proves that the triggers fire, the rollback completes and the
// migration guard blocks. Its controller is the plan's policy as a state
// machine, the one table of internal/rollout; the same controller runs
// against fakes in tests. A Session drills plans one after another, for
// `gameday run` and `gameday due`.
package gameday

import (
	"fmt"
	"math"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/rollbook/rollbook/internal/analysis"
	"github.com/rollbook/rollbook/internal/metricquery"
	"github.com/rollbook/rollbook/internal/migrate"
	"github.com/rollbook/rollbook/internal/plan"
	"github.com/rollbook/rollbook/internal/scenario"
)

// Policy is a plan's rollout and rollback policy in drill time.
type Policy struct {
	Plan     string // plan path, for reports
	Service  string
	Steps    []plan.Step
	Interval time.Duration // plan time
	Triggers []plan.Trigger
	// Checks are the triggers' exported analysis (query and conditions),
	// which the drill sends to its Prometheus; NoData is what follows
	// windows without data.
	Checks []metricquery.Check
	NoData plan.NoData
	// ServiceMetrics and ServicePort are the team's own service's metrics
	// endpoint (gameday.service.metrics), which the drill's Prometheus
	// scrapes as well; "" for the demo service.
	ServiceMetrics string
	ServicePort    int
	Rollback       plan.Rollback
	// Migrations are the canary's migrations in the plan's order, with
	// when each runs; Contract is what the analyser found in them.
	Migrations []Migration
	Contract   []migrate.Finding
	// OwnService is the team's own service (gameday.service), nil for
	// the built-in demo service.
	OwnService *ServicePlan

	// Scale divides every plan duration: 120 runs a 2-minute window in one
	// second. Rate is the load generator's requests per second.
	Scale float64
	Rate  float64
	// LockBudget is the longest a migration may block the service's
	// queries (rollbook.yaml's gameday.lock_budget; 0: DefaultLockBudget),
	// unless its own lock_budget says otherwise.
	LockBudget time.Duration
}

// DefaultLockBudget is how long a migration may block the service's
// queries when neither the plan nor rollbook.yaml says: a request held a
// second is one a user notices, and longer than most services' p99.
const DefaultLockBudget = time.Second

// lockBudget is the budget migration m is held to.
func (p Policy) lockBudget(m Migration) time.Duration {
	switch {
	case m.LockBudget > 0:
		return m.LockBudget
	case p.LockBudget > 0:
		return p.LockBudget
	}
	return DefaultLockBudget
}

// latencyLimit is the latency trigger's threshold (the lowest, when
// several), or 0 without one: the requests over it are the slow ones.
func (p Policy) latencyLimit() time.Duration {
	var d time.Duration
	for _, t := range p.Triggers {
		if t.Max.Set && t.Max.Unit == "s" && (d == 0 || t.Max.Duration() < d) {
			d = t.Max.Duration()
		}
	}
	return d
}

// DefaultRate is the drill's load, requests per second: what two cores
// serve through router, fault injector, app and database with headroom.
const DefaultRate = 800

// PolicyFromPlan reads the policy of p, whose file is in planDir, and
// classifies its migrations. scale 0 picks one that runs the whole canary
// in about 15 seconds while every window still holds a second of traffic.
func PolicyFromPlan(p *plan.Plan, planDir string, scale, rate float64) (Policy, error) {
	return policyFromPlan(p, planDir, scale, rate, nil)
}

// policyFromPlan is PolicyFromPlan with a site's promql: queries, which
// map the triggers rollbook has no query of its own for.
func policyFromPlan(p *plan.Plan, planDir string, scale, rate float64, promql map[string]string) (Policy, error) {
	if !p.IsPlan() {
		return Policy{}, fmt.Errorf("%s is not a plan (no kind)", p.Path)
	}
	if len(p.Triggers) == 0 {
		return Policy{}, fmt.Errorf("%s has no triggers to drill: add triggers to its front matter", p.Path)
	}
	checks, err := analysis.Checks(p, promql)
	if err != nil {
		return Policy{}, err
	}
	pol := Policy{Plan: p.Path, Service: p.Service, Steps: p.Strategy.Steps, Interval: p.Analysis.Interval.D(), Triggers: p.Triggers, Checks: checks, NoData: p.Analysis.NoData, ServiceMetrics: p.Gameday.Service.Metrics, ServicePort: p.Gameday.Service.Port, Rollback: p.Rollback, Scale: scale, Rate: rate}
	if len(pol.Steps) == 0 {
		pol.Steps = []plan.Step{{Weight: 100}}
	}
	if pol.Interval == 0 {
		pol.Interval = 30 * time.Second
	}
	if pol.Rate <= 0 {
		pol.Rate = DefaultRate
	}
	for i, m := range p.Migrations {
		if m.File == "" {
			continue
		}
		if err := drillable(p, i, pol.Steps); err != nil {
			return Policy{}, err
		}
		file := filepath.Join(planDir, filepath.FromSlash(m.File))
		if err := pol.AddMigration(file); err != nil {
			return Policy{}, err
		}
		added := &pol.Migrations[len(pol.Migrations)-1]
		if m.ID != "" {
			added.ID = m.ID
		}
		added.Contract = added.Contract || m.Phase == "contract"
		added.Timing = m.Timing(added.Contract)
		added.LockBudget = m.LockBudget.D()
	}
	if p.Gameday.Service.Defined() {
		pol.OwnService = &ServicePlan{GamedayService: p.Gameday.Service, Database: p.Gameday.Database, Dir: planDir, plan: p}
	}
	if pol.Scale <= 0 {
		var bake time.Duration
		for _, s := range pol.Steps {
			bake += s.Bake.D()
		}
		pol.Scale = math.Max(1, bake.Seconds()/15)
		if w := pol.minWindow(); w > 0 {
			pol.Scale = math.Min(pol.Scale, w.Seconds()/1.0)
		}
		pol.Scale = math.Max(1, pol.Scale)
	}
	return pol, nil
}

// drillable refuses a migration whose timing a drill cannot follow, at
// its line and column with what to write instead: plan.Timing.Misplaced,
// the rule rollbook check reports as migration-at-step.
func drillable(p *plan.Plan, i int, steps []plan.Step) error {
	m := p.Migrations[i]
	key := fmt.Sprintf("migrations[%d]", i)
	at := func(field string) string {
		pos := p.Pos(key + "." + field)
		return fmt.Sprintf("%s:%d:%d", p.Path, pos.Line, pos.Col)
	}
	if bad, ok := m.Timing(m.Phase == "contract").Misplaced(steps, p.Has(key+".at_step")); ok {
		return fmt.Errorf("%s: migration %s %s; a drill cannot follow it: %s", at(bad.Field), m.ID, bad.Problem, bad.Fix)
	}
	return nil
}

// Refuse says why scenario sc cannot be drilled on this policy: an
// incompatible-migration drill of the team's own service needs a
// migration the drill applies, and a manual one never is.
func (p Policy) Refuse(sc scenario.Scenario) error {
	if sc.Inject.LongReader > 0 {
		applied := p.OwnService != nil && slices.ContainsFunc(p.Migrations, Migration.Applied)
		if !applied {
			return fmt.Errorf("%s: scenario %s runs the plan's migrations behind a long query, and this plan has none the drill applies on its own service: give a migration a file and a runs: other than manual, and name the service in gameday.service, or leave the scenario out", p.Plan, sc.Name)
		}
		return nil
	}
	if !sc.Inject.Contract || p.OwnService == nil || p.Shape() != scenario.ShapeNone {
		return nil
	}
	for _, m := range p.Migrations {
		if !m.Applied() {
			return fmt.Errorf("%s: scenario %s needs a migration the drill applies, and %s is runs: manual (a drill never applies one): give it the runs: it will have in production (pre-deploy, during-deploy with at_step, post-deploy), or leave the scenario out", p.Plan, sc.Name, m.ID)
		}
	}
	return nil
}

// ServicePlan is a plan's gameday.service and gameday.database, with the
// plan's folder that their paths are relative to.
type ServicePlan struct {
	plan.GamedayService
	Database plan.GamedayDatabase
	Dir      string
	plan     *plan.Plan // for the positions of its values in errors
}

// at is where the front-matter value at path was written, as file:line:col.
func (s *ServicePlan) at(path string) string {
	if s.plan == nil {
		return "gameday.database"
	}
	pos := s.plan.Pos(path)
	return fmt.Sprintf("%s:%d:%d", s.plan.Path, pos.Line, pos.Col)
}

// Migration is one of the plan's migrations as a drill runs it.
type Migration struct {
	ID   string // the plan's id, or the file's name
	File string // on disk
	// Timing is when the plan says it runs (plan.Migration.Timing).
	Timing   plan.Timing
	Contract bool
	// Findings are the contract changes the analyser found in its SQL;
	// Statements every classified statement, Locks the statements that
	// take a heavy lock (with the lock and the safe way to write them).
	Findings   []migrate.Finding
	Statements []migrate.Finding
	Locks      []migrate.Finding
	// LockBudget is the plan's lock_budget for it (0: the policy's).
	LockBudget time.Duration
}

// Tables are the names m's statements change, as the analysis writes
// them: a table, or table.column, so both the name and its table are
// given; the caller keeps those that are relations.
func (m Migration) Tables() []string {
	var out []string
	add := func(t string) {
		if t != "" && t != "?" && !strings.Contains(t, ",") && !slices.Contains(out, t) {
			out = append(out, t)
		}
	}
	for _, f := range append(append([]migrate.Finding(nil), m.Statements...), m.Locks...) {
		if i := strings.LastIndexByte(f.Object, '.'); i > 0 {
			add(f.Object[:i])
		}
		add(f.Object)
	}
	return out
}

// Applied reports whether a drill applies m at all (manual ones never).
func (m Migration) Applied() bool { return m.Timing.Runs != plan.RunsManual }

// Shape is what the plan's migrations make of a drill (scenario.Shape):
// whether rolling back must be safe, or a contract runs before or after
// the previous release stops taking traffic.
func (p Policy) Shape() scenario.Shape {
	if p.OwnService == nil {
		return scenario.ShapeDemo
	}
	shape := scenario.ShapeNone
	for _, m := range p.Migrations {
		if !m.Applied() {
			continue
		}
		switch {
		case m.Contract && m.Timing.PreviousServes(p.Steps):
			return scenario.ShapeContractBefore
		case m.Contract:
			shape = scenario.ShapeContractAfter
		case shape == scenario.ShapeNone:
			shape = scenario.ShapeExpand
		}
	}
	return shape
}

// ExpandOnly reports whether the plan's own migrations hold no contract
// change: its incompatible-migration drill proves rollback safe instead.
func (p Policy) ExpandOnly() bool { return p.Shape() == scenario.ShapeExpand }

// AddMigration adds a canary migration that runs before step 1 and
// classifies it; PolicyFromPlan then sets its id and timing from the plan.
func (p *Policy) AddMigration(file string) error {
	res, err := migrate.AnalyzeFile(file)
	if err != nil {
		return fmt.Errorf("migration guard: %w", err)
	}
	m := Migration{ID: strings.TrimSuffix(filepath.Base(file), filepath.Ext(file)), File: file, Timing: plan.Timing{Runs: plan.RunsPreDeploy}}
	m.Statements, m.Locks = res.Findings, res.Locks
	for _, f := range res.Findings {
		if f.Phase == migrate.Contract {
			m.Contract = true
			f.Statement = filepath.Base(file) + ": " + f.Statement
			m.Findings = append(m.Findings, f)
			p.Contract = append(p.Contract, f)
		}
	}
	p.Migrations = append(p.Migrations, m)
	return nil
}

func (p Policy) minWindow() time.Duration {
	var w time.Duration
	for _, t := range p.Triggers {
		if t.Window > 0 && (w == 0 || t.Window.D() < w) {
			w = t.Window.D()
		}
	}
	return w
}

func (p Policy) maxWindow() time.Duration {
	var w time.Duration
	for _, t := range p.Triggers {
		if t.Window.D() > w {
			w = t.Window.D()
		}
	}
	return w
}

// D converts a plan duration to drill time.
func (p Policy) D(d time.Duration) time.Duration {
	return time.Duration(float64(d) / p.Scale)
}

// DrillWeight is the canary weight a step runs at in the drill: the plan's
// weight, raised where needed so that each compressed window still holds
// min_requests canary requests at the drill's rate.
func (p Policy) DrillWeight(step plan.Step) int {
	need := 0.0
	for _, t := range p.Triggers {
		if t.MinRequests > 0 && t.Window > 0 {
			w := p.D(t.Window.D()).Seconds()
			// 1.5x headroom: the load generator's real rate wobbles on a busy machine.
			if n := 1.5 * float64(t.MinRequests) / (p.Rate * w) * 100; n > need {
				need = n
			}
		}
	}
	w := step.Weight
	if float64(w) < need {
		w = int(math.Ceil(need))
	}
	return min(w, 100)
}
