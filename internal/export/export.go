// Package export turns a plan's drilled rollback policy into manifests for
// progressive-delivery controllers (Argo Rollouts, Flagger), so the policy
// that was drilled is the policy that runs. What a controller cannot
// express is returned as warnings, never dropped silently, and a plan whose
// rollback must not be automatic never yields a manifest that auto-reverts.
package export

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"

	"github.com/goccy/go-yaml"

	"github.com/rollbook/rollbook/internal/metricquery"
	"github.com/rollbook/rollbook/internal/migrate"
	"github.com/rollbook/rollbook/internal/plan"
)

// Versions of the controllers' APIs the output targets.
const (
	ArgoAPI    = "argoproj.io/v1alpha1"
	FlaggerAPI = "flagger.app/v1beta1"
)

// Input is what an export reads.
type Input struct {
	Plan *plan.Plan
	Dir  string // the plan file's folder, for its migrations
	// PromQL is rollbook.yaml's promql: queries by metric, which replace
	// the built-in ones ({{service}}, {{window}}, {{hash}} are filled in).
	PromQL map[string]string
}

// Result is the manifests (YAML documents) and the warnings.
type Result struct {
	YAML     []byte
	Warnings []string
}

// guard reports why an automatic rollback must not happen, or "".
func guard(in Input) (string, error) {
	p := in.Plan
	if !p.Rollback.Automatic {
		return "the plan sets rollback.automatic: false (decision maker: " + orDash(p.Rollback.DecisionMaker) + ")", nil
	}
	for _, m := range p.Migrations {
		if m.Phase == "contract" {
			return "migration " + m.ID + " is declared contract", nil
		}
		if m.File == "" {
			continue
		}
		res, err := migrate.AnalyzeFile(in.Dir + "/" + m.File)
		if err != nil {
			return "", err
		}
		if res.Phase == migrate.Contract {
			return "migration " + m.ID + " is a contract change (found in its SQL)", nil
		}
	}
	return "", nil
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// unsupported lists the policy parts no controller here can express.
func unsupported(p *plan.Plan, t Target) []string {
	controller := t.Controller
	var w []string
	if p.Rollback.MaxAutomatic.Count > 0 {
		w = append(w, fmt.Sprintf("%s has no cap on automatic rollbacks (%d per %s): enforce it in your pipeline", controller, p.Rollback.MaxAutomatic.Count, p.Rollback.MaxAutomatic.Per))
	}
	w = append(w, controller+" has no freeze switch: pause the rollout (or skip analysis) by hand during a freeze")
	w = append(w, controller+" does not page when a rollback is stuck: alert on "+t.StuckPhase)
	for _, t := range p.Triggers {
		if t.IsHealth() {
			w = append(w, fmt.Sprintf("trigger health (%d failed probes) is left to the pods' readiness probe, not the analysis", t.Failures))
		}
	}
	return w
}

// commented is a document written after comment lines of its own.
type commented struct {
	comment []string
	doc     any
}

func marshal(docs []any, header string) ([]byte, error) {
	var b bytes.Buffer
	b.WriteString(header)
	for _, d := range docs {
		var note []string
		if c, ok := d.(commented); ok {
			note, d = c.comment, c.doc
		}
		out, err := yaml.MarshalWithOptions(d, yaml.IndentSequence(true))
		if err != nil {
			return nil, err
		}
		b.WriteString("---\n")
		b.WriteString(comment(note))
		b.Write(out)
	}
	return b.Bytes(), nil
}

// stableNotes say, for a check on the stable release (metricquery's
// StableRegression), what it judges and what no controller can pin; the
// target adds how it acts on it.
func stableNotes(c metricquery.Check) []string {
	return []string{
		fmt.Sprintf("%s watches the STABLE release against its own level before the rollout (SPEC 3.3): its", c.Trigger),
		fmt.Sprintf("share of bad requests in the window against its share over the %s before the window, where the", metricquery.Duration(c.Baseline)),
		fmt.Sprintf("rise is significant (z >= %s); a rise of more than %s points fails it. The drill halts and", strconv.FormatFloat(metricquery.ZCritical, 'g', -1, 64), strconv.FormatFloat(c.Threshold*100, 'g', 6, 64)),
		"pages on it: no promotion, no automatic rollback (the stable release is the one that broke, e.g.",
		"a contract migration under the old release, and a baseline comparison with it is blind).",
		"No controller can pin the instant the rollout began in a query: the level is a trailing range",
		"(the plan's bake times and one window, at least 10 windows) that reaches before the first step.",
	}
}

func comment(lines []string) string {
	var b strings.Builder
	for _, l := range lines {
		b.WriteString("# ")
		b.WriteString(l)
		b.WriteByte('\n')
	}
	return b.String()
}
