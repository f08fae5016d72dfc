package check

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rollbook/rollbook/internal/diag"
	"github.com/rollbook/rollbook/internal/plan"
)

// service is a clean gameday.service; each case changes one line.
const service = `gameday:
  service:
    stable: {image: "orders:1"}
    canary: {build: {context: ../svc, args: {VERSION: "2"}}}
    port: 8080
    env: {DATABASE_URL: "{{ .DatabaseURL }}", CACHE: "{{ .Host \"cache\" }}"}
    ready: /health/ready
    smoke:
      - {method: GET, path: "/orders?limit=1", expect: 200}
    traffic:
      - {method: GET, path: /orders, weight: 9}
    depends_on:
      - {name: cache, image: "redis-local:7", port: 6379}
  database: {name: orders, schema: schema.sql}
`

func serviceFindings(t *testing.T, edit func(string) string) diag.List {
	t.Helper()
	root := t.TempDir()
	for name, text := range map[string]string{"content/schema.sql": "CREATE TABLE t (id int);\n", "svc/Dockerfile": "FROM scratch\n"} {
		f := filepath.Join(root, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(f), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(f, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	src := edit(strings.Replace(base, "contacts:", service+"contacts:", 1))
	p, ds := plan.Parse("content/x.md", "x.md", []byte(src))
	return append(ds, Plan(p, "content/x.md", Options{Now: now, ContentDir: filepath.Join(root, "content")})...)
}

func TestGamedayService(t *testing.T) {
	if ds := serviceFindings(t, func(s string) string { return s }); len(ds) != 0 {
		t.Fatalf("clean service has findings:\n%v", ds)
	}
	line := func(s string) int {
		return strings.Count(strings.Split(strings.Replace(base, "contacts:", service+"contacts:", 1), s)[0], "\n") + 1
	}
	tests := []struct {
		name      string
		from, to  string
		rule      string
		line, col int
		fix       string
	}{
		{"unknown key", "    ready: /health/ready", "    readyz: /health/ready", "unknown-key", line("    ready:"), 5, `"ready"`},
		{"bad method", "{method: GET, path: /orders, weight: 9}", "{method: FETCH, path: /orders, weight: 9}", "enum", line("    traffic:") + 1, 18, "GET, HEAD, POST"},
		{"smoke without expect", `{method: GET, path: "/orders?limit=1", expect: 200}`, `{method: GET, path: "/orders?limit=1"}`, "gameday-service", line("    smoke:") + 1, 7, "expect: 200"},
		{"context outside the repository", "context: ../svc", "context: ../../../elsewhere", "gameday-service", line("    canary:"), 31, "relative to the plan"},
		{"missing Dockerfile", "context: ../svc,", "context: ../svc, dockerfile: Missing.dockerfile,", "gameday-service", line("    canary:"), 14, "Dockerfile"},
		{"unknown template field", "{{ .DatabaseURL }}", "{{ .DatabaseUrl }}", "gameday-service", line("    env:"), 25, ".DatabaseURL"},
		{"unknown dependency host", `.Host \"cache\"`, `.Host \"redis\"`, "gameday-service", line("    env:"), 54, `no dependency "redis"`},
		{"image and build", `stable: {image: "orders:1"}`, `stable: {image: "orders:1", build: {context: ../svc}}`, "gameday-service", line("    stable:"), 5, "keep one"},
		{"no port", "    port: 8080\n", "", "gameday-service", line("  service:"), 3, "port: 8080"},
		{"path without slash", "path: /orders, weight", "path: orders, weight", "gameday-service", line("    traffic:") + 1, 7, "for example path"},
		{"missing schema", "schema: schema.sql", "schema: nope.sql", "gameday-service", line("  database:"), 36, "add the SQL file"},
		{"incompatible-migration without migrations", "gameday:\n", "gameday:\n  scenarios: [incompatible-migration]\n", "gameday-service", line("  service:"), 15, "add migrations:"},
		{"incompatible-migration with only manual migrations", "gameday:\n", "migrations: [{id: m1, file: schema.sql, runs: manual}, {id: m2, runs: pre-deploy}]\ngameday:\n  scenarios: [incompatible-migration]\n", "migration-manual", line("  service:") + 1, 15, "leave the scenario out"},
		{"dependency without port", `{name: cache, image: "redis-local:7", port: 6379}`, `{name: cache, image: "redis-local:7"}`, "gameday-service", line("    depends_on:") + 1, 7, "port: 6379"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !strings.Contains(base+service, tt.from) {
				t.Fatalf("case edits %q, which is not in the plan", tt.from)
			}
			ds := serviceFindings(t, func(s string) string { return strings.Replace(s, tt.from, tt.to, 1) })
			for _, f := range ds {
				if f.Rule == tt.rule && f.Line == tt.line && f.Col == tt.col && strings.Contains(f.Fix+f.Message, tt.fix) {
					return
				}
			}
			t.Errorf("want %s at %d:%d with %q; got:\n%v", tt.rule, tt.line, tt.col, tt.fix, ds)
		})
	}
}

// TestMigrationManual: the drill of incompatible-migration needs one
// migration with a file it may apply; a manual one beside it is fine, and
// without the scenario, or without the team's own service, nothing fires.
func TestMigrationManual(t *testing.T) {
	for _, tt := range []struct {
		name, from, to string
		fires          bool
	}{
		{"every file manual", "gameday:\n", "migrations: [{id: m1, file: schema.sql, runs: manual}]\ngameday:\n  scenarios: [incompatible-migration]\n", true},
		{"one file the drill applies", "gameday:\n", "migrations: [{id: m1, file: schema.sql, runs: manual}, {id: m2, file: schema.sql, runs: post-deploy}]\ngameday:\n  scenarios: [incompatible-migration]\n", false},
		{"defaulted runs", "gameday:\n", "migrations: [{id: m1, file: schema.sql}]\ngameday:\n  scenarios: [incompatible-migration]\n", false},
		{"no scenario", "gameday:\n", "migrations: [{id: m1, file: schema.sql, runs: manual}]\ngameday:\n  scenarios: [healthy-canary]\n", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ds := serviceFindings(t, func(s string) string { return strings.Replace(s, tt.from, tt.to, 1) })
			fired := false
			for _, f := range ds {
				if f.Rule == "migration-manual" {
					fired = true
					if f.Severity != diag.Error || !strings.Contains(f.Message, "m1") || !strings.Contains(f.Fix, "runs:") {
						t.Errorf("finding: %s (fix: %s)", f, f.Fix)
					}
				}
			}
			if fired != tt.fires {
				t.Errorf("migration-manual fired %v, want %v:\n%v", fired, tt.fires, ds)
			}
		})
	}
	// Without gameday.service the drill runs the demo service, with its own migrations.
	src := strings.Replace(base, "contacts:", "migrations: [{id: m1, file: migrations/expand.sql, runs: manual}]\ngameday: {scenarios: [incompatible-migration]}\ncontacts:", 1)
	for _, f := range run(t, src) {
		if f.Rule == "migration-manual" {
			t.Errorf("demo service: %s", f)
		}
	}
}
