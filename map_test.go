// Package rollbook_test holds the checks that keep the repository's map
// true: ARCHITECTURE.md names only code that exists and every package,
// the Makefile fuzzes every fuzz target, and the README lists every
// scenario and every system package CI installs. There is no rollbook
// package here; the code is under cmd/, gameday/, site/ and internal/.
package rollbook_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/rollbook/rollbook/internal/scenario"
)

// fuzzTargets lists every fuzz target in the repository as
// "./package/dir FuzzName".
func fuzzTargets(t *testing.T) []string {
	t.Helper()
	decl := regexp.MustCompile(`(?m)^func (Fuzz\w*)\(\w+ \*testing\.F\)`)
	var out []string
	err := filepath.WalkDir(".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && p != "." && (strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata") {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(p, "_test.go") {
			return nil
		}
		src, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		for _, m := range decl.FindAllStringSubmatch(string(src), -1) {
			out = append(out, "./"+filepath.ToSlash(filepath.Dir(p))+" "+m[1])
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(out)
	return out
}

// TestMakeFuzzRunsEveryTarget: `make fuzz` runs each fuzz target of the
// repository, by its exact name, and no target that is gone.
func TestMakeFuzzRunsEveryTarget(t *testing.T) {
	targets := fuzzTargets(t)
	if len(targets) < 8 {
		t.Fatalf("found %d fuzz targets: %v", len(targets), targets)
	}
	mk, err := os.ReadFile("Makefile")
	if err != nil {
		t.Fatal(err)
	}
	// The fuzz recipe's runs: $(GO) test ./pkg -run '^$$' -fuzz '^FuzzX$$' ...
	run := regexp.MustCompile(`(?m)^\t\$\(GO\) test (\./\S+) -run '\^\$\$' -fuzz '\^(Fuzz\w*)\$\$' -fuzztime \$\(FUZZTIME\)$`)
	_, recipe, ok := strings.Cut(string(mk), "\nfuzz:\n")
	if !ok {
		t.Fatal("the Makefile has no fuzz target")
	}
	if end := strings.Index(recipe, "\n\n"); end >= 0 {
		recipe = recipe[:end]
	}
	var made []string
	for _, m := range run.FindAllStringSubmatch(recipe, -1) {
		made = append(made, m[1]+" "+m[2])
	}
	if n := strings.Count(recipe, "\n") + 1; n != len(made) {
		t.Errorf("the fuzz recipe has %d lines, %d of them runs of the form `$(GO) test ./pkg -run '^$$' -fuzz '^FuzzX$$' -fuzztime $(FUZZTIME)`", n, len(made))
	}
	slices.Sort(made)
	for _, tg := range targets {
		if !slices.Contains(made, tg) {
			t.Errorf("make fuzz does not run %s: add\n\t$(GO) test %s -run '^$$' -fuzz '^%s$$' -fuzztime $(FUZZTIME)", tg, strings.Fields(tg)[0], strings.Fields(tg)[1])
		}
	}
	for _, m := range made {
		if !slices.Contains(targets, m) {
			t.Errorf("make fuzz runs %s, which is no fuzz target", m)
		}
	}
}

// packages maps each Go package of the repository by its name to its
// folder, and each folder to the names it declares at top level
// (functions, methods, types, variables, constants), test files left out.
func packages(t *testing.T) (dirOf map[string][]string, declared map[string]map[string]bool) {
	t.Helper()
	dirOf, declared = map[string][]string{}, map[string]map[string]bool{}
	fset := token.NewFileSet()
	err := filepath.WalkDir(".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && p != "." && (strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata") {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, p, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		dir := filepath.ToSlash(filepath.Dir(p))
		if declared[dir] == nil {
			declared[dir] = map[string]bool{}
			dirOf[f.Name.Name] = append(dirOf[f.Name.Name], dir)
		}
		names := declared[dir]
		for _, decl := range f.Decls {
			switch decl := decl.(type) {
			case *ast.FuncDecl:
				names[decl.Name.Name] = true
			case *ast.GenDecl:
				for _, spec := range decl.Specs {
					switch spec := spec.(type) {
					case *ast.TypeSpec:
						names[spec.Name.Name] = true
						// Fields count: `Options.Bundle`, `Page.Plan`.
						if st, ok := spec.Type.(*ast.StructType); ok {
							for _, f := range st.Fields.List {
								for _, n := range f.Names {
									names[spec.Name.Name+"."+n.Name] = true
								}
							}
						}
					case *ast.ValueSpec:
						for _, n := range spec.Names {
							names[n.Name] = true
						}
					}
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return dirOf, declared
}

// TestArchitectureIsTrue: every path ARCHITECTURE.md names exists, every
// `pkg.Name` it names is declared in that package, and every package of
// the repository is on the map.
func TestArchitectureIsTrue(t *testing.T) {
	doc, err := os.ReadFile("ARCHITECTURE.md")
	if err != nil {
		t.Fatal(err)
	}
	dirOf, declared := packages(t)
	code := regexp.MustCompile("`([^`\n]+)`")
	qualified := regexp.MustCompile(`^([a-z]\w*)\.([A-Za-z_]\w*)`)
	placeholder := regexp.MustCompile(`[A-Z]{2,}`)
	tops := []string{"cmd/", "gameday/", "internal/", "site/", "themes/", "content/", "drills/"}
	var paths, names int
	for _, m := range code.FindAllStringSubmatch(string(doc), -1) {
		c := m[1]
		switch {
		case slices.ContainsFunc(tops, func(top string) bool { return strings.HasPrefix(c, top) }):
			// A path; an upper-case word stands for any name.
			pattern := placeholder.ReplaceAllString(strings.TrimSuffix(c, "/"), "*")
			if found, _ := filepath.Glob(filepath.FromSlash(pattern)); len(found) == 0 {
				t.Errorf("ARCHITECTURE.md names %s, which does not exist", c)
			}
			paths++
		case qualified.MatchString(c):
			q := qualified.FindStringSubmatch(c)
			pkg, name := q[1], q[2]
			if slices.Contains([]string{"go", "js", "css", "html", "json", "yaml", "md", "sql", "svg", "xml"}, name) {
				continue // a file name
			}
			dirs, ok := dirOf[pkg]
			if !ok {
				continue // not a package of the repository (a file, a field)
			}
			if !slices.ContainsFunc(dirs, func(d string) bool { return declared[d][name] }) {
				t.Errorf("ARCHITECTURE.md names %s.%s, which %v does not declare", pkg, name, dirs)
			}
			names++
		}
	}
	if paths < 10 || names < 10 {
		t.Errorf("checked %d paths and %d names: the map is read wrong", paths, names)
	}
	for _, dirs := range dirOf {
		for _, dir := range dirs {
			if strings.Contains(dir, "/testdata") || dir == "." {
				continue
			}
			if !strings.Contains(string(doc), "`"+dir+"`") && !strings.Contains(string(doc), "`"+dir+"/") && !strings.Contains(string(doc), "`"+filepath.Base(dir)+"`") {
				t.Errorf("ARCHITECTURE.md does not place %s on the map", dir)
			}
		}
	}
}

// TestReadmeIsComplete: the README's scenario table has a row for every
// scenario, and its setup names every system package CI installs.
func TestReadmeIsComplete(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range scenario.Names() {
		if !strings.Contains(string(readme), "\n| `"+name+"` |") {
			t.Errorf("README's scenario table has no row for %s", name)
		}
	}
	ci, err := os.ReadFile(".ci/run")
	if err != nil {
		t.Fatal(err)
	}
	setup, _, _ := strings.Cut(string(readme), "\n## Commands")
	need := regexp.MustCompile(`need\+=\(([\w.-]+)\)`).FindAllStringSubmatch(string(ci), -1)
	if len(need) < 3 {
		t.Fatalf(".ci/run installs %d packages: read wrong", len(need))
	}
	for _, m := range need {
		if !strings.Contains(setup, "`"+m[1]+"`") {
			t.Errorf("README's setup does not name %s, which .ci/run installs", m[1])
		}
	}
}
