package export

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/goccy/go-yaml"
)

// Pinned controller versions whose published CRDs the exports must satisfy.
const (
	argoModule    = "github.com/argoproj/argo-rollouts@v1.8.3"
	flaggerModule = "github.com/fluxcd/flagger@v1.36.1"
)

// moduleDir downloads a module through the Go module proxy (the CRDs ship
// in the controllers' repositories) and returns its folder.
func moduleDir(t *testing.T, mod string) string {
	t.Helper()
	out, err := exec.Command("go", "mod", "download", "-json", mod).Output()
	var info struct{ Dir, Error string }
	if err == nil {
		err = json.Unmarshal(out, &info)
	}
	if err != nil || info.Dir == "" {
		if os.Getenv("CI") != "" {
			t.Fatalf("downloading %s for its CRDs: %v %s", mod, err, info.Error)
		}
		t.Skipf("cannot download %s: %v %s", mod, err, info.Error)
	}
	return info.Dir
}

// crdSchemas reads the openAPIV3Schema of every kind and version in the
// CRD files.
func crdSchemas(t *testing.T, files ...string) map[string]map[string]any {
	t.Helper()
	out := map[string]map[string]any{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, doc := range bytes.Split(data, []byte("\n---")) {
			var crd struct {
				Kind string `yaml:"kind"`
				Spec struct {
					Group string `yaml:"group"`
					Names struct {
						Kind string `yaml:"kind"`
					} `yaml:"names"`
					Versions []struct {
						Name   string `yaml:"name"`
						Schema struct {
							OpenAPIV3Schema map[string]any `yaml:"openAPIV3Schema"`
						} `yaml:"schema"`
					} `yaml:"versions"`
				} `yaml:"spec"`
			}
			if yaml.Unmarshal(doc, &crd) != nil || crd.Kind != "CustomResourceDefinition" {
				continue
			}
			for _, v := range crd.Spec.Versions {
				out[crd.Spec.Group+"/"+v.Name+"/"+crd.Spec.Names.Kind] = v.Schema.OpenAPIV3Schema
			}
		}
	}
	return out
}

// validate checks obj against an OpenAPI v3 structural schema: types,
// known properties, required fields, int-or-string.
func validate(obj any, s map[string]any, path string) []string {
	var errs []string
	if s == nil {
		return nil
	}
	if alts, ok := s["anyOf"].([]any); ok && s["type"] == nil && s["x-kubernetes-int-or-string"] != true {
		for _, a := range alts {
			if len(validate(obj, a.(map[string]any), path)) == 0 {
				return nil
			}
		}
		return []string{path + ": matches none of anyOf"}
	}
	if s["x-kubernetes-int-or-string"] == true {
		switch obj.(type) {
		case string, int, int64, uint64, float64:
			return nil
		}
		return []string{fmt.Sprintf("%s: want int or string, got %T", path, obj)}
	}
	switch s["type"] {
	case "object":
		m, ok := obj.(map[string]any)
		if !ok {
			return []string{fmt.Sprintf("%s: want object, got %T", path, obj)}
		}
		props, _ := s["properties"].(map[string]any)
		addl, _ := s["additionalProperties"].(map[string]any)
		open := s["x-kubernetes-preserve-unknown-fields"] == true || s["additionalProperties"] == true
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			if ps, ok := props[k].(map[string]any); ok {
				errs = append(errs, validate(m[k], ps, path+"."+k)...)
			} else if addl != nil {
				errs = append(errs, validate(m[k], addl, path+"."+k)...)
			} else if !open && props != nil {
				errs = append(errs, path+"."+k+": unknown field")
			}
		}
		if req, ok := s["required"].([]any); ok {
			for _, r := range req {
				if _, ok := m[r.(string)]; !ok {
					errs = append(errs, path+"."+r.(string)+": required")
				}
			}
		}
	case "array":
		a, ok := obj.([]any)
		if !ok {
			return []string{fmt.Sprintf("%s: want array, got %T", path, obj)}
		}
		items, _ := s["items"].(map[string]any)
		for i, it := range a {
			errs = append(errs, validate(it, items, fmt.Sprintf("%s[%d]", path, i))...)
		}
	case "string":
		if _, ok := obj.(string); !ok {
			errs = append(errs, fmt.Sprintf("%s: want string, got %T", path, obj))
		}
	case "integer":
		switch obj.(type) {
		case int, int64, uint64:
		default:
			errs = append(errs, fmt.Sprintf("%s: want integer, got %T", path, obj))
		}
	case "number":
		switch obj.(type) {
		case int, int64, uint64, float64:
		default:
			errs = append(errs, fmt.Sprintf("%s: want number, got %T", path, obj))
		}
	case "boolean":
		if _, ok := obj.(bool); !ok {
			errs = append(errs, fmt.Sprintf("%s: want boolean, got %T", path, obj))
		}
	}
	return errs
}

// Every exported object validates against the CRD schema of the pinned
// controller version.
func TestExportsMatchCRDs(t *testing.T) {
	argo := moduleDir(t, argoModule)
	flagger := moduleDir(t, flaggerModule)
	schemas := crdSchemas(t,
		filepath.Join(argo, "manifests", "crds", "rollout-crd.yaml"),
		filepath.Join(argo, "manifests", "crds", "analysis-template-crd.yaml"),
		filepath.Join(flagger, "artifacts", "flagger", "crd.yaml"))
	for _, k := range []string{"argoproj.io/v1alpha1/Rollout", "argoproj.io/v1alpha1/AnalysisTemplate", "flagger.app/v1beta1/Canary", "flagger.app/v1beta1/MetricTemplate"} {
		if schemas[k] == nil {
			t.Fatalf("no schema for %s in the pinned CRDs", k)
		}
	}
	files, _ := filepath.Glob("testdata/*.yaml")
	if len(files) == 0 {
		t.Fatal("no exported manifests in testdata")
	}
	for _, f := range files {
		data, _ := os.ReadFile(f)
		for i, d := range docs(t, data) {
			key := fmt.Sprint(d["apiVersion"], "/", d["kind"])
			s := schemas[key]
			if s == nil {
				t.Errorf("%s doc %d: no CRD schema for %s", f, i, key)
				continue
			}
			for _, e := range validate(d, s, strings.TrimSuffix(filepath.Base(f), ".yaml")+"#"+fmt.Sprint(i)) {
				t.Error(e)
			}
		}
	}
}

// The validator itself rejects what the cluster would.
func TestValidateRejects(t *testing.T) {
	s := map[string]any{"type": "object", "required": []any{"port"}, "properties": map[string]any{
		"port":  map[string]any{"type": "integer"},
		"limit": map[string]any{"x-kubernetes-int-or-string": true, "anyOf": []any{map[string]any{"type": "integer"}, map[string]any{"type": "string"}}},
		"steps": map[string]any{"type": "array", "items": map[string]any{"type": "string"}},
	}}
	tests := []struct {
		obj  map[string]any
		want string
	}{
		{map[string]any{"port": uint64(80), "limit": "1", "steps": []any{"a"}}, ""},
		{map[string]any{"limit": uint64(1)}, "required"},
		{map[string]any{"port": "80"}, "want integer"},
		{map[string]any{"port": uint64(80), "prot": uint64(1)}, "unknown field"},
		{map[string]any{"port": uint64(80), "steps": []any{uint64(1)}}, "want string"},
		{map[string]any{"port": uint64(80), "limit": true}, "int or string"},
	}
	for _, tt := range tests {
		errs := validate(tt.obj, s, "x")
		if tt.want == "" && len(errs) > 0 || tt.want != "" && (len(errs) == 0 || !strings.Contains(strings.Join(errs, ";"), tt.want)) {
			t.Errorf("validate(%v) = %v, want %q", tt.obj, errs, tt.want)
		}
	}
}
