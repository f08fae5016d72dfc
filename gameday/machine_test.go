package gameday

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rollbook/rollbook/internal/migrate"
	"github.com/rollbook/rollbook/internal/plan"
	"github.com/rollbook/rollbook/internal/rollout"
)

// moves records the controller's transitions from its debug log, as
// "from/cause".
type moves struct {
	mu  sync.Mutex
	got []string
}

func (m *moves) Enabled(context.Context, slog.Level) bool { return true }
func (m *moves) WithAttrs([]slog.Attr) slog.Handler       { return m }
func (m *moves) WithGroup(string) slog.Handler            { return m }
func (m *moves) Handle(_ context.Context, r slog.Record) error {
	if r.Message != "transition" {
		return nil
	}
	var from, on string
	r.Attrs(func(a slog.Attr) bool {
		switch a.Key {
		case "from":
			from = a.Value.String()
		case "on":
			on = a.Value.String()
		}
		return true
	})
	m.mu.Lock()
	m.got = append(m.got, from+"/"+on)
	m.mu.Unlock()
	return nil
}

// TestControllerFollowsTheTable drills the controller in fake worlds, one
// for each way through the machine, and checks the exact moves it made;
// together the worlds take every move of rollout.Transitions from every
// state it leaves, so a row the controller can no longer take, or a move
// it makes that the table lacks, fails here.
func TestControllerFollowsTheTable(t *testing.T) {
	pre := plan.Timing{Runs: plan.RunsPreDeploy}
	post := plan.Timing{Runs: plan.RunsPostDeploy}
	at := func(step int) plan.Timing { return plan.Timing{Runs: plan.RunsDuringDeploy, AtStep: step} }
	contract := []migrate.Finding{{Kind: "drop-column", Object: "orders.note", Reason: "drops a column"}}
	// Steps that end baking below 100%: the post-deploy shift to 100% is
	// a real one, and its bake starts from a bake.
	partial := []plan.Step{{Weight: 10, Bake: plan.Duration(5 * time.Minute)}, {Weight: 50, Bake: plan.Duration(5 * time.Minute)}}
	const (
		start   = "pending/step progressing/bake"
		step2   = " baking/step progressing/bake"
		healthy = start + step2 + " baking/step progressing/promote"
	)
	tests := []struct {
		name      string
		automatic bool
		setup     func(*fakeWorld, *Policy, *Controller)
		want      string
	}{
		{"healthy: promoted at the last step", true, nil, healthy},
		{"healthy, last step baked, post-deploy migration: bake again, promoted", true, func(w *fakeWorld, p *Policy, _ *Controller) {
			p.Steps, p.Migrations = partial, []Migration{{ID: "0300", File: "0300.sql", Timing: post}}
		}, start + step2 + " baking/bake baking/promote"},
		{"bad canary: rolled back", true, func(w *fakeWorld, _ *Policy, _ *Controller) { w.canaryErr = 0.3 },
			start + " baking/rollback rolling-back/stable-verified"},
		{"stable unhealthy: the rollback fails", true, func(w *fakeWorld, _ *Policy, _ *Controller) { w.canaryErr, w.stableUnready = 0.3, true },
			start + " baking/rollback rolling-back/rollback-failed"},
		{"freeze", true, func(w *fakeWorld, _ *Policy, c *Controller) { w.canaryErr = 0.3; c.SetFreeze(true) }, start + " baking/freeze"},
		{"contract ran before step 1: migration guard", true, func(w *fakeWorld, p *Policy, _ *Controller) {
			w.canaryErr = 0.3
			p.Migrations = []Migration{{ID: "0107", File: "0107.sql", Timing: pre, Contract: true, Findings: contract}}
		},
			start + " baking/migration-guard"},
		{"automatic rollback off", false, func(w *fakeWorld, _ *Policy, _ *Controller) { w.canaryErr = 0.3 }, start + " baking/automatic-off"},
		{"cap used up", true, func(w *fakeWorld, _ *Policy, c *Controller) { w.canaryErr = 0.3; c.Ledger.Record(w.clock.now) },
			start + " baking/cap-reached"},
		{"stable regresses", true, func(w *fakeWorld, _ *Policy, _ *Controller) {
			w.onWeight = func(p int) {
				if p == 50 {
					w.stableErr = 0.3
				}
			}
		}, start + step2 + " baking/stable-regressed"},
		{"metrics missing: held", true, func(w *fakeWorld, _ *Policy, _ *Controller) { w.metricsGone = true }, start + step2 + " baking/no-data"},
		{"too little traffic: held", true, func(w *fakeWorld, _ *Policy, _ *Controller) { w.rate = 5 }, start + step2 + " baking/no-data"},
		// A plan that tolerates many inconclusive windows still never
		// promotes a step without a verdict.
		{"too little traffic, no_data tolerant: held at the last step", true, func(w *fakeWorld, p *Policy, _ *Controller) {
			w.rate = 5
			for i := range p.Checks {
				p.Checks[i].NoDataAfter = 1000
			}
		}, start + step2 + " baking/step progressing/no-data"},
		{"the router refuses a weight", true, func(w *fakeWorld, _ *Policy, _ *Controller) { w.failTraffic = true }, "pending/step progressing/traffic-failed"},
		{"the router refuses the post-deploy 100%", true, func(w *fakeWorld, p *Policy, _ *Controller) {
			p.Steps, p.Migrations = partial, []Migration{{ID: "0300", File: "0300.sql", Timing: post}}
			w.onWeight = func(p int) { w.failTraffic = w.failTraffic || p == 50 }
		}, start + step2 + " baking/traffic-failed"},
		{"pre-deploy migration fails", true, func(w *fakeWorld, p *Policy, _ *Controller) {
			p.Migrations = []Migration{{ID: "0042", File: "0042.sql", Timing: pre}}
			w.migrateFails = map[string]bool{"0042.sql": true}
		}, "pending/migration-failed"},
		{"during-deploy migration fails", true, func(w *fakeWorld, p *Policy, _ *Controller) {
			p.Migrations = []Migration{{ID: "0050", File: "0050.sql", Timing: at(2)}}
			w.migrateFails = map[string]bool{"0050.sql": true}
		}, start + " baking/step progressing/migration-failed"},
		{"post-deploy migration fails after a bake", true, func(w *fakeWorld, p *Policy, _ *Controller) {
			p.Steps, p.Migrations = partial, []Migration{{ID: "0300", File: "0300.sql", Timing: post}}
			w.migrateFails = map[string]bool{"0300.sql": true}
		}, start + step2 + " baking/migration-failed"},
		{"contract before step 1 breaks the serving stable", true, func(w *fakeWorld, p *Policy, _ *Controller) {
			p.Migrations = []Migration{{ID: "0107", File: "0107.sql", Timing: pre, Contract: true}}
			w.breaks = map[string]bool{"0107.sql": true}
		}, "pending/migration-broke-stable"},
		{"contract at step 1 breaks the stable that still serves 81%", true, func(w *fakeWorld, p *Policy, _ *Controller) {
			p.Migrations = []Migration{{ID: "0107", File: "0107.sql", Timing: at(1), Contract: true}}
			w.breaks = map[string]bool{"0107.sql": true}
		}, "pending/step progressing/migration-broke-stable"},
	}
	// A migration at step 2 that the canary fails its smoke checks after
	// is a trigger decided at the step, before its bake: every way a
	// fired trigger goes, from progressing.
	broken := func(setup func(*fakeWorld, *Policy, *Controller)) func(*fakeWorld, *Policy, *Controller) {
		return func(w *fakeWorld, p *Policy, c *Controller) {
			p.Migrations = []Migration{{ID: "0050", File: "0050.sql", Timing: at(2)}}
			w.onWeight = func(p int) { w.canarySmokeFails = w.canarySmokeFails || p == 50 }
			if setup != nil {
				setup(w, p, c)
			}
		}
	}
	atStep2 := start + " baking/step progressing/"
	for _, tt := range []struct {
		name, cause string
		automatic   bool
		setup       func(*fakeWorld, *Policy, *Controller)
	}{
		{"rolled back", "rollback rolling-back/stable-verified", true, nil},
		{"freeze", "freeze", true, func(_ *fakeWorld, _ *Policy, c *Controller) { c.SetFreeze(true) }},
		{"automatic off", "automatic-off", false, nil},
		{"cap used up", "cap-reached", true, func(w *fakeWorld, _ *Policy, c *Controller) { c.Ledger.Record(w.clock.now) }},
		{"contract ran: migration guard", "migration-guard", true, func(_ *fakeWorld, p *Policy, _ *Controller) { p.Migrations[0].Findings = contract }},
	} {
		tests = append(tests, struct {
			name      string
			automatic bool
			setup     func(*fakeWorld, *Policy, *Controller)
			want      string
		}{"canary breaks after a migration at its step: " + tt.name, tt.automatic, broken(tt.setup), atStep2 + tt.cause})
	}

	taken := map[string]bool{}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newFakeWorld(1)
			pol := testPolicy(tt.automatic)
			pol.OwnService = &ServicePlan{}
			log := &moves{}
			c := controller(w, pol, &Ledger{})
			c.Migrator, c.Log = w, slog.New(log)
			if tt.setup != nil {
				tt.setup(w, &c.Policy, c)
			}
			final, err := c.Run(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if got := strings.Join(log.got, " "); got != tt.want {
				t.Errorf("moves\n  %s\nwant\n  %s", got, tt.want)
				for _, e := range c.Events() {
					t.Log(e.AtText, e.Type, e.Message)
				}
			}
			if !final.Final() {
				t.Errorf("ended in %s", final)
			}
			for _, m := range log.got {
				taken[m] = true
			}
		})
	}
	for _, tr := range rollout.Transitions {
		for _, from := range tr.From {
			if m := fmt.Sprintf("%s/%s", from, tr.On); !taken[m] {
				t.Errorf("no world takes %s: drop the move from rollout.Transitions, or add the world that takes it", m)
			}
		}
	}
}

// TestControllerRefusesAMoveOffTheTable: a move the table does not have
// stops the controller loudly, and Run's caller gets it as the drill's
// error, not a drawing that lies.
func TestControllerRefusesAMoveOffTheTable(t *testing.T) {
	w := newFakeWorld(1)
	c := controller(w, testPolicy(true), nil)
	c.Log = slog.New(slog.DiscardHandler)
	c.begin()
	defer func() {
		p := recover()
		if p == nil || !strings.Contains(fmt.Sprint(p), "moved on rollback from pending") {
			t.Errorf("recovered %v", p)
		}
		if c.State() != rollout.Pending {
			t.Errorf("state %s after a refused move", c.State())
		}
	}()
	c.transition(rollout.Rollback, "a trigger before any traffic moved")
}

// TestControllerNeedsSteps: a policy not made by PolicyFromPlan, without
// steps, is refused rather than promoted without moving any traffic.
func TestControllerNeedsSteps(t *testing.T) {
	w := newFakeWorld(1)
	pol := testPolicy(true)
	pol.Steps = nil
	st, err := controller(w, pol, nil).Run(context.Background())
	if err == nil || !strings.Contains(err.Error(), "no steps") || slices.Contains(w.weightsSet, 100) {
		t.Errorf("state %q, err %v, weights %v", st, err, w.weightsSet)
	}
}

// TestBacktestEndsByTheTable: a backtest's verdict is where the
// controller's table leads from a watched step, each rollback completing.
func TestBacktestEndsByTheTable(t *testing.T) {
	for on, want := range map[rollout.Cause]State{
		rollout.Rollback:        RolledBack,
		rollout.StableRegressed: Halted,
		rollout.MigrationGuard:  Halted,
		rollout.AutomaticOff:    Halted,
		rollout.NoData:          Halted,
	} {
		if got := wouldEnd(on); got != want {
			t.Errorf("wouldEnd(%s) = %s, want %s", on, got, want)
		}
	}
}
