// Package export turns a plan's drilled rollback policy into manifests for
// progressive-delivery controllers (Argo Rollouts, Flagger), so the policy
// that was drilled is the policy that runs. What a controller cannot
// express is returned as warnings, never dropped silently, and a plan whose
// rollback must not be automatic never yields a manifest that auto-reverts.
package export

import (
	"bytes"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/goccy/go-yaml"

	"github.com/rollbook/rollbook/internal/migrate"
	"github.com/rollbook/rollbook/internal/plan"
)

// Versions of the controllers' APIs the output targets.
const (
	ArgoAPI    = "argoproj.io/v1alpha1"
	FlaggerAPI = "flagger.app/v1beta1"
)

// DefaultPromQL maps trigger metrics to Prometheus queries. {{service}},
// {{window}} and, for Argo, {{hash}} (the pod-template hash of a release)
// are filled in. A site overrides them with promql: in rollbook.yaml.
var DefaultPromQL = map[string]string{
	"error_rate":  `sum(rate(http_requests_total{service="{{service}}",code=~"5..",rollouts_pod_template_hash="{{hash}}"}[{{window}}])) / sum(rate(http_requests_total{service="{{service}}",rollouts_pod_template_hash="{{hash}}"}[{{window}}]))`,
	"latency_p99": `histogram_quantile(0.99, sum by (le) (rate(http_request_duration_seconds_bucket{service="{{service}}",rollouts_pod_template_hash="{{hash}}"}[{{window}}])))`,
}

// Input is what an export reads.
type Input struct {
	Plan   *plan.Plan
	Dir    string // the plan file's folder, for its migrations
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

func query(in Input, t plan.Trigger, hash string) (string, bool) {
	q, ok := in.PromQL[t.Metric]
	if !ok {
		q, ok = DefaultPromQL[t.Metric]
	}
	if t.Query != "" {
		q, ok = t.Query, true
	}
	if !ok {
		return "", false
	}
	win := promDuration(t.Window.D())
	return strings.NewReplacer("{{service}}", in.Plan.Service, "{{window}}", win, "{{hash}}", hash).Replace(q), true
}

// promDuration formats a duration as PromQL and the controllers expect.
func promDuration(d time.Duration) string {
	switch {
	case d == 0:
		return "1m"
	case d%time.Hour == 0:
		return fmt.Sprintf("%dh", d/time.Hour)
	case d%time.Minute == 0:
		return fmt.Sprintf("%dm", d/time.Minute)
	}
	return fmt.Sprintf("%ds", int(math.Ceil(d.Seconds())))
}

// threshold is the trigger's limit as the analysis compares it.
func threshold(t plan.Trigger) float64 {
	switch {
	case t.MaxDelta > 0:
		return float64(t.MaxDelta)
	case t.Max.Set:
		return t.Max.Value
	}
	return t.Min.Value
}

func marshal(docs []any, header string) ([]byte, error) {
	var b bytes.Buffer
	b.WriteString(header)
	for _, d := range docs {
		out, err := yaml.MarshalWithOptions(d, yaml.IndentSequence(true))
		if err != nil {
			return nil, err
		}
		b.WriteString("---\n")
		b.Write(out)
	}
	return b.Bytes(), nil
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
