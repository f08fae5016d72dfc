package gameday

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/rollbook/rollbook/internal/content"
	"github.com/rollbook/rollbook/internal/diag"
	"github.com/rollbook/rollbook/internal/drillreport"
	"github.com/rollbook/rollbook/internal/plan"
)

// Scheduled is a plan with a drill schedule and its last recorded drill.
type Scheduled struct {
	Plan    *plan.Plan
	File    string    // the plan's file
	Last    time.Time // start of the newest report, zero if never drilled
	Next    time.Time // the schedule's activation that makes it due
	Due     bool
	Overdue bool // no drill within two schedule periods
	Reason  string
}

// ScheduledPlans reads the plans the site shows (its content scan and
// draft rule, drafts left out) that have a drill schedule, by file path
// from the project root. dir is the content folder on disk and name how
// the project names it ("content"). Plans that do not parse are left out
// and their errors returned.
func ScheduledPlans(ctx context.Context, dir, name string) (map[string]*plan.Plan, diag.List, error) {
	pages, ds, err := content.Plans(ctx, dir, name, false)
	if err != nil {
		return nil, nil, err
	}
	plans := map[string]*plan.Plan{}
	for _, p := range pages {
		if p.Plan.Gameday.Schedule.Schedule != nil {
			plans[p.File] = p.Plan
		}
	}
	return plans, ds, nil
}

// LastDrills returns, per plan path as recorded in reports, the start of
// its newest drill. Unreadable reports are skipped (and listed in bad).
func LastDrills(dir string) (last map[string]time.Time, bad []string) {
	last = map[string]time.Time{}
	reports, badFiles := drillreport.ReadDir(dir)
	for _, r := range reports {
		if r.Started.After(last[r.Plan]) {
			last[r.Plan] = r.Started
		}
	}
	for _, b := range badFiles {
		bad = append(bad, b.File)
	}
	return last, bad
}

// DueDrills decides which scheduled plans are due at now: a plan is due
// when its schedule fired since its last recorded drill (or since since,
// when set and later), or when it was never drilled.
func DueDrills(plans map[string]*plan.Plan, drillsDir string, now, since time.Time) []Scheduled {
	last, _ := LastDrills(drillsDir)
	var out []Scheduled
	for file, p := range plans {
		if p.Gameday.Schedule.Schedule == nil {
			continue
		}
		s := Scheduled{Plan: p, File: file, Last: last[filepath.ToSlash(file)]}
		from := s.Last
		if since.After(from) {
			from = since
		}
		sched := p.Gameday.Schedule.Schedule
		switch {
		case s.Last.IsZero() && since.IsZero():
			s.Due, s.Next, s.Reason = true, now, "never drilled"
		default:
			if next := sched.Next(from); !next.After(now) {
				s.Due, s.Next = true, next
				s.Reason = fmt.Sprintf("scheduled %s (%s), last drill %s", next.UTC().Format(time.RFC3339), p.Gameday.Schedule.Spec, formatLast(s.Last))
			} else {
				s.Next = next
				s.Reason = fmt.Sprintf("next %s", next.UTC().Format(time.RFC3339))
			}
		}
		// Overdue: two activations have passed since the last drill.
		if !s.Last.IsZero() {
			first := sched.Next(s.Last)
			if second := sched.Next(first); !second.After(now) {
				s.Overdue = true
			}
		} else {
			s.Overdue = true
		}
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].File < out[j].File })
	return out
}

func formatLast(t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return t.UTC().Format(time.RFC3339)
}

// ClaimStale is how long a claim without a report blocks others: after
// it, a crashed runner's drill is run again.
const ClaimStale = time.Hour

// Claim atomically claims a due drill, so that several runners started by
// one CI schedule or CronJob run it once. It returns a release function
// and false when another runner holds a live claim.
func Claim(drillsDir string, s Scheduled, now time.Time) (release func(done bool), ok bool, err error) {
	dir := filepath.Join(drillsDir, ".claims")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, false, err
	}
	name := filepath.Join(dir, fmt.Sprintf("%s-%d.claim", plan.Slug(s.File), s.Next.Unix()))
	for attempt := 0; attempt < 2; attempt++ {
		f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		if err == nil {
			host, _ := os.Hostname()
			fmt.Fprintf(f, "%s pid %d at %s\n", host, os.Getpid(), now.UTC().Format(time.RFC3339))
			f.Close()
			return func(done bool) {
				if !done {
					// A failed start frees the activation for the next run.
					os.Remove(name)
				}
			}, true, nil
		}
		if !errors.Is(err, fs.ErrExist) {
			return nil, false, err
		}
		st, serr := os.Stat(name)
		if serr != nil || now.Sub(st.ModTime()) < ClaimStale {
			return nil, false, nil
		}
		// A stale claim and still due: the runner that made it crashed.
		_ = os.Remove(name)
	}
	return nil, false, nil
}
