package metricquery

import (
	"fmt"
	"math"
	"reflect"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/vm"
)

// condition is an Argo Rollouts successCondition or failureCondition,
// compiled with expr-lang/expr (the library the Argo controller uses) over
// the same environment the controller gives it: result and its helper
// functions. A condition that does not compile here does not compile in
// the controller either.
type condition struct {
	text string
	prog *vm.Program
}

// argoEnv mirrors the variables and functions Argo Rollouts' evaluator
// offers a condition (result, asInt, asFloat, isNaN, isInf, isNil,
// default); result is what its Prometheus provider passes for a vector
// query: one float64 per series.
func argoEnv(result []float64) map[string]any {
	return map[string]any{
		"result":  result,
		"asInt":   func(v any) int64 { f, _ := asFloat(v); return int64(f) },
		"asFloat": func(v any) float64 { f, _ := asFloat(v); return f },
		"isNaN":   math.IsNaN,
		"isInf":   func(f float64) bool { return math.IsInf(f, 0) },
		"isNil":   func() bool { return result == nil },
		"default": func(v, d any) any {
			if v == nil || reflect.ValueOf(v).Kind() == reflect.Slice && reflect.ValueOf(v).Len() == 0 {
				return d
			}
			return v
		},
	}
}

func asFloat(v any) (float64, bool) {
	switch x := v.(type) {
	case float64:
		return x, true
	case int:
		return float64(x), true
	case int64:
		return float64(x), true
	}
	return math.NaN(), false
}

func compileCondition(text string) (*condition, error) {
	if text == "" {
		return nil, fmt.Errorf("empty condition")
	}
	p, err := expr.Compile(text, expr.Env(argoEnv([]float64{0})), expr.AsBool())
	if err != nil {
		return nil, err
	}
	return &condition{text: text, prog: p}, nil
}

func (c *condition) eval(result []float64) (bool, error) {
	out, err := expr.Run(c.prog, argoEnv(result))
	if err != nil {
		return false, fmt.Errorf("evaluating %q: %w", c.text, err)
	}
	b, ok := out.(bool)
	if !ok {
		return false, fmt.Errorf("condition %q returned %T, not a bool", c.text, out)
	}
	return b, nil
}

// CompileCondition checks an Argo condition as the controller would.
func CompileCondition(text string) error {
	_, err := compileCondition(text)
	return err
}
