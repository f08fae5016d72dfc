package site

import (
	"slices"
	"strings"

	"github.com/rollbook/rollbook/internal/plan"
)

// RollbackID is the anchor of the plan's rollback procedure (any of the
// names plan.RollbackProcedure accepts), for the "Rollback now" link at the
// top of the page; "" when the page has none.
func (pg *Page) RollbackID() string {
	if pg.Plan == nil || !pg.Plan.IsPlan() {
		return ""
	}
	for _, h := range pg.Headings {
		if h.ID != "" && plan.RollbackProcedure.Matches(h.Text) {
			return h.ID
		}
	}
	return ""
}

// RunbookURL is the runbook_url annotation that opens this alert's runbook
// filled in: the alert's stable address under the site's base_url, with
// each input the alert can fill taken from its label. An input fills from
// a label when it names one (label:), or when its name is a label the
// alert is known to carry (alertrule.IncidentLabels); the others are
// typed by the reader. Alertmanager expands the {{ $labels.… }} when the
// alert fires; urlquery keeps a value with & or = in it one value. "" when
// no input can be filled.
func (a *AlertView) RunbookURL(baseURL string, inputs []plan.Input) string {
	known := a.IncidentLabels()
	var b strings.Builder
	for _, in := range inputs {
		if in.Label == "" && !slices.Contains(known, in.Name) {
			continue
		}
		if b.Len() == 0 {
			b.WriteString(strings.TrimSuffix(baseURL, "/") + alertsListURL + a.Name + "/?")
		} else {
			b.WriteByte('&')
		}
		b.WriteString(in.Name + "={{ $labels." + in.LabelName() + " | urlquery }}")
	}
	return b.String()
}

// shortRefLen is the longest image reference the drill table shows whole:
// a row stays one line at 1400 px with both releases in the cell.
const shortRefLen = 24

// ShortRef is the image reference as the drill table shows it: the
// repository's last path element with its tag, and a long name or tag cut
// in the middle. The full reference is the cell's title.
func (im DrilledImage) ShortRef() string {
	ref := im.Ref
	if i := strings.LastIndexByte(ref, '/'); i >= 0 && i < len(ref)-1 {
		ref = ref[i+1:]
	}
	r := []rune(ref)
	if len(r) <= shortRefLen {
		return ref
	}
	keep := (shortRefLen - 1) / 2
	return string(r[:keep]) + "…" + string(r[len(r)-keep:])
}
