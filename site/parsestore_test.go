package site

import (
	"bytes"
	"context"
	"maps"
	"os"
	"path"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/rollbook/rollbook/internal/buildcache"
	"github.com/rollbook/rollbook/internal/diag"
	"github.com/rollbook/rollbook/internal/plan"
)

// countParses makes parseFile count the front matters it decodes.
func countParses(t *testing.T) *atomic.Int64 {
	t.Helper()
	var n atomic.Int64
	orig := parseFile
	parseFile = func(name, rel string, data []byte) (*plan.Plan, diag.List) {
		n.Add(1)
		return orig(name, rel, data)
	}
	t.Cleanup(func() { parseFile = orig })
	return &n
}

// TestParseStore: a build with parsed plans in the persistent cache gives
// the bytes a build without it gives and parses only the files that
// changed; an entry that does not decode is parsed again and replaced.
func TestParseStore(t *testing.T) {
	root := cacheSite(t)
	cache := filepath.Join(t.TempDir(), "cache")
	parses := countParses(t)
	// buildInto builds into root/name and returns the output's hash and
	// how many files the build parsed.
	buildInto := func(t *testing.T, name, cacheDir string) (string, int64) {
		t.Helper()
		parses.Store(0)
		out := filepath.Join(root, name)
		if _, err := build(t, root, func(o *Options) { o.OutDir, o.CacheDir, o.Force = out, cacheDir, true }); err != nil {
			t.Fatal(err)
		}
		return treeHash(t, out), parses.Load()
	}
	want, all := buildInto(t, "cold", "")
	if all < 50 {
		t.Fatalf("a build without the cache parsed %d files", all)
	}

	t.Run("empty cache", func(t *testing.T) {
		if got, n := buildInto(t, "first", cache); got != want || n != all {
			t.Fatalf("filling the cache: parsed %d of %d files, same output %v", n, all, got == want)
		}
	})
	t.Run("warm cache", func(t *testing.T) {
		if got, n := buildInto(t, "warm", cache); got != want || n != 0 {
			t.Fatalf("from the cache: parsed %d files (want 0), same output %v", n, got == want)
		}
	})
	plans, _ := filepath.Glob(filepath.Join(root, "content", "generated", "*", "plan-*.md"))
	if len(plans) == 0 {
		t.Fatal("no generated plans")
	}
	file := plans[0]
	rel := filepath.ToSlash(must(filepath.Rel(filepath.Join(root, "content"), file)))
	orig := must(os.ReadFile(file))

	t.Run("one plan changed", func(t *testing.T) {
		t.Cleanup(func() { _ = os.WriteFile(file, orig, 0o644) })
		if err := os.WriteFile(file, append(bytes.Clone(orig), "\nOne more line.\n"...), 0o644); err != nil {
			t.Fatal(err)
		}
		fresh, _ := buildInto(t, "changed-cold", "")
		if fresh == want {
			t.Fatal("the change did not change the output")
		}
		if got, n := buildInto(t, "changed", cache); got != fresh || n != 1 {
			t.Fatalf("one plan changed: parsed %d files (want 1), same output as without the cache %v", n, got == fresh)
		}
	})

	// A damaged pack is the build cache's to catch (TestBuildCache); these
	// are entries whose checksum holds but which are no plan.
	p, ds := plan.Parse(path.Join("content", rel), rel, orig)
	good := must(plan.MarshalCache(p, ds))
	for _, tc := range []struct {
		name  string
		entry []byte
	}{
		{"not a plan", []byte("<p>rendered body</p>")},
		{"cut short", good[:len(good)/2]},
		{"bytes left over", append(bytes.Clone(good), 0, 1, 2)},
		{"empty", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := buildcache.Open(buildcache.Options{Dir: cache, Version: cacheVersion()})
			s := &store{c: c}
			c.Put(s.parsedKey(path.Join("content", rel), rel, orig), tc.entry)
			if err := c.Close(); err != nil {
				t.Fatal(err)
			}
			if got, n := buildInto(t, "bad-"+tc.name, cache); got != want || n != 1 {
				t.Fatalf("with a bad entry: parsed %d files (want 1), same output %v", n, got == want)
			}
			if got, n := buildInto(t, "repaired-"+tc.name, cache); got != want || n != 0 {
				t.Fatalf("after a bad entry: parsed %d files (want 0), same output %v", n, got == want)
			}
		})
	}

	t.Run("serve", func(t *testing.T) {
		memBuild := func(t *testing.T, b *Builder) (map[string][]byte, int64) {
			t.Helper()
			parses.Store(0)
			if _, err := b.Build(context.Background()); err != nil {
				t.Fatal(err)
			}
			return b.Files(), parses.Load()
		}
		plain := must(New(Options{Root: root, Now: testNow, Memory: true, Force: true}))
		wantFiles, _ := memBuild(t, plain)
		// The second build must find the plans in memory: the store is
		// emptied after the first.
		serveCache := filepath.Join(t.TempDir(), "cache")
		if err := copyDirTo(cache, serveCache); err != nil {
			t.Fatal(err)
		}
		b := must(New(Options{Root: root, Now: testNow, Memory: true, Force: true, CacheDir: serveCache}))
		for i, step := range []string{"from the store", "from memory"} {
			if i == 1 {
				if err := os.RemoveAll(serveCache); err != nil {
					t.Fatal(err)
				}
			}
			files, n := memBuild(t, b)
			if n != 0 || !maps.EqualFunc(files, wantFiles, bytes.Equal) {
				t.Fatalf("serve build %d (%s): parsed %d files (want 0), same output %v", i, step, n, maps.EqualFunc(files, wantFiles, bytes.Equal))
			}
		}
	})
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
