package argoengine

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/promql/parser"
	"go.yaml.in/yaml/v3"

	"github.com/rollbook/rollbook/internal/metricquery"
)

// PluginName is the drill router's traffic-router plugin in Argo's
// ConfigMap (internal/argo/controlplane/trafficrouter.Name: that module
// cannot be imported here).
const PluginName = "rollbook/router"

// argoDefaultScaleDown is Argo Rollouts' scaleDownDelaySeconds and
// abortScaleDownDelaySeconds when a Rollout with traffic routing leaves
// them out (utils/defaults).
const argoDefaultScaleDown = 30 * time.Second

// Manifests are the objects `rollbook export argo` writes for one plan.
type Manifests struct {
	Rollout   map[string]any
	Templates []map[string]any
}

// ParseExport reads the export's YAML documents: one Rollout and its
// AnalysisTemplates.
func ParseExport(data []byte) (*Manifests, error) {
	m := &Manifests{}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var obj map[string]any
		err := dec.Decode(&obj)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("the Argo export does not parse: %w", err)
		}
		switch obj["kind"] {
		case nil:
		case "Rollout":
			if m.Rollout != nil {
				return nil, errors.New("the Argo export holds two Rollouts")
			}
			m.Rollout = obj
		case "AnalysisTemplate":
			m.Templates = append(m.Templates, obj)
		default:
			return nil, fmt.Errorf("the Argo export holds a %v, which a drill does not apply", obj["kind"])
		}
	}
	if m.Rollout == nil {
		return nil, errors.New("the Argo export holds no Rollout")
	}
	return m, nil
}

// Name is the Rollout's name.
func (m *Manifests) Name() string {
	meta, _ := m.Rollout["metadata"].(map[string]any)
	name, _ := meta["name"].(string)
	return name
}

// HasAutomaticAbort reports whether the Rollout aborts on its own: it
// runs an analysis whose templates can fail a measurement. A contract
// plan is exported without one (a human decides), which is the
// migration guard's part in a drill on Argo.
func (m *Manifests) HasAutomaticAbort() bool {
	canary := m.canary()
	if canary == nil {
		return false
	}
	analysis, _ := canary["analysis"].(map[string]any)
	refs, _ := analysis["templates"].([]any)
	if len(refs) == 0 {
		for _, s := range list(canary["steps"]) {
			if _, ok := s["analysis"]; ok {
				return true // an inline step analysis: assume it can fail
			}
		}
		return false
	}
	for _, t := range m.Templates {
		for _, mt := range list(path(t, "spec")["metrics"]) {
			if fc, ok := mt["failureCondition"].(string); !ok || fc != "false" {
				return true
			}
		}
	}
	return false
}

func (m *Manifests) canary() map[string]any {
	strategy, _ := path(m.Rollout, "spec")["strategy"].(map[string]any)
	c, _ := strategy["canary"].(map[string]any)
	return c
}

// Drill is what a drill fills into the export: what it leaves to the team
// (the pods: selector and template), the drill's own endpoints, and the
// drill's time scale.
type Drill struct {
	// Prometheus is the drill Prometheus's address as the controller
	// reaches it (the controller runs on the host).
	Prometheus string
	// Router and Faults are the admin addresses of the drill router and
	// of the fault injector in front of the canary, for the plugin.
	Router, Faults string
	// Scale divides every duration of the export, as the built-in drill
	// divides the plan's (gameday.Policy.Scale).
	Scale float64
	// Weight is the weight a step of the plan runs at in the drill
	// (gameday.Policy.DrillWeight): raised where a compressed window
	// would otherwise hold too few requests to judge.
	Weight func(int) int
	// App labels the pods and selects them.
	App string
	// The pods' one container: image, environment, port and readiness path.
	Image     string
	Env       map[string]string
	Port      int
	ReadyPath string
}

// ForDrill fills the drill into the manifests and returns, for the
// report, every change it made to what the export wrote.
func (m *Manifests) ForDrill(d Drill) ([]string, error) {
	if d.Scale <= 0 {
		d.Scale = 1
	}
	var notes []string
	for _, t := range m.Templates {
		tn := path(t, "metadata")["name"]
		for _, mt := range list(path(t, "spec")["metrics"]) {
			prom := path(path(mt, "provider"), "prometheus")
			if prom == nil {
				return nil, fmt.Errorf("AnalysisTemplate %v: metric %v has no Prometheus provider, which is all a drill has", tn, mt["name"])
			}
			prom["address"] = d.Prometheus
			if d.Scale == 1 {
				continue
			}
			q, _ := prom["query"].(string)
			scaled, err := ScaleQuery(q, d.Scale)
			if err != nil {
				return nil, fmt.Errorf("AnalysisTemplate %v: metric %v: %w", tn, mt["name"], err)
			}
			prom["query"] = scaled
			for _, key := range []string{"interval", "initialDelay"} {
				if s, ok := mt[key].(string); ok {
					v, err := scaleDuration(s, d.Scale)
					if err != nil {
						return nil, fmt.Errorf("AnalysisTemplate %v: metric %v: %s: %w", tn, mt["name"], key, err)
					}
					mt[key] = v
				}
			}
		}
	}
	if d.Scale != 1 {
		notes = append(notes, fmt.Sprintf("time scale %gx, as the built-in drill's: every query range and offset, analysis interval and initial delay divided by it; pauses too, rounded up to whole seconds (Argo counts pauses in seconds)", d.Scale))
	}

	canary := m.canary()
	if canary == nil {
		return nil, errors.New("the exported Rollout has no canary strategy: the drill runs canaries")
	}
	for i, s := range list(canary["steps"]) {
		if w, ok := number(s["setWeight"]); ok && d.Weight != nil {
			if dw := d.Weight(int(w)); dw != int(w) {
				s["setWeight"] = dw
				notes = append(notes, fmt.Sprintf("step %d: setWeight %d raised to %d, as the built-in drill raises it, so each compressed window holds the triggers' min_requests", i+1, int(w), dw))
			}
		}
		pause, ok := s["pause"].(map[string]any)
		if !ok || pause["duration"] == nil || d.Scale == 1 {
			continue
		}
		plan, err := pauseDuration(pause["duration"])
		if err != nil {
			return nil, fmt.Errorf("step %d: pause: %w", i+1, err)
		}
		pause["duration"] = ceilSeconds(plan, d.Scale)
	}
	// Argo's own defaults are durations of the policy too: they are
	// written in, divided like the rest (0 would mean "never" to Argo).
	for _, key := range []string{"scaleDownDelaySeconds", "abortScaleDownDelaySeconds"} {
		if _, set := canary[key]; !set {
			canary[key] = ceilSeconds(argoDefaultScaleDown, d.Scale)
			notes = append(notes, fmt.Sprintf("%s: Argo's default %s, divided by the time scale: %ds", key, argoDefaultScaleDown, canary[key]))
		}
	}
	if canary["trafficRouting"] != nil {
		return nil, errors.New("the exported Rollout names its own trafficRouting: the drill routes through its own router")
	}
	canary["trafficRouting"] = map[string]any{"plugins": map[string]any{
		PluginName: map[string]any{"router": d.Router, "faults": d.Faults, "port": d.Port},
	}}
	notes = append(notes, "trafficRouting: the drill router's plugin ("+PluginName+"), which sets the drill router's weights and upstreams")

	spec := path(m.Rollout, "spec")
	meta := path(m.Rollout, "metadata")
	meta["namespace"] = "default"
	env := make([]any, 0, len(d.Env))
	keys := make([]string, 0, len(d.Env))
	for k := range d.Env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		env = append(env, map[string]any{"name": k, "value": d.Env[k]})
	}
	spec["replicas"] = 1
	spec["selector"] = map[string]any{"matchLabels": map[string]any{"app": d.App}}
	spec["template"] = map[string]any{
		"metadata": map[string]any{"labels": map[string]any{"app": d.App}},
		"spec": map[string]any{
			"terminationGracePeriodSeconds": 1,
			"containers": []any{map[string]any{
				"name": "app", "image": d.Image, "env": env,
				"ports": []any{map[string]any{"containerPort": d.Port}},
				"readinessProbe": map[string]any{
					"httpGet":       map[string]any{"path": d.ReadyPath, "port": d.Port},
					"periodSeconds": 1,
				},
			}},
		},
	}
	notes = append(notes, "selector and pod template (left to the team by the export): one replica of the plan's gameday.service release")
	return notes, nil
}

// ScaleQuery divides every range, offset and subquery step of a PromQL
// query by scale, with Prometheus's own parser; the {{args.NAME}}
// references Argo fills in stay as they are (they are label values).
func ScaleQuery(q string, scale float64) (string, error) {
	expr, err := metricquery.Validate(q)
	if err != nil {
		return "", err
	}
	div := func(d time.Duration) time.Duration {
		if d == 0 {
			return 0
		}
		return max(time.Millisecond, (time.Duration(float64(d) / scale)).Round(time.Millisecond))
	}
	parser.Inspect(expr, func(n parser.Node, _ []parser.Node) error {
		switch n := n.(type) {
		case *parser.MatrixSelector:
			n.Range = div(n.Range)
		case *parser.VectorSelector:
			n.OriginalOffset = div(n.OriginalOffset)
		case *parser.SubqueryExpr:
			n.Range, n.Step, n.OriginalOffset = div(n.Range), div(n.Step), div(n.OriginalOffset)
		}
		return nil
	})
	return expr.String(), nil
}

func scaleDuration(s string, scale float64) (string, error) {
	d, err := time.ParseDuration(s)
	if err != nil {
		md, merr := model.ParseDuration(s)
		if merr != nil {
			return "", err
		}
		d = time.Duration(md)
	}
	return metricquery.Duration(max(time.Millisecond, time.Duration(float64(d)/scale))), nil
}

// pauseDuration reads a pause's duration as Argo does: a number of
// seconds, or a Go duration.
func pauseDuration(v any) (time.Duration, error) {
	if n, ok := number(v); ok {
		return time.Duration(n) * time.Second, nil
	}
	s, _ := v.(string)
	if n, err := strconv.Atoi(s); err == nil {
		return time.Duration(n) * time.Second, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("duration %v: %w", v, err)
	}
	return d, nil
}

// ceilSeconds is d divided by scale in whole seconds, at least one.
func ceilSeconds(d time.Duration, scale float64) int {
	return max(1, int(math.Ceil(d.Seconds()/scale)))
}

func number(v any) (float64, bool) {
	switch n := v.(type) {
	case int:
		return float64(n), true
	case int64:
		return float64(n), true
	case float64:
		return n, true
	}
	return 0, false
}

// path is obj[key] as an object, created when absent.
func path(obj map[string]any, key string) map[string]any {
	if obj == nil {
		return nil
	}
	m, ok := obj[key].(map[string]any)
	if !ok {
		m = map[string]any{}
		obj[key] = m
	}
	return m
}

// list is v as a list of objects.
func list(v any) []map[string]any {
	items, _ := v.([]any)
	out := make([]map[string]any, 0, len(items))
	for _, it := range items {
		if m, ok := it.(map[string]any); ok {
			out = append(out, m)
		}
	}
	return out
}

// Step is one step of the Rollout's canary, as Argo reads it.
type Step struct {
	Weight    int  // setWeight, when IsWeight
	IsWeight  bool //
	Pause     time.Duration
	IsPause   bool
	Unbounded bool // a pause without a duration: until a human promotes
	Other     string
}

func (s Step) String() string {
	switch {
	case s.IsWeight:
		return fmt.Sprintf("setWeight %d", s.Weight)
	case s.IsPause && s.Unbounded:
		return "pause until promoted"
	case s.IsPause:
		return "pause " + s.Pause.String()
	}
	return s.Other
}

// Steps are the Rollout's canary steps.
func (m *Manifests) Steps() []Step {
	c := m.canary()
	if c == nil {
		return nil
	}
	var out []Step
	for _, s := range list(c["steps"]) {
		var st Step
		if w, ok := number(s["setWeight"]); ok {
			st.Weight, st.IsWeight = int(w), true
		} else if p, ok := s["pause"].(map[string]any); ok {
			st.IsPause = true
			if p["duration"] == nil {
				st.Unbounded = true
			} else if d, err := pauseDuration(p["duration"]); err == nil {
				st.Pause = d
			}
		} else {
			for k := range s {
				st.Other = k
			}
		}
		out = append(out, st)
	}
	return out
}

// DelayAnalysis sets every metric's initialDelay to d, where the export
// set none or a shorter one, and returns the templates' names: the caller
// writes their metrics (TemplateMetrics) to the cluster.
func (m *Manifests) DelayAnalysis(d time.Duration) []string {
	var names []string
	for _, t := range m.Templates {
		for _, mt := range list(path(t, "spec")["metrics"]) {
			if s, ok := mt["initialDelay"].(string); ok {
				if cur, err := time.ParseDuration(s); err == nil && cur >= d {
					continue
				}
			}
			mt["initialDelay"] = metricquery.Duration(d)
		}
		name, _ := path(t, "metadata")["name"].(string)
		names = append(names, name)
	}
	return names
}

// TemplateMetrics is the metrics list of the template name, for a patch.
func (m *Manifests) TemplateMetrics(name string) any {
	for _, t := range m.Templates {
		if n, _ := path(t, "metadata")["name"].(string); n == name {
			return path(t, "spec")["metrics"]
		}
	}
	return nil
}
