package site

import (
	"bytes"
	"context"
	"maps"
	"os"
	"path/filepath"
	"testing"
)

// TestBuildParsesOnlyWhatChanged: a build with the parsed plans in the
// persistent cache (content's parse store, tested in internal/content)
// parses no file whose bytes are the same and writes what a build
// without it writes; rollbook serve's builds find them in memory once
// the cache is gone.
func TestBuildParsesOnlyWhatChanged(t *testing.T) {
	root := cacheSite(t)
	cache := filepath.Join(t.TempDir(), "cache")
	// buildInto builds into root/name and returns the output's hash and
	// how many files the build parsed.
	buildInto := func(t *testing.T, name, cacheDir string) (string, int64) {
		t.Helper()
		out := filepath.Join(root, name)
		b := must(New(Options{Root: root, Now: testNow, OutDir: out, CacheDir: cacheDir, Force: true}))
		if _, err := b.Build(context.Background()); err != nil {
			t.Fatal(err)
		}
		return treeHash(t, out), b.parsed
	}
	want, all := buildInto(t, "cold", "")
	if all < 50 {
		t.Fatalf("a build without the cache parsed %d files", all)
	}
	if got, n := buildInto(t, "first", cache); got != want || n != all {
		t.Fatalf("filling the cache: parsed %d of %d files, same output %v", n, all, got == want)
	}
	if got, n := buildInto(t, "warm", cache); got != want || n != 0 {
		t.Fatalf("from the cache: parsed %d files (want 0), same output %v", n, got == want)
	}
	plans, _ := filepath.Glob(filepath.Join(root, "content", "generated", "*", "plan-*.md"))
	if len(plans) == 0 {
		t.Fatal("no generated plans")
	}
	file := plans[0]
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
	t.Run("serve", func(t *testing.T) {
		memBuild := func(t *testing.T, b *Builder) (map[string][]byte, int64) {
			t.Helper()
			if _, err := b.Build(context.Background()); err != nil {
				t.Fatal(err)
			}
			return b.Files(), b.parsed
		}
		wantFiles, _ := memBuild(t, must(New(Options{Root: root, Now: testNow, Memory: true, Force: true})))
		// The second build must find the plans in memory: the cache is
		// gone after the first.
		serveCache := filepath.Join(t.TempDir(), "cache")
		if err := copyDirTo(cache, serveCache); err != nil {
			t.Fatal(err)
		}
		b := must(New(Options{Root: root, Now: testNow, Memory: true, Force: true, CacheDir: serveCache}))
		for i, step := range []string{"from the cache", "from memory"} {
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
