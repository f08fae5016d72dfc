package gameday

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/rollbook/rollbook/internal/drillreport"
	"github.com/rollbook/rollbook/internal/plan"
)

// impact is what users saw in each phase of the drill, from the router's
// readings: before the trigger (or the controller's decision), while
// rolling back, and after; and the blast radius, the requests that
// failed before the rollback completed (or before the drill ended, when
// nothing was rolled back).
func impact(readings []reading, f facts) ([]drillreport.Impact, *float64) {
	if len(readings) < 2 {
		return nil, nil
	}
	first, last := readings[0], readings[len(readings)-1]
	decided := f.triggerAt
	if decided < 0 {
		decided = f.decidedAt
	}
	type span struct {
		phase    drillreport.Phase
		from, to time.Duration
	}
	var spans []span
	switch {
	case decided < 0:
		spans = append(spans, span{drillreport.PhaseBefore, first.at, last.at})
	case f.rolledBackAt >= 0:
		spans = append(spans, span{drillreport.PhaseBefore, first.at, decided}, span{drillreport.PhaseRollingBack, decided, f.rolledBackAt}, span{drillreport.PhaseAfter, f.rolledBackAt, last.at})
	default:
		spans = append(spans, span{drillreport.PhaseBefore, first.at, decided}, span{drillreport.PhaseAfter, decided, last.at})
	}
	spans = append(spans, span{drillreport.PhaseWhole, first.at, last.at})
	var out []drillreport.Impact
	for _, s := range spans {
		from, to := readingAt(readings, s.from), readingAt(readings, s.to)
		if to.at < from.at {
			continue
		}
		all := both(to.snap.Sub(from.snap))
		out = append(out, drillreport.Impact{Phase: s.phase, From: from.at, To: to.at, Requests: all.Requests, Failed: all.Errors, ErrorRate: all.ErrorRate(), P99: all.Quantile(0.99)})
	}
	end := last
	if f.rolledBackAt >= 0 {
		end = readingAt(readings, f.rolledBackAt)
	}
	blast := both(end.snap.Sub(first.snap)).Errors
	return out, &blast
}

// readingAt is the last reading taken at or before at (the first one
// when none is): counters only grow, so a phase never borrows requests
// from the next.
func readingAt(readings []reading, at time.Duration) reading {
	i, _ := slices.BinarySearchFunc(readings, at, func(r reading, t time.Duration) int {
		switch {
		case r.at < t:
			return -1
		case r.at > t:
			return 1
		}
		return 0
	})
	for i < len(readings) && readings[i].at <= at {
		i++
	}
	return readings[max(i-1, 0)]
}

// migrationRuns is each of the plan's migrations as this drill ran it:
// the timeline's record, or "not reached" for one the release never got to.
func migrationRuns(pol Policy, f facts) []drillreport.MigrationRun {
	if pol.OwnService == nil {
		return nil
	}
	var out []drillreport.MigrationRun
	for _, m := range pol.Migrations {
		i := slices.IndexFunc(f.migrations, func(r drillreport.MigrationRun) bool { return r.ID == m.ID })
		if i >= 0 {
			out = append(out, f.migrations[i])
			continue
		}
		out = append(out, drillreport.MigrationRun{
			ID: m.ID, File: filepath.Base(m.File), Runs: m.Timing.Runs, AtStep: m.Timing.AtStep,
			When: m.Timing.Describe(pol.Steps), Contract: m.Contract,
			Error: fmt.Sprintf("not reached: the release ended %s before it", f.final),
		})
	}
	return out
}

// cannotCanary says why a canary that failed its smoke checks before
// step 1, while migrations it may need are still to come, cannot be
// canaried before they run; "" when that is not what the drill saw.
func cannotCanary(pol Policy, f facts, images []drillreport.Image) string {
	if f.preflight == nil || f.preflight.SmokePassed == nil || *f.preflight.SmokePassed {
		return ""
	}
	var later []Migration
	for _, m := range pol.Migrations {
		if m.Timing.Runs != plan.RunsPreDeploy {
			later = append(later, m)
		}
	}
	if len(later) == 0 {
		return ""
	}
	need := neededBy(later, f.preflight.Error)
	ids := make([]string, len(need))
	for i, m := range need {
		ids[i] = m.ID
	}
	what, it := "migration "+ids[0], ids[0]+" runs"
	if len(ids) > 1 {
		what, it = "migrations "+strings.Join(ids, ", "), "they run"
	}
	return fmt.Sprintf("release %s fails without %s: it cannot be canaried before %s; split the change (expand, write both, contract later). Its smoke checks before step 1: %s",
		imageOf(images, "canary"), what, it, f.preflight.Error)
}

// quoted are the names a database error quotes (column "state" does not
// exist).
var quoted = regexp.MustCompile(`\\?"([A-Za-z_][A-Za-z0-9_]*)\\?"`)

// neededBy narrows later to the migrations whose SQL names what the
// canary's error says is missing; all of them when none does.
func neededBy(later []Migration, failure string) []Migration {
	var out []Migration
	for _, m := range later {
		src, err := os.ReadFile(m.File)
		if err != nil {
			continue
		}
		for _, q := range quoted.FindAllStringSubmatch(failure, -1) {
			if regexp.MustCompile(`(?i)\b` + regexp.QuoteMeta(q[1]) + `\b`).Match(src) {
				out = append(out, m)
				break
			}
		}
	}
	if len(out) == 0 {
		return later
	}
	return out
}

func imageOf(images []drillreport.Image, release string) string {
	for _, im := range images {
		if im.Release == release {
			return im.Ref
		}
	}
	return release
}

// evidenceFor is the failing responses a failed assertion shows.
func evidenceFor(fs []drillreport.Failure) []drillreport.Failure {
	return fs[:min(len(fs), 3)]
}

// headline is the sentence a failed drill leads with, when the drill saw
// users hurt: the migration that broke a serving release, or a canary
// that cannot serve before its migrations.
// needs is cannotCanary's finding.
func headline(rep *Report, f facts, needs string) string {
	if m, v, ok := f.broken(); ok {
		return fmt.Sprintf("migration %s broke the %s release (%s) while it served %d%% of traffic: %s", m.ID, v.Release, imageOf(rep.Images, v.Release), v.Share, v.Detail)
	}
	if needs != "" && len(rep.Failures) > 0 {
		return needs + "; users got: " + rep.Failures[0].String()
	}
	if needs != "" {
		return needs
	}
	for _, m := range rep.Migrations {
		if l := m.Locks; l.OverBudget() {
			b := l.LongestBlock()
			h := fmt.Sprintf("migration %s blocked the %s release's queries for %s (lock_budget %s)", m.ID, b.Release, b.For.Round(10*time.Millisecond), l.Budget)
			if l.Worst != nil && l.Worst.Fix != "" {
				h += ": " + l.Worst.Fix
			}
			return h
		}
	}
	return ""
}
