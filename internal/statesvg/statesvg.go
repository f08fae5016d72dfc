// Package statesvg draws a plan's rollout and rollback state machine as an
// inline SVG: the happy path from pending through each canary step to
// promoted, the paths a trigger takes to rolled-back or halted, and a
// marker above the state each migration runs in. The states, the moves
// and their words are internal/rollout's table, the one the drill's
// controller follows; this package lays them out for one plan.
package statesvg

import (
	"fmt"
	"html"
	"html/template"
	"strings"
	"sync"

	"github.com/rollbook/rollbook/internal/rollout"
)

// Step is one canary step: traffic weight and bake time ("" for the last).
type Step struct {
	Weight int
	Bake   string
}

// Machine is what the drawing depends on.
type Machine struct {
	Steps     []Step
	Automatic bool
	// MigrationGuard is set when a contract migration blocks automatic rollback.
	MigrationGuard bool
	Freeze         bool
	// Migrations are marked on the state they run in.
	Migrations []Migration
}

// Where a migration runs, besides a step's number (1-based) in Migration.At.
const (
	// BeforeSteps: before step 1, while the rollout is pending.
	BeforeSteps = 0
	// AfterPromotion: once promoted to 100 %, then a bake.
	AfterPromotion = -1
	// NotPlaced: never run by the rollout (manual), or at a step the
	// machine does not have; it is listed under the drawing.
	NotPlaced = -2
)

// Migration is one migration and where it runs.
type Migration struct {
	ID string
	// At is BeforeSteps, a step's number, AfterPromotion or NotPlaced.
	At int
	// When says when it runs, for the tooltip, the description and the
	// note of one not placed ("post-deploy — after promotion to 100 %,
	// then a bake").
	When string
	// Unsafe marks a contract change that runs while the previous
	// release still takes traffic.
	Unsafe bool
}

const (
	boxW, boxH = 118, 44
	gapX       = 26
	rowGap     = 96
	margin     = 12
	// topBase is the space above the states: one row of migration labels
	// fits there; each more label stacked on one state adds labelRow.
	topBase  = 30
	labelRow = 13
	// labelChars is the longest migration label that stays within a
	// state's column (10.5 px text).
	labelChars = 22
)

type box struct {
	x, y       int
	label, sub string
	class      string
}

// drawn keeps each machine's drawing: plans share a few rollout shapes
// (the same steps and bakes), and a build draws every plan's machine.
// It holds at most maxDrawn machines; a site with more draws the rest
// each time.
var (
	drawnMu sync.Mutex
	drawn   = map[string]template.HTML{}
)

const maxDrawn = 4096

// Render returns the machine as an accessible inline SVG.
func Render(m Machine) template.HTML {
	k := m.key()
	drawnMu.Lock()
	svg, ok := drawn[k]
	drawnMu.Unlock()
	if ok {
		return svg
	}
	svg = render(m)
	drawnMu.Lock()
	if len(drawn) < maxDrawn {
		drawn[k] = svg
	}
	drawnMu.Unlock()
	return svg
}

// key is every field of m, so two machines with one key draw alike.
func (m Machine) key() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%t %t %t", m.Automatic, m.MigrationGuard, m.Freeze)
	for _, s := range m.Steps {
		fmt.Fprintf(&b, " %d %q", s.Weight, s.Bake)
	}
	b.WriteString(" |")
	for _, g := range m.Migrations {
		fmt.Fprintf(&b, " %q %d %q %t", g.ID, g.At, g.When, g.Unsafe)
	}
	return b.String()
}

func render(m Machine) template.HTML {
	// Migrations by the state they run in: 0 pending, N step N, and the
	// last state (promoted) after promotion.
	last := max(len(m.Steps), 1) + 1
	placed := map[int][]Migration{}
	var notPlaced []Migration
	stack := 1
	for _, g := range m.Migrations {
		i := g.At
		switch {
		case g.At == AfterPromotion:
			i = last
		case g.At < 0 || g.At > len(m.Steps):
			notPlaced = append(notPlaced, g)
			continue
		}
		placed[i] = append(placed[i], g)
		stack = max(stack, len(placed[i]))
	}
	top := topBase + (stack-1)*labelRow
	var happy []box
	x := margin
	add := func(label, sub, class string) {
		happy = append(happy, box{x: x, y: top, label: label, sub: sub, class: class})
		x += boxW + gapX
	}
	// One box per canary step stands for its moving and its bake.
	step, _ := rollout.Next(rollout.Initial, rollout.Step)
	add(rollout.Initial.Label(), "", class(rollout.Initial))
	for i, s := range m.Steps {
		sub := fmt.Sprintf("step %d", i+1)
		if s.Bake != "" {
			sub += ", bake " + s.Bake
		}
		add(fmt.Sprintf("%d%% canary", s.Weight), sub, class(step))
	}
	if len(m.Steps) == 0 {
		add(step.Label(), "", class(step))
	}
	promote := move(rollout.Promote)
	add(promote.To.Label(), promote.Result, class(promote.To))
	width := x - gapX + margin
	y2 := top + rowGap
	// The second row: where a fired trigger leads under this policy, then
	// the moves out of there, in the table's order.
	trigger := move(m.onTrigger())
	reason := trigger.Label
	second := []box{{label: trigger.To.Label(), sub: trigger.Result, class: class(trigger.To)}}
	var then []rollout.Transition
	if !trigger.To.Final() {
		then = rollout.Out(trigger.To)
	}
	for _, t := range then {
		second = append(second, box{label: t.To.Label(), sub: t.Result, class: class(t.To)})
	}
	sx := margin + boxW + gapX
	for i := range second {
		second[i].x, second[i].y = sx, y2
		sx += boxW + gapX + 40
	}
	if sx-gapX-40+margin > width {
		width = sx - gapX - 40 + margin
	}
	height := y2 + boxH + 44
	var notes []string
	for _, g := range notPlaced {
		notes = append(notes, "migration "+g.ID+": "+g.When)
	}
	if m.Freeze {
		notes = append(notes, move(rollout.Freeze).Label)
	}
	if len(notes) > 1 {
		height += (len(notes) - 1) * 15
	}

	var b strings.Builder
	desc := describe(m, trigger)
	fmt.Fprintf(&b, `<svg class="state-machine" role="img" aria-labelledby="sm-title sm-desc" viewBox="0 0 %d %d" width="100%%" preserveAspectRatio="xMinYMin meet" xmlns="http://www.w3.org/2000/svg">`, width, height)
	fmt.Fprintf(&b, `<title id="sm-title">Rollout and rollback state machine</title><desc id="sm-desc">%s</desc>`, html.EscapeString(desc))
	b.WriteString(`<defs><marker id="sm-arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="currentColor"/></marker></defs>`)
	for i := 0; i+1 < len(happy); i++ {
		arrow(&b, happy[i].x+boxW, top+boxH/2, happy[i+1].x, top+boxH/2, "")
	}
	// Every progressing state can fire a trigger; draw it from the middle of the canary steps.
	from := happy[len(happy)/2]
	if len(happy) > 2 {
		from = happy[1]
	}
	firstSecond := second[0]
	fmt.Fprintf(&b, `<path class="edge edge-trigger" d="M%d,%d C%d,%d %d,%d %d,%d" fill="none" stroke="currentColor" stroke-dasharray="5 3" marker-end="url(#sm-arrow)"/>`,
		from.x+boxW/2, top+boxH, from.x+boxW/2, top+boxH+30, firstSecond.x+boxW/2, y2-30, firstSecond.x+boxW/2, y2)
	label(&b, (from.x+boxW/2+firstSecond.x+boxW/2)/2+6, (top+boxH+y2)/2+4, reason, "edge-label trigger-label")
	// The first move out is an arrow to the next box; each further one
	// curves below the row to its own.
	for i, t := range then {
		to := second[i+1]
		if i == 0 {
			arrow(&b, second[0].x+boxW, y2+boxH/2, to.x, y2+boxH/2, t.Label)
			continue
		}
		fmt.Fprintf(&b, `<path class="edge" d="M%d,%d C%d,%d %d,%d %d,%d" fill="none" stroke="currentColor" marker-end="url(#sm-arrow)"/>`,
			second[0].x+boxW/2, y2+boxH, second[0].x+boxW/2, y2+boxH+30, to.x+boxW/2, y2+boxH+30, to.x+boxW/2, y2+boxH)
		label(&b, (second[0].x+to.x)/2+boxW/2, y2+boxH+38, t.Label, "edge-label")
	}
	for _, bx := range append(happy, second...) {
		drawBox(&b, bx)
	}
	for i, bx := range happy {
		if gs := placed[i]; len(gs) > 0 {
			markMigrations(&b, bx, gs, width)
		}
	}
	for i, n := range notes {
		label(&b, margin, height-6-(len(notes)-1-i)*15, n, "edge-label")
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

// markMigrations labels the migrations that run in state bx above it,
// stacked, with one leader line down to the state.
func markMigrations(b *strings.Builder, bx box, gs []Migration, width int) {
	cx := bx.x + boxW/2
	base := bx.y - 12 // the lowest label's baseline
	for i, g := range gs {
		class := "migration"
		if g.Unsafe {
			class += " migration-unsafe"
		}
		text := "migration " + shortID(g.ID)
		// Keep the label inside the drawing: about 5.6 px a character.
		half := len([]rune(text)) * 28 / 10
		x := min(max(cx, margin+half), width-margin-half)
		y := base - (len(gs)-1-i)*labelRow
		fmt.Fprintf(b, `<g class="%s"><title>%s</title>`, class, html.EscapeString("migration "+g.ID+": "+g.When))
		if i == len(gs)-1 {
			fmt.Fprintf(b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="currentColor" stroke-dasharray="2 2"/><circle cx="%d" cy="%d" r="2.5" fill="currentColor"/>`, cx, y+3, cx, bx.y, cx, bx.y)
		}
		fmt.Fprintf(b, `<text x="%d" y="%d" text-anchor="middle" font-size="10.5" font-weight="600" fill="currentColor">%s</text></g>`, x, y, html.EscapeString(text))
	}
}

// shortID is how a label names a migration: the number that starts an id
// like 0107_drop_orders_legacy_status, else the id, shortened to fit.
func shortID(id string) string {
	if i := strings.IndexAny(id, "_-"); i > 0 && strings.Trim(id[:i], "0123456789") == "" {
		return id[:i]
	}
	r := []rune(id)
	if n := labelChars - len("migration "); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return id
}

// onTrigger is the move a fired trigger makes under m's policy, decided in
// the controller's order: the migration guard before a human's decision.
func (m Machine) onTrigger() rollout.Cause {
	switch {
	case m.MigrationGuard:
		return rollout.MigrationGuard
	case !m.Automatic:
		return rollout.AutomaticOff
	}
	return rollout.Rollback
}

// watched is the state a step's triggers fire in, whose moves the drawing
// shows.
const watched = rollout.Baking

// move is the table's move out of a watched step on cause.
func move(on rollout.Cause) rollout.Transition {
	t, ok := rollout.Move(watched, on)
	if !ok {
		panic("statesvg: rollout.Transitions has no move from " + string(watched) + " on " + string(on))
	}
	return t
}

// class is the CSS class of a state's box.
func class(s rollout.State) string { return "st-" + string(s.Kind()) }

func describe(m Machine, trigger rollout.Transition) string {
	var parts []string
	for _, s := range m.Steps {
		p := fmt.Sprintf("%d%%", s.Weight)
		if s.Bake != "" {
			p += " for " + s.Bake
		}
		parts = append(parts, p)
	}
	d := "Pending, then canary steps " + strings.Join(parts, ", ") + ", then promoted. "
	if len(m.Steps) == 0 {
		d = "Pending, progressing, then promoted. "
	}
	switch trigger.On {
	case rollout.MigrationGuard:
		d += "On a trigger a contract migration blocks automatic rollback: halted, a human is paged, traffic stays put."
	case rollout.AutomaticOff:
		d += "On a trigger the controller halts and pages; a human decides."
	default:
		d += "On a trigger (" + trigger.Label + "): rolling back to 100% stable, then rolled back once stable is verified healthy; if the rollback fails or stable is unhealthy, halted and paged."
	}
	for _, g := range m.Migrations {
		d += " Migration " + g.ID + ": " + g.When
		if g.Unsafe {
			d += ", while the previous release still takes traffic"
		}
		d += "."
	}
	return d
}

func arrow(b *strings.Builder, x1, y1, x2, y2 int, text string) {
	fmt.Fprintf(b, `<line class="edge" x1="%d" y1="%d" x2="%d" y2="%d" stroke="currentColor" marker-end="url(#sm-arrow)"/>`, x1, y1, x2-2, y2)
	if text != "" {
		label(b, (x1+x2)/2-gapX/2-8, y1-6, text, "edge-label")
	}
}

func label(b *strings.Builder, x, y int, text, class string) {
	fmt.Fprintf(b, `<text class="%s" x="%d" y="%d" font-size="11" fill="currentColor">%s</text>`, class, x, y, html.EscapeString(text))
}

func drawBox(b *strings.Builder, bx box) {
	fmt.Fprintf(b, `<g class="state %s"><rect x="%d" y="%d" width="%d" height="%d" rx="8" fill="none" stroke="currentColor"/>`, bx.class, bx.x, bx.y, boxW, boxH)
	ty := bx.y + boxH/2 + 4
	if bx.sub != "" {
		ty = bx.y + 18
	}
	fmt.Fprintf(b, `<text x="%d" y="%d" text-anchor="middle" font-size="13" font-weight="600" fill="currentColor">%s</text>`, bx.x+boxW/2, ty, html.EscapeString(bx.label))
	if bx.sub != "" {
		fmt.Fprintf(b, `<text x="%d" y="%d" text-anchor="middle" font-size="10.5" fill="currentColor" opacity="0.8">%s</text>`, bx.x+boxW/2, bx.y+34, html.EscapeString(bx.sub))
	}
	b.WriteString(`</g>`)
}
