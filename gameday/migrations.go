package gameday

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/rollbook/rollbook/internal/analysis"
	"github.com/rollbook/rollbook/internal/drillreport"
	"github.com/rollbook/rollbook/internal/migrate"
	"github.com/rollbook/rollbook/internal/plan"
	"github.com/rollbook/rollbook/internal/rollout"
)

// keptFailures is how many failing responses of each release a drill
// keeps: enough to show the cause, few enough to read.
const keptFailures = 5

// run describes m as this drill runs it, at the current weight.
func (c *Controller) run(m Migration) drillreport.MigrationRun {
	return drillreport.MigrationRun{
		ID: m.ID, File: filepath.Base(m.File), Runs: m.Timing.Runs, AtStep: m.Timing.AtStep,
		When: m.Timing.Describe(c.Policy.Steps), Contract: m.Contract, Weight: c.Weight(),
	}
}

// has reports whether a migration the drill applies runs at runs.
func (c *Controller) has(runs string) bool {
	if c.Migrator == nil {
		return false
	}
	for _, m := range c.Policy.Migrations {
		if m.Timing.Runs == runs {
			return true
		}
	}
	return false
}

// recordManual puts each manual migration on the timeline: a drill never
// applies one, and the report says so rather than leaving it out.
func (c *Controller) recordManual() {
	if c.Migrator == nil {
		return
	}
	for _, m := range c.Policy.Migrations {
		if m.Applied() {
			continue
		}
		r := c.run(m)
		c.record(Event{Type: drillreport.EventMigration, Migration: &r, Message: fmt.Sprintf("migration %s is manual: never applied automatically, so this drill does not apply it", m.ID)})
	}
}

// migrate applies the migrations that run at runs (and, during the
// deploy, at step), each followed by the guard: every release's smoke
// checks against the migrated database. done is true when the release
// ended there (a migration failed, or broke the stable release while it
// served traffic).
func (c *Controller) migrate(ctx context.Context, runs string, step int) (State, bool, error) {
	if c.Migrator == nil {
		return c.State(), false, nil
	}
	for _, m := range c.Policy.Migrations {
		if m.Timing.Runs != runs || runs == plan.RunsDuringDeploy && m.Timing.AtStep != step {
			continue
		}
		r := c.run(m)
		if c.BeforeMigration != nil {
			c.BeforeMigration(ctx, m)
		}
		before, berr := c.Metrics.Snapshot(ctx)
		load, err := c.Migrator.Migrate(ctx, m.File)
		if load.LongestBlock().For > 0 {
			// The requests it held finish once it ends: the router counts
			// a request when it answers, so they are read after a moment.
			_ = c.Clock.Sleep(ctx, settleAfterBlock)
		}
		if after, aerr := c.Metrics.Snapshot(ctx); berr == nil && aerr == nil {
			c.felt(&load, before, after)
		}
		load.Budget = c.Policy.lockBudget(m)
		c.blame(&load, m)
		r.Locks = &load
		if err != nil {
			if ctx.Err() != nil {
				return c.State(), true, ctx.Err()
			}
			r.Error = err.Error()
			c.record(Event{Type: drillreport.EventMigration, Migration: &r, Error: r.Error, Message: fmt.Sprintf("migration %s failed %s: %v", m.ID, r.When, err)})
			st, err := c.halt(ctx, rollout.MigrationFailed, "migration "+m.ID+" failed: release halted", err.Error())
			return st, true, err
		}
		r.Applied = true
		c.mu.Lock()
		c.applied = append(c.applied, m)
		r.At = c.Clock.Now().Sub(c.start)
		c.mu.Unlock()
		c.record(Event{Type: drillreport.EventMigration, Migration: &r, Message: fmt.Sprintf("migration %s applied %s (canary %d%%, stable %d%%) in %s%s", m.ID, r.When, r.Weight, 100-r.Weight, load.Duration.Round(time.Millisecond), lockSummary(&load))})
		if st, done, err := c.guard(ctx, m, r); done {
			return st, true, err
		}
		if c.AfterMigration != nil {
			c.AfterMigration(ctx, m)
		}
	}
	return c.State(), false, nil
}

// settleAfterBlock is how long after a migration that blocked queries
// the router is read, so the requests it held count as its own.
const settleAfterBlock = 500 * time.Millisecond

// felt adds what the router saw while the migration ran to load: the
// requests, the failed ones, those over the latency trigger's threshold,
// and the p99 next to the p99 of the interval before it.
func (c *Controller) felt(load *drillreport.MigrationLoad, before, after analysis.Snapshot) {
	d := both(after.Sub(before))
	load.Requests, load.Failed = int64(d.Requests), int64(d.Errors)
	load.P99 = seconds(d.Quantile(0.99))
	if over := c.Policy.latencyLimit(); over > 0 {
		load.SlowOver = over
		load.Slow = int64(d.Requests - countWithin(d, over.Seconds()))
	}
	// Before is since the later of the last reading and the end of the
	// previous migration, so one migration's stall is not the next one's
	// "before".
	c.mu.Lock()
	since := c.migratedSnap
	for _, r := range slices.Backward(c.readings) {
		// The latest reading that leaves a second of traffic to judge.
		if r.snap.At.After(since.At) && before.At.Sub(r.snap.At) >= time.Second {
			since = r.snap
			break
		}
	}
	c.migratedSnap = after
	c.mu.Unlock()
	if !since.At.IsZero() && before.At.After(since.At) {
		load.P99Before = seconds(both(before.Sub(since)).Quantile(0.99))
	}
}

// countWithin is how many requests of r took at most limit seconds, by
// the largest bucket bound within it (so a request is counted slow only
// when the histogram proves it).
func countWithin(r analysis.Release, limit float64) float64 {
	n := 0.0
	for _, b := range r.Buckets {
		if b.Le <= limit {
			n = b.Count
		}
	}
	return n
}

func seconds(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

// blame names, for the statement behind the longest wait, the lock the
// static analysis says it takes and the safe way to write it.
func (c *Controller) blame(load *drillreport.MigrationLoad, m Migration) {
	if load.Worst == nil {
		return
	}
	for _, f := range m.Locks {
		if f.Line == load.Worst.Line && f.Fix != "" {
			load.Worst.Fix = f.Fix
			if heavier(string(f.Lock), load.Worst.Lock) {
				load.Worst.Lock = string(f.Lock)
			}
			break
		}
	}
	for _, h := range load.Held {
		if h.Line == load.Worst.Line && heavier(h.Mode, load.Worst.Lock) {
			load.Worst.Lock = h.Mode
		}
	}
	if load.Worst.Fix == "" && load.OverBudget() {
		load.Worst.Fix = fmt.Sprintf("set lock_timeout below the budget (SET lock_timeout = '%s') before it, so it gives up and is retried instead of queueing the service's queries behind it", lockTimeoutFor(load.Budget))
		if hasLockTimeout(m.File) {
			load.Worst.Fix = fmt.Sprintf("its lock_timeout is longer than the budget: lower it (SET lock_timeout = '%s'), or split the statement so each lock is held briefly", lockTimeoutFor(load.Budget))
		}
	}
}

// lockTimeoutFor is a lock_timeout that keeps a blocked query within
// budget: a fifth of it, at least 50 ms.
func lockTimeoutFor(budget time.Duration) string {
	return fmt.Sprintf("%dms", max(50, budget.Milliseconds()/5))
}

// hasLockTimeout reports whether a migration file sets lock_timeout.
func hasLockTimeout(file string) bool {
	b, err := os.ReadFile(file)
	return err == nil && strings.Contains(strings.ToLower(string(b)), "lock_timeout")
}

// heavier compares two lock modes as pg_locks spells them, by the one
// order of PostgreSQL's table locks (migrate.LockMode).
func heavier(a, b string) bool { return migrate.LockMode(a).Stronger(migrate.LockMode(b)) }

// lockSummary is the timeline's few words on what a migration cost.
func lockSummary(l *drillreport.MigrationLoad) string {
	if l == nil || l.Samples == 0 {
		return ""
	}
	var parts []string
	if len(l.Held) > 0 {
		top := l.Held[0]
		for _, h := range l.Held {
			if heavier(h.Mode, top.Mode) {
				top = h
			}
		}
		parts = append(parts, fmt.Sprintf("held %s on %s for %s", top.Mode, top.Relation, top.For.Round(time.Millisecond)))
	}
	if l.Waited > 0 {
		parts = append(parts, fmt.Sprintf("queued %s for its locks", l.Waited.Round(time.Millisecond)))
	}
	if b := l.LongestBlock(); b.For > 0 {
		parts = append(parts, fmt.Sprintf("blocked the %s release's queries up to %s", b.Release, b.For.Round(time.Millisecond)))
	}
	if l.Attempts > 1 {
		parts = append(parts, fmt.Sprintf("%d attempts (lock_timeout)", l.Attempts))
	}
	if len(parts) == 0 {
		return ""
	}
	return ": " + strings.Join(parts, ", ")
}

// guard runs each release's smoke checks right after m. A release that
// fails them while it takes traffic is an outage: the stable one halts
// the release and pages (moving traffic cannot undo a migration), the
// canary one is handled as a fired trigger. A release that fails them
// while it takes none makes a later rollback unsafe.
func (c *Controller) guard(ctx context.Context, m Migration, r drillreport.MigrationRun) (State, bool, error) {
	type check struct {
		release string
		share   int
		smoke   func(context.Context) error
	}
	var brokenStable, brokenCanary string
	for _, k := range []check{{"stable", 100 - r.Weight, c.Health.StableSmoke}, {"canary", r.Weight, c.Health.CanarySmoke}} {
		if k.release == "canary" && c.noCanary {
			continue
		}
		err := k.smoke(ctx)
		if ctx.Err() != nil {
			return c.State(), true, ctx.Err()
		}
		v := drillreport.SmokeVerdict{Release: k.release, Passed: err == nil, Share: k.share, Detail: excerpt(errString(err))}
		r.Guard = append(r.Guard, v)
		msg := fmt.Sprintf("guard after %s: the %s release's smoke checks pass (it serves %d%%)", m.ID, k.release, k.share)
		if err != nil {
			msg = fmt.Sprintf("guard after %s: the %s release's smoke checks FAIL while it serves %d%% of traffic: %s", m.ID, k.release, k.share, v.Detail)
		}
		run := r
		c.record(Event{Type: drillreport.EventGuard, Migration: &run, Release: k.release, SmokePassed: new(err == nil), Error: v.Detail, Message: msg})
		switch {
		case err == nil:
		case k.share > 0 && k.release == "stable":
			brokenStable = v.Detail
		case k.share > 0:
			brokenCanary = v.Detail
		case k.release == "stable":
			c.mu.Lock()
			c.unsafe = fmt.Sprintf("after migration %s the stable release fails its smoke checks (%s), so moving traffic back to it would break users", m.ID, v.Detail)
			c.mu.Unlock()
		}
	}
	if brokenStable != "" {
		st, err := c.halt(ctx, rollout.MigrationBrokeStable, fmt.Sprintf("migration guard: migration %s broke the stable release while it served %d%% of traffic", m.ID, 100-r.Weight),
			fmt.Sprintf("%s; a rollback cannot undo a migration and a promotion is not proven: traffic left where it is for a human", brokenStable))
		return st, true, err
	}
	if brokenCanary != "" {
		st, err := c.onTrigger(ctx, analysis.Result{Trigger: "migration-guard", Reason: fmt.Sprintf("after migration %s the canary fails its smoke checks while it serves %d%%: %s", m.ID, r.Weight, brokenCanary)})
		return st, true, err
	}
	return c.State(), false, nil
}

// preflight runs the canary's smoke checks before it takes any traffic.
// It decides nothing (the analysis does); when they fail while migrations
// are still to come, the timeline says which: the canary may need them.
func (c *Controller) preflight(ctx context.Context) {
	if c.Migrator == nil {
		return
	}
	err := c.Health.CanarySmoke(ctx)
	if err == nil {
		c.record(Event{Type: drillreport.EventGuard, Release: "canary", SmokePassed: new(true), Message: "before step 1: the canary's smoke checks pass"})
		return
	}
	var pending []string
	for _, m := range c.Policy.Migrations {
		if m.Timing.Runs != plan.RunsPreDeploy {
			pending = append(pending, m.ID)
		}
	}
	msg := "before step 1: the canary's smoke checks FAIL: " + excerpt(err.Error())
	if len(pending) > 0 {
		msg += "; migrations still to come: " + strings.Join(pending, ", ")
	}
	c.record(Event{Type: drillreport.EventGuard, Release: "canary", SmokePassed: new(false), Error: excerpt(err.Error()), Message: msg, Failures: c.evidence()})
}

// contractRan returns the contract findings of the migrations applied so
// far. The demo service's canary applies its own at start-up, so there
// every contract the plan ships has run.
func (c *Controller) contractRan() []migrate.Finding {
	if c.Migrator == nil {
		return c.Policy.Contract
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []migrate.Finding
	for _, m := range c.applied {
		out = append(out, m.Findings...)
	}
	return out
}

// migrated reports whether any of the plan's migrations has run.
func (c *Controller) migrated() bool {
	if c.Migrator == nil {
		return len(c.Policy.Migrations) > 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.applied) > 0
}

// Read records the router's counters now, for the user-impact figures.
func (c *Controller) Read(ctx context.Context) {
	snap, err := c.Metrics.Snapshot(ctx)
	if err != nil {
		return
	}
	c.collectFailures(ctx)
	c.mu.Lock()
	c.keep(snap)
	c.mu.Unlock()
}

// keep adds a reading taken now; c.mu is held.
func (c *Controller) keep(snap analysis.Snapshot) {
	c.readings = append(c.readings, reading{at: c.Clock.Now().Sub(c.start), snap: snap})
}

// collectFailures drains the router's failing responses, keeping the
// first few of each release for the report and the last interval's as
// the evidence of what is failing now.
func (c *Controller) collectFailures(ctx context.Context) {
	if c.Evidence == nil {
		return
	}
	fs, err := c.Evidence.Failures(ctx)
	if err != nil || len(fs) == 0 {
		return
	}
	at := c.Clock.Now().Sub(c.Started())
	c.mu.Lock()
	defer c.mu.Unlock()
	c.recent = c.recent[:0]
	for _, f := range fs {
		if f.At == 0 {
			f.At = at
		}
		c.recent = append(c.recent, f)
		n := 0
		for _, k := range c.failures {
			if k.Release == f.Release {
				n++
			}
		}
		if n < keptFailures {
			c.failures = append(c.failures, f)
		}
	}
}

// evidence is the failing responses of the last interval, or the first
// ones kept when the last interval had none.
func (c *Controller) evidence() []drillreport.Failure {
	c.mu.Lock()
	defer c.mu.Unlock()
	src := c.recent
	if len(src) == 0 {
		src = c.failures
	}
	return append([]drillreport.Failure(nil), src[:min(len(src), keptFailures)]...)
}

// Failures are the first failing responses of each release the drill saw.
func (c *Controller) Failures() []drillreport.Failure {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]drillreport.Failure(nil), c.failures...)
}

// excerpt cuts a response or error text to what a report shows.
func excerpt(s string) string {
	s = strings.TrimSpace(s)
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return s
}

func sample(r analysis.Release) Sample {
	return Sample{Requests: r.Requests, ErrorRate: r.ErrorRate(), P99: r.Quantile(0.99)}
}

// both is the whole service: the two releases' counts added, bucket by
// bucket (the router gives both releases the same bounds).
func both(s analysis.Snapshot) analysis.Release {
	out := analysis.Release{Requests: s.Stable.Requests + s.Canary.Requests, Errors: s.Stable.Errors + s.Canary.Errors}
	a, b := s.Stable.Buckets, s.Canary.Buckets
	if len(a) < len(b) {
		a, b = b, a
	}
	for i, bk := range a {
		if i < len(b) && b[i].Le == bk.Le {
			bk.Count += b[i].Count
		}
		out.Buckets = append(out.Buckets, bk)
	}
	return out
}
