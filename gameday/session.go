package gameday

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/rollbook/rollbook/internal/drillenv"
	"github.com/rollbook/rollbook/internal/drillreport"
	"github.com/rollbook/rollbook/internal/export"
	"github.com/rollbook/rollbook/internal/plan"
)

// Session drills plans one after another with one set of settings: what
// `gameday run` (one plan) and `gameday due` (every plan whose schedule
// is due) share. The images are built, or found by content hash, once,
// before the first drill; the objects of drills whose runner was killed
// are removed then.
type Session struct {
	// Root is the project folder: the plan files Due is given are
	// relative to it.
	Root string
	// Reports is the folder the reports are written to (drills_dir).
	Reports string
	// AgentBinary is the static rollbook-agent the drill images hold;
	// "" finds or builds one (drillenv.FindAgentBinary).
	AgentBinary string
	// DBImage and PrometheusImage, when set, are images to use instead
	// of building them from the host's PostgreSQL and Prometheus.
	DBImage, PrometheusImage string
	// Scale and Rate are PolicyFromPlan's: 0 runs the whole canary in
	// about 15 s, at DefaultRate.
	Scale, Rate float64
	// Timeout bounds each scenario (0: Run's default).
	Timeout time.Duration
	// PromQL is rollbook.yaml's promql: the site's own queries, which
	// rollbook export writes and so the drill evaluates. Where the
	// drill's Prometheus lacks their series, the analysis is
	// inconclusive and the drill says so.
	PromQL map[string]string
	// LockBudget is rollbook.yaml's gameday.lock_budget (0:
	// DefaultLockBudget).
	LockBudget time.Duration
	Log        *slog.Logger
	// Trace, when set, hears what the session does as it happens.
	Trace *Trace
	// Engine runs the rollouts: the built-in controller ("") or Argo
	// Rollouts on the plan's export, from the programs in ArgoBin
	// (argoengine.FindBin).
	Engine  Engine
	ArgoBin string

	images *images
}

// Trace is what a Session tells its caller as it goes, for a terminal or
// a log. Every field is optional.
type Trace struct {
	// OrphansRemoved: n objects of killed drills were removed before the
	// first drill.
	OrphansRemoved func(n int)
	// BuildingImages: the drill images are being built or found.
	BuildingImages func()
	// Drilling: the drill of p starts, with its policy as drilled (time
	// scale, load) and its scenarios.
	Drilling func(p *plan.Plan, pol Policy, scenarios []string)
	// Scenario: one scenario starts.
	Scenario func(name string)
	// Event: one event of the scenario's timeline, as it happens.
	Event func(Event)
	// Report: a scenario's report, written to jsonPath and xmlPath.
	Report func(rep *Report, jsonPath, xmlPath string)
	// Drilled: every scenario of p ran.
	Drilled func(p *plan.Plan, t Tally)
	// Due: a scheduled plan, due or not, before it is drilled.
	Due func(s Scheduled)
	// Busy: a due plan that another runner has claimed.
	Busy func(s Scheduled)
}

// Tally counts the scenarios a session drilled and those that failed.
type Tally struct {
	Scenarios, Failed int
}

// ErrInterrupted is returned once a cancelled context stopped a session:
// the drill under way was cleaned up and its report, if it had one,
// written.
var ErrInterrupted = errors.New("interrupted: drill containers removed")

// images are the ready image references every drill of a session uses.
type images struct {
	agent, db, prometheus string
}

// prepare builds or finds the drill images, once per session.
func (s *Session) prepare(ctx context.Context) error {
	if s.images != nil {
		return nil
	}
	if err := drillenv.CheckDocker(ctx); err != nil {
		return err
	}
	// Drills of runners that were killed (no reaper runs here) go first.
	if removed, err := drillenv.CleanupOrphans(ctx); err == nil && len(removed) > 0 && s.Trace != nil && s.Trace.OrphansRemoved != nil {
		s.Trace.OrphansRemoved(len(removed))
	}
	bin, err := drillenv.FindAgentBinary(ctx, s.AgentBinary)
	if err != nil {
		return err
	}
	if s.Trace != nil && s.Trace.BuildingImages != nil {
		s.Trace.BuildingImages()
	}
	var im images
	if im.agent, im.db, err = Images(ctx, bin, s.DBImage); err != nil {
		return err
	}
	if im.prometheus, err = PrometheusImage(ctx, s.PrometheusImage); err != nil {
		return err
	}
	s.images = &im
	return nil
}

// policy is p's policy as the session drills it: at the session's time
// scale and load, with rollbook.yaml's queries and lock budget.
func (s *Session) policy(p *plan.Plan, dir string) (Policy, error) {
	pol, err := policyFromPlan(p, dir, s.Scale, s.Rate, s.PromQL)
	if err != nil {
		return Policy{}, err
	}
	pol.LockBudget = s.LockBudget
	return pol, nil
}

// Drill runs the scenarios of plan p, whose file is in dir (none: the
// plan's gameday.scenarios, else every scenario), and writes a report of
// each. A scenario that fails is counted, not returned: the error is for
// a drill that could not run, or ErrInterrupted.
func (s *Session) Drill(ctx context.Context, p *plan.Plan, dir string, scenarios []string) (Tally, error) {
	if len(scenarios) == 0 {
		scenarios = p.Gameday.Scenarios
	}
	if len(scenarios) == 0 {
		scenarios = Scenarios
	}
	pol, err := s.policy(p, dir)
	if err != nil {
		return Tally{}, err
	}
	if err := s.prepare(ctx); err != nil {
		return Tally{}, err
	}
	tr := s.Trace
	if tr == nil {
		tr = &Trace{}
	}
	if tr.Drilling != nil {
		tr.Drilling(p, pol, scenarios)
	}
	var argo *ArgoOptions
	if s.Engine == EngineArgo {
		target, _ := export.TargetFor("argo")
		res, err := target.Export(export.Input{Plan: p, Dir: dir, PromQL: s.PromQL})
		if err != nil {
			return Tally{}, fmt.Errorf("exporting %s for Argo Rollouts: %w", p.Path, err)
		}
		argo = &ArgoOptions{Bin: s.ArgoBin, Export: res.YAML}
	}
	var t Tally
	for _, sc := range scenarios {
		if tr.Scenario != nil {
			tr.Scenario(sc)
		}
		// Each scenario is its own release of the service, with its own
		// automatic-rollback cap.
		opts := RunOptions{Policy: pol, Scenario: sc, AgentImage: s.images.agent, DBImage: s.images.db, PrometheusImage: s.images.prometheus, Timeout: s.Timeout, Ledger: &Ledger{}, Log: s.Log, OnEvent: tr.Event, Engine: s.Engine, Argo: argo}
		rep, err := Run(ctx, opts)
		if err != nil && rep == nil {
			if errors.Is(ctx.Err(), context.Canceled) {
				return t, ErrInterrupted
			}
			return t, err
		}
		if rep == nil {
			continue
		}
		if other := LatestOther(s.Reports, rep); other != nil {
			rep.Disagreements = drillreport.Compare(rep, other)
		}
		jp, xp, err := WriteReport(rep, s.Reports)
		if err != nil {
			return t, err
		}
		t.Scenarios++
		if !rep.Passed {
			t.Failed++
		}
		if tr.Report != nil {
			tr.Report(rep, jp, xp)
		}
		if errors.Is(ctx.Err(), context.Canceled) {
			return t, ErrInterrupted
		}
	}
	if tr.Drilled != nil {
		tr.Drilled(p, t)
	}
	return t, nil
}

// DueOptions says when a Due session runs.
type DueOptions struct {
	// Now is the time schedules are compared with.
	Now time.Time
	// Since, when set, counts schedule activations only after it.
	Since time.Time
	// DryRun lists what is due and drills nothing.
	DryRun bool
}

// Due drills every plan of plans (keyed by file, relative to Root) whose
// schedule fired since its last report. Each due drill is claimed first,
// so several runners started at once (a CI schedule, a CronJob) drill it
// once; a drill that could not run frees its claim for the next runner.
func (s *Session) Due(ctx context.Context, plans map[string]*plan.Plan, o DueOptions) (Tally, error) {
	var total Tally
	for _, d := range DueDrills(plans, s.Reports, o.Now, o.Since) {
		if s.Trace != nil && s.Trace.Due != nil {
			s.Trace.Due(d)
		}
		if !d.Due || o.DryRun {
			continue
		}
		release, ok, err := Claim(s.Reports, d, o.Now)
		if err != nil {
			return total, err
		}
		if !ok {
			if s.Trace != nil && s.Trace.Busy != nil {
				s.Trace.Busy(d)
			}
			continue
		}
		dir := filepath.Dir(d.File)
		if !filepath.IsAbs(dir) {
			dir = filepath.Join(s.Root, dir)
		}
		t, err := s.Drill(ctx, d.Plan, dir, nil)
		release(err == nil)
		total.Scenarios += t.Scenarios
		total.Failed += t.Failed
		if err != nil {
			return total, fmt.Errorf("drilling %s: %w", d.File, err)
		}
	}
	return total, nil
}

// LatestOther is the latest report in dir of rep's plan and scenario that
// another engine wrote, nil when there is none: what rep is compared
// with.
func LatestOther(dir string, rep *Report) *Report {
	reports, _ := drillreport.ReadDir(filepath.Join(dir, plan.Slug(rep.Plan)))
	var latest *Report
	for _, r := range reports {
		if r.Plan != rep.Plan || r.Scenario != rep.Scenario || r.EngineOf() == rep.EngineOf() || r.Backtest != nil {
			continue
		}
		if latest == nil || r.Started.After(latest.Started) {
			latest = r
		}
	}
	return latest
}
