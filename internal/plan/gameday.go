package plan

import (
	"bytes"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"text/template"
)

// GamedayService is the team's own service for drills (SPEC 3.1): its two
// releases, how to reach and judge it, and what else it needs.
type GamedayService struct {
	Stable Release `yaml:"stable"`
	Canary Release `yaml:"canary"`
	// Port is the container port the service listens on.
	Port int `yaml:"port"`
	// Env is passed to both releases; values are templates over EnvData.
	Env map[string]string `yaml:"env"`
	// Ready is polled until it answers 200 before traffic starts.
	Ready string `yaml:"ready"`
	// Metrics is the service's own Prometheus metrics path (optional).
	Metrics string `yaml:"metrics"`
	// Smoke are the stable release's own checks: they must pass before any
	// migration, and are the dynamic migration guard after the canary's.
	Smoke []Request `yaml:"smoke"`
	// SmokeCanary are the canary's own checks, when they differ from the
	// stable's (a new release may answer a new path, or another status);
	// the guard runs them after each migration. Empty: Smoke.
	SmokeCanary []Request `yaml:"smoke_canary"`
	// Traffic is the load generator's request mix.
	Traffic   []Request    `yaml:"traffic"`
	DependsOn []Dependency `yaml:"depends_on"`
}

// Release is one release's image: a local (or pullable) image, or one
// built from a Dockerfile.
type Release struct {
	Image string `yaml:"image"`
	Build Build  `yaml:"build"`
}

// Build is a Docker build: context is relative to the plan's folder and
// must stay inside the repository.
type Build struct {
	Context    string            `yaml:"context"`
	Dockerfile string            `yaml:"dockerfile"`
	Args       map[string]string `yaml:"args"`
}

// Request is one HTTP request of a smoke list or a traffic mix.
type Request struct {
	Method string `yaml:"method" enum:"GET,HEAD,POST,PUT,PATCH,DELETE,OPTIONS"`
	Path   string `yaml:"path"`
	Body   string `yaml:"body"`
	// Expect is the status a smoke check must answer.
	Expect int `yaml:"expect"`
	// Weight is a traffic request's share of the mix.
	Weight int `yaml:"weight"`
}

// Dependency is one more container on the drill network, reachable from
// the releases by its name.
type Dependency struct {
	Name  string            `yaml:"name"`
	Image string            `yaml:"image"`
	Port  int               `yaml:"port"`
	Env   map[string]string `yaml:"env"`
}

// GamedayDatabase is the PostgreSQL database both releases share.
type GamedayDatabase struct {
	Name string `yaml:"name"`
	// Schema is a SQL file (relative to the plan) the database starts
	// from; empty means the stable release's own start-up migrations.
	Schema string `yaml:"schema"`
	// Volume is production-like data loaded before the drill (SPEC 3.3):
	// rows per table, generated from the schema's column types,
	// constraints and foreign keys. Seed is a SQL file (relative to the
	// plan) run once instead, for data a generator cannot make.
	Volume map[string]int64 `yaml:"volume"`
	Seed   string           `yaml:"seed"`
}

// Defined reports whether the plan names its own service.
func (s GamedayService) Defined() bool {
	return s.Stable.Image != "" || s.Stable.Build.Context != "" || s.Canary.Image != "" || s.Canary.Build.Context != "" || s.Port != 0
}

// EnvData is what a release's env templates can use: the drill's own
// addresses, as the release sees them on the drill network.
type EnvData struct {
	DatabaseURL  string // postgres://user@host:port/name?sslmode=disable
	DatabaseHost string
	DatabasePort int
	DatabaseName string
	DatabaseUser string
	Release      string            // stable or canary
	Port         int               // the port the release must listen on
	Hosts        map[string]string // dependency name -> host:port
}

// SampleEnvData has every field set, to check templates without a drill.
func SampleEnvData(deps []Dependency) EnvData {
	d := EnvData{DatabaseURL: "postgres://postgres@db:5432/app?sslmode=disable", DatabaseHost: "db", DatabasePort: 5432, DatabaseName: "app", DatabaseUser: "postgres", Release: "stable", Port: 8080, Hosts: map[string]string{}}
	for _, dep := range deps {
		d.Hosts[dep.Name] = fmt.Sprintf("%s:%d", dep.Name, dep.Port)
	}
	return d
}

// EnvFields lists what env templates can use, for error messages.
const EnvFields = `.DatabaseURL, .DatabaseHost, .DatabasePort, .DatabaseName, .DatabaseUser, .Release, .Port, .Host "DEPENDENCY"`

// Host is a dependency's host:port on the drill network.
func (d EnvData) Host(name string) (string, error) {
	h, ok := d.Hosts[name]
	if !ok {
		return "", fmt.Errorf("no dependency %q in depends_on", name)
	}
	return h, nil
}

// RenderEnv fills in env templates; an unknown field or dependency is an
// error naming the key.
func RenderEnv(env map[string]string, data EnvData) (map[string]string, error) {
	out := make(map[string]string, len(env))
	keys := make([]string, 0, len(env))
	for k := range env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v, err := RenderValue(k, env[k], data)
		if err != nil {
			return nil, err
		}
		out[k] = v
	}
	return out, nil
}

// RenderValue fills in one env template.
func RenderValue(key, text string, data EnvData) (string, error) {
	if !strings.Contains(text, "{{") {
		return text, nil
	}
	t, err := template.New(key).Option("missingkey=error").Parse(text)
	if err != nil {
		return "", fmt.Errorf("env %s: %w", key, err)
	}
	var b bytes.Buffer
	if err := t.Execute(&b, data); err != nil {
		return "", fmt.Errorf("env %s: %w", key, err)
	}
	return b.String(), nil
}

func init() {
	// As in parse.go: the field cache is filled before concurrent parses.
	for _, t := range []reflect.Type{reflect.TypeOf(GamedayService{}), reflect.TypeOf(Release{}), reflect.TypeOf(Build{}), reflect.TypeOf(Request{}), reflect.TypeOf(Dependency{}), reflect.TypeOf(GamedayDatabase{})} {
		fields(t)
	}
}
