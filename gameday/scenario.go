package gameday

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/rollbook/rollbook/internal/drillreport"
	"github.com/rollbook/rollbook/internal/metricquery"
	"github.com/rollbook/rollbook/internal/plan"
	"github.com/rollbook/rollbook/internal/scenario"
)

// Scenarios are the drills of SPEC 3, in the order they run (the names of
// internal/scenario's table).
var Scenarios = scenario.Names()

// Assertion is one check of a drill, with what was seen.
type Assertion = drillreport.Assertion

// facts are what assertions look at, read from the controller's typed
// events afterwards.
type facts struct {
	final         State
	pages         int
	pageText      string
	injectedAt    time.Duration
	triggerAt     time.Duration
	trigger       string
	rolledBackAt  time.Duration
	rollbacks     int
	weightAtTrig  int
	finalWeight   int
	weightRaised  bool // a weight above 0 set after the rollback began
	canaryStopped bool
	afterErrRate  float64
	baseErrRate   float64
	afterCanary   float64
	smokePassed   *bool // the dynamic guard's last verdict on the stable release
	// migrations are the migration events, each with the guard's
	// verdicts right after it; preflight the canary's smoke verdict
	// before step 1 (nil: not run).
	migrations []drillreport.MigrationRun
	preflight  *Event
	// decidedAt is when the controller reached its final state.
	decidedAt time.Duration
	// inconclusive counts analysis results without a verdict;
	// passedAfterMissing the passes once a window has passed since the
	// injection (metrics-missing).
	inconclusive       int
	passedAfterMissing int
	// longReaders counts the long read transactions started before a
	// migration (migration-behind-long-query).
	longReaders int
}

func collect(evs []Event, window time.Duration) facts {
	f := facts{injectedAt: -1, triggerAt: -1, rolledBackAt: -1, decidedAt: -1}
	rollingBack := false
	weight := 0
	for _, e := range evs {
		switch e.Type {
		case drillreport.EventInjection:
			if f.injectedAt < 0 {
				f.injectedAt = e.At
			}
		case drillreport.EventTrigger:
			if f.triggerAt < 0 {
				f.triggerAt = e.At
				f.weightAtTrig = weight
				f.trigger = e.Trigger
			}
		case drillreport.EventTraffic:
			if e.Weight != nil {
				weight = *e.Weight
			}
			if rollingBack && weight > 0 {
				f.weightRaised = true
			}
		case drillreport.EventState:
			if e.State == RollingBack {
				rollingBack = true
				f.rollbacks++
			}
			if e.State == RolledBack {
				f.rolledBackAt = e.At
			}
			if e.State.Final() && f.decidedAt < 0 {
				f.decidedAt = e.At
			}
			f.final = e.State
		case drillreport.EventPage:
			if e.Page != nil {
				f.pages++
				f.pageText += e.Page.Summary + ": " + e.Page.Reason + "\n"
			}
		case drillreport.EventMigration:
			if e.Migration != nil {
				f.migrations = append(f.migrations, *e.Migration)
			}
		case drillreport.EventLongReader:
			f.longReaders++
		case drillreport.EventGuard:
			switch {
			case e.SmokePassed == nil:
			case e.Migration != nil && len(f.migrations) > 0 && f.migrations[len(f.migrations)-1].ID == e.Migration.ID:
				m := &f.migrations[len(f.migrations)-1]
				m.Guard = append(m.Guard, drillreport.SmokeVerdict{Release: e.Release, Passed: *e.SmokePassed, Share: shareOf(e.Release, m.Weight), Detail: e.Error})
			case e.Migration == nil && e.Release == "canary":
				ev := e
				f.preflight = &ev
			}
			if e.SmokePassed != nil && e.Release != "canary" {
				f.smokePassed = e.SmokePassed
			}
		case drillreport.EventAction:
			if e.Action == drillreport.ActionCanaryStopped {
				f.canaryStopped = true
			}
		case drillreport.EventAnalysis:
			for _, r := range e.Results {
				if r.Verdict == metricquery.Inconclusive && !r.Pending {
					f.inconclusive++
				}
				if r.Verdict == metricquery.Pass && r.Unit != "probes" && f.injectedAt >= 0 && e.At-f.injectedAt > window {
					f.passedAfterMissing++
				}
			}
		}
	}
	f.finalWeight = weight
	return f
}

func shareOf(release string, canaryWeight int) int {
	if release == "canary" {
		return canaryWeight
	}
	return 100 - canaryWeight
}

// broken is the first guard verdict that found a release failing while
// it took traffic, with its migration.
func (f facts) broken() (drillreport.MigrationRun, drillreport.SmokeVerdict, bool) {
	for _, m := range f.migrations {
		for _, v := range m.Guard {
			if !v.Passed && v.Share > 0 {
				return m, v, true
			}
		}
	}
	return drillreport.MigrationRun{}, drillreport.SmokeVerdict{}, false
}

func check(name string, ok bool, format string, args ...any) Assertion {
	return Assertion{Name: name, Passed: ok, Message: fmt.Sprintf(format, args...)}
}

// assertions returns what the scenario must show (its row of the table).
func assertions(s scenario.Scenario, kinds []scenario.Assertion, p Policy, f facts) []Assertion {
	var out []Assertion
	for _, a := range kinds {
		if r, ok := assert(a, s, p, f); ok {
			out = append(out, r)
		}
	}
	return out
}

// assert evaluates one kind of assertion; ok is false when it does not
// apply (a window check without a trigger).
func assert(a scenario.Assertion, s scenario.Scenario, p Policy, f facts) (Assertion, bool) {
	fired := f.triggerAt >= 0
	ttd := f.triggerAt - f.injectedAt
	switch a {
	case scenario.TriggerFires:
		if s.Trigger != "" {
			return check("trigger fires", fired && strings.Contains(f.trigger, s.Trigger), "trigger %q fired %s after injection", f.trigger, ttd.Round(time.Millisecond)), true
		}
		return check("trigger fires", fired, "trigger %q fired", f.trigger), true
	case scenario.TriggerWithinWindow:
		if !fired {
			return Assertion{}, false
		}
		limit := triggerLimit(p, f.trigger) + p.D(p.maxWindow())
		return check("trigger fires within its window", ttd <= limit, "time to detect %s, limit %s (window, consecutive analyses and one interval, in drill time)", ttd.Round(time.Millisecond), limit.Round(time.Millisecond)), true
	case scenario.RollbackWithinTarget:
		ttr := f.rolledBackAt - f.triggerAt
		target := p.D(p.Rollback.Target.D())
		return check("rollback completes within rollback.target", f.final == RolledBack && f.rolledBackAt >= 0 && (target == 0 || ttr <= target), "final state %s, time to roll back %s, target %s (%s in plan time)", f.final, ttr.Round(time.Millisecond), target.Round(time.Millisecond), p.Rollback.Target), true
	case scenario.TrafficBackOnStable:
		return check("traffic back on stable", f.finalWeight == 0 && f.canaryStopped, "canary weight %d%%, canary stopped: %v", f.finalWeight, f.canaryStopped), true
	case scenario.ErrorsBackToBaseline:
		return check("errors back to baseline", f.afterCanary == 0 && f.afterErrRate <= f.baseErrRate+0.01, "after the rollback: %.2f%% errors (baseline %.2f%%), %.0f canary requests", f.afterErrRate*100, f.baseErrRate*100, f.afterCanary), true
	case scenario.NoTrigger:
		return check("no trigger fires", !fired, "trigger fired: %v %s", fired, f.trigger), true
	case scenario.PromotedFully:
		return check("canary promoted to 100%", f.final == Promoted && f.finalWeight == 100, "final state %s at %d%%", f.final, f.finalWeight), true
	case scenario.RollbackBlocked:
		return check("automatic rollback is blocked", f.rollbacks == 0 && f.final == Halted, "rollbacks started: %d, final state %s", f.rollbacks, f.final), true
	case scenario.PagedWithReason:
		name := "page sent"
		if s.PageReason == "migration" {
			name = "a page is sent with the reason"
		}
		return check(name, f.pages >= 1 && strings.Contains(f.pageText, s.PageReason), "pages: %d: %s", f.pages, strings.TrimSpace(f.pageText)), true
	case scenario.TrafficStaysPut:
		return check("traffic stays put", f.finalWeight == f.weightAtTrig && !f.canaryStopped, "weight at trigger %d%%, at the end %d%%, canary stopped: %v", f.weightAtTrig, f.finalWeight, f.canaryStopped), true
	case scenario.RollbackOnce:
		return check("rollback attempted once", f.rollbacks == 1, "rollbacks started: %d", f.rollbacks), true
	case scenario.HaltedAndPaged:
		return check("then halted and paged", f.final == Halted && f.pages >= 1, "final state %s, pages %d", f.final, f.pages), true
	case scenario.NoThrashing:
		return check("no thrashing", !f.weightRaised, "canary weight raised again after the rollback began: %v", f.weightRaised), true
	case scenario.StableSmokeFails:
		return check("the stable release's smoke checks fail against the migrated database", f.smokePassed != nil && !*f.smokePassed, "dynamic guard verdict: %s", verdict(f.smokePassed)), true
	case scenario.StableSmokePasses:
		return check("the stable release's smoke checks pass after the canary's migrations (rollback is safe)", f.smokePassed != nil && *f.smokePassed, "dynamic guard verdict: %s", verdict(f.smokePassed)), true
	case scenario.NotPromoted:
		return check("no promotion", f.final != Promoted && f.finalWeight < 100, "final state %s at %d%%", f.final, f.finalWeight), true
	case scenario.InconclusiveShown:
		return check("inconclusive analyses shown, none passed", f.inconclusive > 0 && f.passedAfterMissing == 0, "%d inconclusive analyses on the timeline, %d passes after the metrics stopped", f.inconclusive, f.passedAfterMissing), true
	case scenario.MigrationsFollowRuns:
		var bad, seen []string
		for _, m := range f.migrations {
			seen = append(seen, fmt.Sprintf("%s %s: %s", m.ID, m.Runs, ranAt(m)))
			if why := p.offSchedule(m); why != "" {
				bad = append(bad, why)
			}
		}
		msg := strings.Join(seen, "; ")
		if len(bad) > 0 {
			msg = strings.Join(bad, "; ")
		}
		return check("each migration runs when its runs: says", len(bad) == 0, "%s", msg), true
	case scenario.GuardAfterEachMigration:
		var missing, seen []string
		for _, m := range f.migrations {
			if !m.Applied {
				continue
			}
			if len(m.Guard) == 0 {
				missing = append(missing, m.ID)
				continue
			}
			var vs []string
			for _, v := range m.Guard {
				vs = append(vs, fmt.Sprintf("%s %s", v.Release, passFail(v.Passed)))
			}
			seen = append(seen, m.ID+": "+strings.Join(vs, ", "))
		}
		if len(missing) > 0 {
			return check("the guard's smoke checks run after each migration", false, "no smoke verdict after %s", strings.Join(missing, ", ")), true
		}
		return check("the guard's smoke checks run after each migration", true, "%s", strings.Join(seen, "; ")), true
	case scenario.NoServingReleaseBroken:
		if m, v, ok := f.broken(); ok {
			return check("no migration breaks a release while it serves traffic", false, "migration %s broke the %s release while it served %d%% of traffic: %s", m.ID, v.Release, v.Share, v.Detail), true
		}
		return check("no migration breaks a release while it serves traffic", true, "every release that served traffic passed its smoke checks after each migration"), true
	case scenario.ContractAfterPromotion:
		for _, m := range f.migrations {
			if m.Contract && m.Applied {
				ok := m.Weight == 100 && (f.triggerAt < 0 || m.At <= f.triggerAt)
				return check("the contract migration runs after promotion, before the regression", ok, "%s ran with the canary at %d%% at %s; trigger at %s", m.ID, m.Weight, m.At.Round(time.Millisecond), at(f.triggerAt)), true
			}
		}
		return check("the contract migration runs after promotion, before the regression", false, "no contract migration was applied (final state %s at %d%%)", f.final, f.finalWeight), true
	case scenario.MigrationLock:
		return lockAssertion(f.migrations), true
	case scenario.LongReaderShown:
		applied := 0
		for _, m := range f.migrations {
			if m.Applied {
				applied++
			}
		}
		return check("a long read transaction held the tables while each migration ran", f.longReaders > 0 && f.longReaders >= applied, "%d long reader(s) for %d applied migration(s)", f.longReaders, applied), true
	case scenario.NoAutomaticAction:
		return check("no automatic action", f.rollbacks == 0 && f.finalWeight == f.weightAtTrig && !f.canaryStopped, "rollbacks %d, weight %d%% → %d%%, canary stopped %v", f.rollbacks, f.weightAtTrig, f.finalWeight, f.canaryStopped), true
	}
	return check(fmt.Sprintf("assertion %d", a), false, "gameday does not know this assertion of scenario %s", s.Name), true
}

// lockAssertion is migration-lock: no applied migration blocked the
// service's queries longer than its lock_budget. The message names the
// statement, the lock it held and the safe way to write it.
func lockAssertion(ms []drillreport.MigrationRun) Assertion {
	const name = "no migration blocks the service's queries past its lock_budget"
	var over, seen []string
	for _, m := range ms {
		l := m.Locks
		if l == nil || !m.Applied && m.Error == "" {
			continue
		}
		b := l.LongestBlock()
		if !l.OverBudget() {
			seen = append(seen, fmt.Sprintf("%s: longest wait %s (budget %s)", m.ID, b.For.Round(time.Millisecond), l.Budget))
			continue
		}
		msg := fmt.Sprintf("migration %s blocked the %s release's queries for %s (lock_budget %s)", m.ID, b.Release, b.For.Round(time.Millisecond), l.Budget)
		if w := l.Worst; w != nil {
			msg += fmt.Sprintf(": %s:%d `%s`", m.File, w.Line, w.Text)
			if w.Lock != "" {
				msg += " held " + w.Lock
			}
			if w.Fix != "" {
				msg += "; fix: " + w.Fix
			}
		}
		if l.Waited > 0 {
			msg += fmt.Sprintf(" (it queued %s for its own locks first)", l.Waited.Round(time.Millisecond))
		}
		over = append(over, msg)
	}
	if len(over) > 0 {
		return check(name, false, "%s", strings.Join(over, "; "))
	}
	if len(seen) == 0 {
		return check(name, true, "no migration was applied")
	}
	return check(name, true, "%s", strings.Join(seen, "; "))
}

// triggerLimit is how long the fired trigger may take: its window, its
// consecutive analyses and one interval, in drill time.
func triggerLimit(p Policy, fired string) time.Duration {
	var w time.Duration
	for _, t := range p.Triggers {
		if t.Metric == fired || w == 0 {
			w = p.D(t.Window.D()) + time.Duration(t.Consecutives()+1)*p.D(p.Interval)
		}
	}
	return w
}

// offSchedule says how m ran against its timing, "" when as planned.
func (p Policy) offSchedule(m drillreport.MigrationRun) string {
	if m.Runs == plan.RunsManual {
		if m.Applied {
			return m.ID + " is manual but the drill applied it"
		}
		return ""
	}
	if !m.Applied {
		return ""
	}
	want := -1
	switch m.Runs {
	case plan.RunsPreDeploy:
		want = 0
	case plan.RunsDuringDeploy:
		if m.AtStep >= 1 && m.AtStep <= len(p.Steps) {
			want = p.DrillWeight(p.Steps[m.AtStep-1])
		}
	case plan.RunsPostDeploy:
		want = 100
	}
	if want >= 0 && m.Weight != want {
		return fmt.Sprintf("%s (%s) ran with the canary at %d%%, not %d%%", m.ID, m.When, m.Weight, want)
	}
	return ""
}

func ranAt(m drillreport.MigrationRun) string {
	switch {
	case m.Error != "":
		return "failed: " + m.Error
	case !m.Applied:
		return "not applied"
	}
	return fmt.Sprintf("applied at %s with the canary at %d%%", m.At.Round(time.Millisecond), m.Weight)
}

func at(d time.Duration) string {
	if d < 0 {
		return "none"
	}
	return d.Round(time.Millisecond).String()
}

func passFail(ok bool) string {
	if ok {
		return "pass"
	}
	return "FAIL"
}

// withMigrationAsserts adds the assertions every drill that applies a
// migration makes, ahead of the scenario's own.
func withMigrationAsserts(asserts []scenario.Assertion) []scenario.Assertion {
	out := append([]scenario.Assertion(nil), scenario.MigrationAsserts...)
	for _, a := range asserts {
		if !slices.Contains(out, a) {
			out = append(out, a)
		}
	}
	return out
}

func verdict(p *bool) string {
	switch {
	case p == nil:
		return "not reached"
	case *p:
		return "smoke passes"
	}
	return "smoke fails"
}
