package gameday

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/rollbook/rollbook/internal/drillreport"
	"github.com/rollbook/rollbook/internal/plan"
	"github.com/rollbook/rollbook/internal/scenario"
)

// TestMigrationTiming drills the controller in fake time with each runs:
// and checks the order of events on the typed timeline: when each
// migration ran, what the guard saw right after it, and what the release
// became.
func TestMigrationTiming(t *testing.T) {
	pre := plan.Timing{Runs: plan.RunsPreDeploy}
	post := plan.Timing{Runs: plan.RunsPostDeploy}
	tests := []struct {
		name       string
		migrations []Migration
		setup      func(*fakeWorld, *Controller)
		want       State
		// migrated is each applied file with the canary's weight then.
		migrated []string
		shape    scenario.Shape
		pages    int
		stops    int
		// page is a word the page must name.
		page string
		// broken: a guard verdict found a serving release failing.
		broken bool
	}{
		{name: "expand before step 1", migrations: []Migration{{ID: "0042", File: "0042.sql", Timing: pre}},
			want: Promoted, migrated: []string{"0042.sql@0"}, shape: scenario.ShapeExpand},
		{name: "during the deploy at step 2", migrations: []Migration{{ID: "0050", File: "0050.sql", Timing: plan.Timing{Runs: plan.RunsDuringDeploy, AtStep: 2}}},
			want: Promoted, migrated: []string{"0050.sql@50"}, shape: scenario.ShapeExpand},
		{name: "contract after promotion, then a bake", migrations: []Migration{{ID: "0107", File: "0107.sql", Timing: post, Contract: true}},
			setup: func(w *fakeWorld, _ *Controller) { w.breaks = map[string]bool{"0107.sql": true} },
			want:  Promoted, migrated: []string{"0107.sql@100"}, shape: scenario.ShapeContractAfter},
		{name: "manual is never applied", migrations: []Migration{{ID: "0200", File: "0200.sql", Timing: plan.Timing{Runs: plan.RunsManual}, Contract: true}},
			want: Promoted, shape: scenario.ShapeNone},
		{name: "contract before step 1 breaks the serving stable: halted and paged", migrations: []Migration{{ID: "0107", File: "0107.sql", Timing: pre, Contract: true}},
			setup: func(w *fakeWorld, _ *Controller) { w.breaks = map[string]bool{"0107.sql": true} },
			want:  Halted, migrated: []string{"0107.sql@0"}, shape: scenario.ShapeContractBefore, pages: 1, page: "migration", broken: true},
		{name: "regression after a post-deploy contract: guard blocks the rollback", migrations: []Migration{{ID: "0107", File: "0107.sql", Timing: post, Contract: true}},
			setup: func(w *fakeWorld, c *Controller) {
				w.breaks = map[string]bool{"0107.sql": true}
				c.AfterMigration = func(context.Context, Migration) { w.canaryErr = 0.3 }
			},
			want: Halted, migrated: []string{"0107.sql@100"}, shape: scenario.ShapeContractAfter, pages: 1, page: "migration"},
		{name: "a migration that fails halts before any traffic moves", migrations: []Migration{{ID: "0042", File: "0042.sql", Timing: pre}},
			setup: func(w *fakeWorld, _ *Controller) { w.migrateFails = map[string]bool{"0042.sql": true} },
			want:  Halted, shape: scenario.ShapeExpand, pages: 1, page: "migration 0042 failed"},
		{name: "stable regresses while the canary is out: halted, no rollback, no promotion",
			setup: func(w *fakeWorld, _ *Controller) {
				w.onWeight = func(p int) {
					if p == 50 {
						w.stableErr = 0.3
					}
				}
			},
			want: Halted, shape: scenario.ShapeNone, pages: 1, page: "stable"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newFakeWorld(1)
			pol := testPolicy(true)
			pol.OwnService = &ServicePlan{}
			pol.Migrations = tt.migrations
			c := controller(w, pol, nil)
			c.Migrator = w
			if tt.setup != nil {
				tt.setup(w, c)
			}
			got, err := c.Run(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			defer func() {
				if t.Failed() || testing.Verbose() {
					for _, e := range c.Events() {
						t.Log(e.AtText, e.Type, e.Message)
					}
				}
			}()
			if got != tt.want || len(w.pages) != tt.pages || w.stopped != tt.stops {
				t.Errorf("state %s pages %d stops %d; want %s %d %d", got, len(w.pages), w.stopped, tt.want, tt.pages, tt.stops)
			}
			if !slices.Equal(w.migrated, tt.migrated) {
				t.Errorf("migrated %v, want %v", w.migrated, tt.migrated)
			}
			if w.migrateFails != nil {
				f := collect(c.Events(), 0)
				if len(f.migrations) != 1 || f.migrations[0].Applied || !strings.Contains(f.migrations[0].Error, `relation "orders" does not exist`) || slices.ContainsFunc(w.weightsSet, func(p int) bool { return p > 0 }) {
					t.Errorf("a failed migration: %+v, weights %v", f.migrations, w.weightsSet)
				}
			}
			if s := c.Policy.Shape(); s != tt.shape {
				t.Errorf("shape %s, want %s", s, tt.shape)
			}
			if tt.page != "" && (len(w.pages) == 0 || !strings.Contains(w.pages[0].Summary+w.pages[0].Reason, tt.page)) {
				t.Errorf("page %+v does not name %q", w.pages, tt.page)
			}
			f := collect(c.Events(), 0)
			if _, _, broken := f.broken(); broken != tt.broken {
				t.Errorf("a serving release broken: %v, want %v", broken, tt.broken)
			}
			for _, m := range f.migrations {
				if why := c.Policy.offSchedule(m); why != "" {
					t.Error(why)
				}
				if m.Applied && len(m.Guard) != 2 {
					t.Errorf("%s: guard verdicts %+v, want the stable's and the canary's", m.ID, m.Guard)
				}
				if m.Runs == plan.RunsManual && (m.Applied || !strings.Contains(eventsText(c.Events()), "manual")) {
					t.Errorf("manual %s applied %v or not said", m.ID, m.Applied)
				}
			}
			// A weight is never raised after a halt, and nothing rolls
			// back once a contract ran.
			if tt.shape == scenario.ShapeContractAfter && slices.Contains(w.weightsSet[1:], 0) {
				t.Errorf("traffic moved back to stable after a contract: %v", w.weightsSet)
			}
		})
	}
}

func eventsText(evs []Event) string {
	var b strings.Builder
	for _, e := range evs {
		b.WriteString(e.Message + "\n")
	}
	return b.String()
}

// TestImpactPhases splits the router's readings at the trigger and the
// rollback, and counts the blast radius up to the rollback.
func TestImpactPhases(t *testing.T) {
	w := newFakeWorld(2)
	pol := testPolicy(true)
	c := controller(w, pol, nil)
	w.canaryErr = 0.3
	if got, err := c.Run(context.Background()); err != nil || got != RolledBack {
		t.Fatalf("%s %v", got, err)
	}
	_ = w.clock.Sleep(context.Background(), 2e9)
	c.Read(context.Background())
	f := collect(c.Events(), 0)
	im, blast := impact(c.readings, f)
	var phases []drillreport.Phase
	var sum, whole float64
	for _, p := range im {
		phases = append(phases, p.Phase)
		if p.Phase == drillreport.PhaseWhole {
			whole = p.Requests
		} else {
			sum += p.Requests
		}
	}
	want := []drillreport.Phase{drillreport.PhaseBefore, drillreport.PhaseRollingBack, drillreport.PhaseAfter, drillreport.PhaseWhole}
	if !slices.Equal(phases, want) {
		t.Fatalf("phases %v, want %v", phases, want)
	}
	total := both(w.cum).Requests - both(c.readings[0].snap).Requests
	if sum != whole || whole != total {
		t.Errorf("phases add to %v, whole %v, the world served %v", sum, whole, total)
	}
	if blast == nil || *blast <= 0 || *blast > im[0].Failed+im[1].Failed {
		t.Errorf("blast radius %v, phases %+v", blast, im)
	}
	if im[2].Failed > 0.02*im[2].Requests {
		t.Errorf("after the rollback users still saw %v failures of %v", im[2].Failed, im[2].Requests)
	}
}

// TestMigrationTimingBadInput: a timing the drill cannot follow is refused
// at its line and column, with what to write instead.
func TestMigrationTimingBadInput(t *testing.T) {
	head := "---\nkind: rollout\nstrategy: {steps: [{weight: 10, bake: 5m}, {weight: 100}]}\ntriggers:\n  - {metric: error_rate, compare: baseline, max_delta: 2%, window: 2m}\nmigrations:\n"
	tests := []struct {
		name, migration, want string
	}{
		{"during-deploy without at_step", "  - {id: a, file: a.sql, runs: during-deploy}\n", "p.md:7:32: migration a runs during-deploy but has no at_step: the rollout step it runs at is not known; a drill cannot follow it: add at_step: N, the strategy step it runs at (valid steps: 1..2)"},
		{"at_step outside the steps", "  - {id: a, file: a.sql, runs: during-deploy, at_step: 3}\n", "p.md:7:56: migration a runs at step 3, but the plan has 2 strategy steps; a drill cannot follow it: write at_step: a step from 1 to 2 (strategy.steps in order)"},
		{"at_step without during-deploy", "  - {id: a, file: a.sql, runs: post-deploy, at_step: 1}\n", "p.md:7:54: migration a has at_step: 1 but runs: post-deploy; at_step only places a during-deploy migration; a drill cannot follow it: write runs: during-deploy, or drop at_step"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, _ := plan.Parse("p.md", "p.md", []byte(head+tt.migration+"---\n"))
			_, err := PolicyFromPlan(p, t.TempDir(), 60, 800)
			if err == nil || err.Error() != tt.want {
				t.Errorf("got  %v\nwant %s", err, tt.want)
			}
		})
	}
	t.Run("manual on a scenario that needs the migration", func(t *testing.T) {
		pol := testPolicy(true)
		pol.OwnService = &ServicePlan{}
		pol.Migrations = []Migration{{ID: "0200", File: "0200.sql", Timing: plan.Timing{Runs: plan.RunsManual}}}
		sc, _ := scenario.Lookup("incompatible-migration")
		err := pol.Refuse(sc)
		if err == nil || !strings.Contains(err.Error(), "0200 is runs: manual") || !strings.Contains(err.Error(), "give it the runs:") {
			t.Errorf("got %v", err)
		}
		if sc, _ := scenario.Lookup("healthy-canary"); pol.Refuse(sc) != nil {
			t.Error("healthy-canary needs no migration")
		}
	})
}
