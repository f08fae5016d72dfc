package site

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"sync"
	"testing"

	"github.com/rollbook/rollbook/internal/bench"
	"github.com/rollbook/rollbook/internal/buildcache"
	"github.com/rollbook/rollbook/internal/markdown"
)

// cacheSite is the example content (plans with migrations, drills,
// exports) and generated plans, in a fresh folder.
func cacheSite(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	if err := copyDirTo("../content", filepath.Join(root, "content")); err != nil {
		t.Fatal(err)
	}
	// The example plans drill the example service, built from here.
	if err := copyDirTo("../cmd/example-orders", filepath.Join(root, "cmd", "example-orders")); err != nil {
		t.Fatal(err)
	}
	if err := bench.Generate(filepath.Join(root, "gen"), 40, 9); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(filepath.Join(root, "gen", "content"), filepath.Join(root, "content", "generated")); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile("../rollbook.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "rollbook.yaml"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	return root
}

func copyDirTo(src, dst string) error {
	return filepath.WalkDir(src, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), data, 0o644)
	})
}

func cachePacks(t *testing.T, dir string) []string {
	t.Helper()
	ps, err := filepath.Glob(filepath.Join(dir, "*", "*.pack"))
	if err != nil {
		t.Fatal(err)
	}
	return ps
}

// TestBuildCache: a build with the persistent cache, empty, full,
// damaged or unwritable, and two builds sharing it at once, each give
// the bytes a build without it gives.
func TestBuildCache(t *testing.T) {
	root := cacheSite(t)
	cache := filepath.Join(t.TempDir(), "cache")
	out := func(name string) string { return filepath.Join(root, name) }
	buildInto := func(t *testing.T, name, cacheDir string) string {
		t.Helper()
		if _, err := build(t, root, func(o *Options) { o.OutDir, o.CacheDir, o.Force = out(name), cacheDir, true }); err != nil {
			t.Fatal(err)
		}
		return treeHash(t, out(name))
	}
	want := buildInto(t, "cold", "")

	t.Run("empty cache", func(t *testing.T) {
		if got := buildInto(t, "first", cache); got != want {
			t.Fatal("a build filling the cache differs from a build without it")
		}
		if n := len(cachePacks(t, cache)); n != 1 {
			t.Fatalf("%d packs after the first build, want 1", n)
		}
	})
	t.Run("full cache", func(t *testing.T) {
		before := cachePacks(t, cache)
		if got := buildInto(t, "second", cache); got != want {
			t.Fatal("a build from the cache differs from a build without it")
		}
		// Everything was found: the build stored nothing new.
		if after := cachePacks(t, cache); len(after) != len(before) {
			t.Fatalf("packs %v after a build that should have found everything (before %v)", after, before)
		}
	})
	// edited builds with file changed by edit, with and without the
	// cache, wants the same bytes, and puts the file back.
	edited := func(t *testing.T, file, name string, edit func([]byte) []byte) {
		t.Helper()
		orig, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = os.WriteFile(file, orig, 0o644) })
		changed := edit(bytes.Clone(orig))
		if bytes.Equal(changed, orig) {
			t.Fatalf("the edit of %s changed nothing", file)
		}
		if err := os.WriteFile(file, changed, 0o644); err != nil {
			t.Fatal(err)
		}
		fresh := buildInto(t, name+"-cold", "")
		if got := buildInto(t, name, cache); got != fresh {
			t.Fatalf("a cached build with %s edited differs from a build without the cache", file)
		}
		if err := os.WriteFile(file, orig, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	generated, _ := filepath.Glob(filepath.Join(root, "content", "generated", "*", "plan-*.md"))
	t.Run("one plan changed", func(t *testing.T) {
		edited(t, generated[0], "changed", func(b []byte) []byte { return append(b, "\n```sql\nSELECT 42;\n```\n"...) })
	})
	t.Run("front matter changed", func(t *testing.T) {
		// The page is rendered again around a body the cache has: its
		// HTML is read from the cache for this page only.
		edited(t, generated[1], "retitled", func(b []byte) []byte {
			return bytes.Replace(b, []byte("title: "), []byte("title: Renamed "), 1)
		})
	})
	t.Run("damaged entries", func(t *testing.T) {
		for _, p := range cachePacks(t, cache) {
			data, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			// Damage the middle of every pack: highlighted code and
			// rendered bodies alike.
			for i := len(data) / 4; i < len(data)*3/4; i += 97 {
				data[i] ^= 0x55
			}
			if err := os.WriteFile(p, data, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		if got := buildInto(t, "damaged", cache); got != want {
			t.Fatal("a build from a damaged cache differs from a build without it")
		}
		if got := buildInto(t, "repaired", cache); got != want {
			t.Fatal("a build from the repaired cache differs from a build without it")
		}
	})
	t.Run("unwritable cache", func(t *testing.T) {
		file := filepath.Join(t.TempDir(), "not-a-folder")
		if err := os.WriteFile(file, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
		if got := buildInto(t, "unwritable", file); got != want {
			t.Fatal("a build with an unwritable cache differs from a build without it")
		}
	})
	t.Run("two builds at once", func(t *testing.T) {
		shared := filepath.Join(t.TempDir(), "shared")
		var wg sync.WaitGroup
		hashes := make([]string, 2)
		for i := range hashes {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, err := build(t, root, func(o *Options) { o.OutDir, o.CacheDir, o.Force = out("at-once-"+string(rune('a'+i))), shared, true }); err != nil {
					t.Error(err)
				}
			}()
		}
		wg.Wait()
		for i := range hashes {
			if got := treeHash(t, out("at-once-"+string(rune('a'+i)))); got != want {
				t.Errorf("build %d of two at once differs from a build without the cache", i)
			}
		}
		if got := buildInto(t, "after", shared); got != want {
			t.Fatal("a build from the cache two builds filled at once differs")
		}
	})
}

// TestRenderLazyWithoutTheHTML: a body whose headings and links were
// kept but whose HTML was not (a damaged entry) is rendered again when
// its HTML is asked for, and gives what rendering it gives.
func TestRenderLazyWithoutTheHTML(t *testing.T) {
	dir := t.TempDir()
	md := markdown.New(markdown.Options{})
	body := []byte("## Rollback\n\nRun `kubectl rollout undo`, see [the plan](other.md).\n\n```sql\nSELECT 1;\n```\n\n<b onclick=\"x()\">b</b>\n\n```mermaid\ngraph TD\n```\n")
	want, err := md.Render(body, 3)
	if err != nil {
		t.Fatal(err)
	}
	open := func() *store {
		return &store{c: buildcache.Open(buildcache.Options{Dir: dir, Version: "test"})}
	}
	s := open()
	k := s.bodyKey(body, 3)
	s.c.Put(k, encodeResult(want)) // the rest, without its HTML
	if err := s.c.Close(); err != nil {
		t.Fatal(err)
	}
	s = open()
	defer s.c.Close()
	res, html, err := s.renderLazy(md, k, body, 3)
	if err != nil {
		t.Fatal(err)
	}
	if html == nil {
		t.Fatal("the kept result came with its HTML: it should be read on demand")
	}
	if len(want.Findings) != 2 {
		t.Fatalf("findings %+v, want the dropped onclick and the diagram", want.Findings)
	}
	if res.HTML != "" || !reflect.DeepEqual(res.Headings, want.Headings) || !reflect.DeepEqual(res.Links, want.Links) || !reflect.DeepEqual(res.Findings, want.Findings) {
		t.Fatalf("kept result %+v, want %+v without its HTML", res, want)
	}
	got, err := html()
	if err != nil {
		t.Fatal(err)
	}
	if got != want.HTML {
		t.Fatalf("HTML rendered again:\n%s\nwant\n%s", got, want.HTML)
	}
}
