package sitewrite

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

func TestWriteFile(t *testing.T) {
	dir := t.TempDir()
	for _, size := range []int{0, 1, 4095, 4096, 4097, 1 << 20} {
		data := bytes.Repeat([]byte("rollbook "), size/9+1)[:size]
		name := filepath.Join(dir, "f")
		if err := writeFile(name, data); err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(name)
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("%d bytes: read back %d, %v", size, len(got), err)
		}
		if st, _ := os.Stat(name); st.Mode().Perm()&^0o022 != 0o644&^0o022 {
			t.Errorf("mode %v", st.Mode())
		}
	}
	// A shorter write truncates what was there.
	name := filepath.Join(dir, "short")
	_ = writeFile(name, []byte("a long first version"))
	_ = writeFile(name, []byte("v2"))
	if got, _ := os.ReadFile(name); string(got) != "v2" {
		t.Errorf("after a shorter write: %q", got)
	}
	missing := filepath.Join(dir, "no", "such", "file")
	if err := writeFile(missing, nil); !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), missing) {
		t.Errorf("write into a missing folder: %v", err)
	}
}

// files is what a folder holds, by slash path.
func files(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(p)
		rel, _ := filepath.Rel(dir, p)
		out[filepath.ToSlash(rel)] = string(data)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// leftovers are the build folders left beside out.
func leftovers(t *testing.T, out string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(filepath.Dir(out), "."+filepath.Base(out)+".tmp-*"))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// build writes site (path -> content) with a new Writer into out and
// commits it.
func build(t *testing.T, out string, opts Options, site map[string]string) {
	t.Helper()
	w, err := New(out, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Abort()
	var dirs []string
	for rel := range site {
		dirs = append(dirs, filepath.ToSlash(filepath.Dir(rel)))
	}
	w.PrepareDirs(dirs)
	for rel, data := range site {
		if err := w.Write(rel, []byte(data)); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Commit(); err != nil {
		t.Fatal(err)
	}
}

// TestCommitPublishesWhole: the output folder holds exactly the last
// build, the first one included, with no build folder left beside it;
// folders are made however deep, ahead of or with their files.
func TestCommitPublishesWhole(t *testing.T) {
	out := filepath.Join(t.TempDir(), "site", "public")
	first := map[string]string{"index.html": "one", "a/b/c/index.html": "deep", "gone/index.html": "old"}
	build(t, out, Options{}, first)
	if got := files(t, out); !maps.Equal(got, first) {
		t.Fatalf("first build: %v", got)
	}
	second := map[string]string{"index.html": "two", "a/b/c/index.html": "deeper", "new/x.txt": "x"}
	for i := range 40 {
		second[fmt.Sprintf("p/%d/q/index.html", i)] = fmt.Sprint(i)
	}
	build(t, out, Options{}, second)
	if got := files(t, out); !maps.Equal(got, second) {
		t.Fatalf("second build: %v", got)
	}
	if l := leftovers(t, out); len(l) > 0 {
		t.Errorf("left behind: %v", l)
	}
}

// TestCommitNeverLeavesAGap: while builds are swapped in, a reader always
// finds the site, old or new, never missing.
func TestCommitNeverLeavesAGap(t *testing.T) {
	out := filepath.Join(t.TempDir(), "public")
	build(t, out, Options{}, map[string]string{"index.html": "0"})
	var stop atomic.Bool
	var misses, reads atomic.Int64
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for !stop.Load() {
			if _, err := os.ReadFile(filepath.Join(out, "index.html")); err != nil {
				misses.Add(1)
			}
			reads.Add(1)
		}
	}()
	for i := range 30 {
		build(t, out, Options{}, map[string]string{"index.html": fmt.Sprint(i + 1)})
	}
	stop.Store(true)
	wg.Wait()
	if misses.Load() > 0 {
		t.Errorf("%d of %d reads found no site", misses.Load(), reads.Load())
	}
	if got := files(t, out)["index.html"]; got != "30" {
		t.Errorf("the last build is not published: %q", got)
	}
}

// TestAbortKeepsTheOldSite: an unfinished build is removed, the published
// one untouched; after Commit, Abort does nothing.
func TestAbortKeepsTheOldSite(t *testing.T) {
	out := filepath.Join(t.TempDir(), "public")
	old := map[string]string{"index.html": "old"}
	build(t, out, Options{}, old)
	w, err := New(out, Options{})
	if err != nil {
		t.Fatal(err)
	}
	w.PrepareDirs([]string{"a", "b/c"})
	if err := w.Write("index.html", []byte("new")); err != nil {
		t.Fatal(err)
	}
	w.Abort()
	if got := files(t, out); !maps.Equal(got, old) {
		t.Errorf("after an aborted build: %v", got)
	}
	if l := leftovers(t, out); len(l) > 0 {
		t.Errorf("left behind: %v", l)
	}
}

// TestWriteStaysInside: a path is a path inside the site; naming the
// site's folder itself fails the build, and one that climbs out lands
// inside.
func TestWriteStaysInside(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "public")
	for _, rel := range []string{"", "/", ".", "a/.."} {
		w, err := New(out, Options{})
		if err != nil {
			t.Fatal(err)
		}
		// Written by the pool: the error shows by Commit at the latest.
		err = w.Write(rel, []byte("x"))
		if err == nil {
			err = w.Commit()
		}
		w.Abort()
		if err == nil || !strings.Contains(err.Error(), "output folder") {
			t.Errorf("Write(%q): %v", rel, err)
		}
	}
	w, err := New(out, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Abort()
	if err := w.Write("../../escaped.txt", []byte("x")); err != nil {
		t.Fatal(err)
	}
	if err := w.Commit(); err != nil {
		t.Fatal(err)
	}
	if got := files(t, out); !maps.Equal(got, map[string]string{"escaped.txt": "x"}) {
		t.Errorf("site %v", got)
	}
	if _, err := os.Stat(filepath.Join(dir, "escaped.txt")); err == nil {
		t.Error("a write left the site's folder")
	}
}

// TestMinify: stylesheets, scripts and SVG are minified when asked for,
// other files (HTML is minified in its templates) never.
func TestMinify(t *testing.T) {
	site := map[string]string{
		"a.css":      "body {\n  color : red ;\n}\n",
		"a.js":       "function f ( x ) {\n  return x + 1 ;\n}\n",
		"a.svg":      "<svg xmlns=\"http://www.w3.org/2000/svg\">\n  <g>  </g>\n</svg>\n",
		"index.html": "<p>\n  two   spaces\n</p>\n",
		"a.txt":      "a  b\n",
	}
	for _, minify := range []bool{false, true} {
		w := NewInline(Options{Minify: minify})
		for rel, data := range site {
			if err := w.Write(rel, []byte(data)); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.Commit(); err != nil {
			t.Fatal(err)
		}
		for rel, data := range site {
			got := string(w.Files()[rel])
			shrunk := len(got) < len(data)
			if want := minify && !strings.HasSuffix(rel, ".html") && !strings.HasSuffix(rel, ".txt"); shrunk != want || got == "" {
				t.Errorf("minify %v: %s became %q", minify, rel, got)
			}
		}
	}
}

// TestMemoryWriters: a build into memory holds its files once committed,
// by clean slash path, keeps the data it was given (never handed back)
// and writes nothing to disk.
func TestMemoryWriters(t *testing.T) {
	for name, w := range map[string]*Writer{"pool": NewMemory(Options{}), "inline": NewInline(Options{})} {
		t.Run(name, func(t *testing.T) {
			src := t.TempDir()
			if err := os.WriteFile(filepath.Join(src, "asset.sql"), []byte("select 1;"), 0o644); err != nil {
				t.Fatal(err)
			}
			var handedBack atomic.Int64
			for i := range 100 {
				if err := w.WriteThen(fmt.Sprintf("/p/%d/./index.html", i), []byte(fmt.Sprint(i)), func() { handedBack.Add(1) }); err != nil {
					t.Fatal(err)
				}
			}
			if err := w.CopyFile("db/asset.sql", filepath.Join(src, "asset.sql")); err != nil {
				t.Fatal(err)
			}
			w.PrepareDirs([]string{"p"})
			if err := w.Stamp("key"); err != nil {
				t.Fatal(err)
			}
			if w.Files() != nil {
				t.Error("files before Commit")
			}
			if err := w.Commit(); err != nil {
				t.Fatal(err)
			}
			got := w.Files()
			if len(got) != 101 || string(got["p/7/index.html"]) != "7" || string(got["db/asset.sql"]) != "select 1;" {
				t.Errorf("%d files: %v", len(got), slices.Sorted(maps.Keys(got))[:3])
			}
			if handedBack.Load() != 0 {
				t.Errorf("%d buffers handed back that memory keeps", handedBack.Load())
			}
			if _, ok := got[StampFile]; ok {
				t.Error("a build into memory has a stamp")
			}
		})
	}
}

// TestWriteThenHandsBack: a build to disk hands each buffer back once it
// is written, and copies files as they are.
func TestWriteThenHandsBack(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "public")
	if err := os.WriteFile(filepath.Join(dir, "q.sql"), []byte("select 1;"), 0o644); err != nil {
		t.Fatal(err)
	}
	w, err := New(out, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Abort()
	var handedBack atomic.Int64
	for i := range 50 {
		if err := w.WriteThen(fmt.Sprintf("p/%d.html", i), []byte("x"), func() { handedBack.Add(1) }); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.CopyFile("db/q.sql", filepath.Join(dir, "q.sql")); err != nil {
		t.Fatal(err)
	}
	if err := w.CopyFile("db/missing.sql", filepath.Join(dir, "missing.sql")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("copying a missing file: %v", err)
	}
	if err := w.Commit(); err != nil {
		t.Fatal(err)
	}
	if handedBack.Load() != 50 {
		t.Errorf("%d of 50 buffers handed back", handedBack.Load())
	}
	if got := files(t, out); len(got) != 51 || got["db/q.sql"] != "select 1;" {
		t.Errorf("%d files, db/q.sql %q", len(got), got["db/q.sql"])
	}
}

// TestFirstErrorStops: once a write fails, the build reports it and
// writes no more.
func TestFirstErrorStops(t *testing.T) {
	out := filepath.Join(t.TempDir(), "public")
	w, err := New(out, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Abort()
	// A file where a folder must go.
	if err := w.Write("a", []byte("file")); err != nil {
		t.Fatal(err)
	}
	if err := w.Commit(); err != nil {
		t.Fatal(err)
	}
	w, err = New(out, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Abort()
	_ = w.Write("a", []byte("file"))
	_ = w.Write("a/b.html", []byte("under a file"))
	if err := w.Commit(); err == nil {
		t.Fatal("a build that could not write a file was published")
	}
	if got := files(t, out); !maps.Equal(got, map[string]string{"a": "file"}) {
		t.Errorf("a failed build changed the site: %v", got)
	}
}

// TestStamp: the stamp of a build is read from the published site; a
// site without one has none.
func TestStamp(t *testing.T) {
	out := filepath.Join(t.TempDir(), "public")
	if got := ReadStamp(out); got != "" {
		t.Errorf("no site: stamp %q", got)
	}
	w, err := New(out, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Stamp("abc123"); err != nil {
		t.Fatal(err)
	}
	if got := ReadStamp(out); got != "" {
		t.Errorf("stamp %q before the build is published", got)
	}
	if err := w.Commit(); err != nil {
		t.Fatal(err)
	}
	if got := ReadStamp(out); got != "abc123" {
		t.Errorf("stamp %q, want abc123", got)
	}
	build(t, out, Options{}, map[string]string{"index.html": "x"})
	if got := ReadStamp(out); got != "" {
		t.Errorf("a build without a key left stamp %q", got)
	}
}

// TestInputKey: the key changes with every input and only with them,
// and the content's bytes come back for the build to parse.
func TestInputKey(t *testing.T) {
	root := t.TempDir()
	write := func(rel, data string) {
		t.Helper()
		f := filepath.Join(root, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(f), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(f, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("rollbook.yaml", "title: t\n")
	write("content/a.md", "# a\n")
	write("content/sub/b.sql", "select 1;\n")
	write("themes/x/base.html", "<html>")
	write("drills/r.json", "{}")
	in := Inputs{
		Salt:    "v1",
		Config:  filepath.Join(root, "rollbook.yaml"),
		Content: filepath.Join(root, "content"),
		Others:  []string{filepath.Join(root, "themes/x"), filepath.Join(root, "drills"), "", filepath.Join(root, "no-such-folder")},
	}
	key := func(in Inputs) string {
		t.Helper()
		k, _, err := InputKey(context.Background(), in)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	base, read, err := InputKey(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	if len(read) != 2 || string(read[filepath.Join(root, "content", "a.md")]) != "# a\n" || string(read[filepath.Join(root, "content", "sub", "b.sql")]) != "select 1;\n" {
		t.Errorf("content read: %v", slices.Sorted(maps.Keys(read)))
	}
	if key(in) != base {
		t.Fatal("the same inputs gave another key")
	}
	salted := in
	salted.Salt = "v2"
	if key(salted) == base {
		t.Error("another salt, the same key")
	}
	for _, change := range []struct{ rel, data string }{
		{"rollbook.yaml", "title: u\n"},
		{"content/a.md", "# A\n"},
		{"content/new.md", ""},
		{"content/sub/b.sql", "select 2;\n"},
		{"themes/x/base.html", "<html lang=en>"},
		{"drills/r2.json", "{}"},
	} {
		t.Run(change.rel, func(t *testing.T) {
			f := filepath.Join(root, filepath.FromSlash(change.rel))
			orig, had := os.ReadFile(f)
			t.Cleanup(func() {
				if had == nil {
					_ = os.WriteFile(f, orig, 0o644)
				} else {
					_ = os.Remove(f)
				}
			})
			write(change.rel, change.data)
			if key(in) == base {
				t.Errorf("changing %s kept the key", change.rel)
			}
		})
	}
	if key(in) != base {
		t.Fatal("the inputs put back gave another key")
	}
	// A file moved to another name is another site.
	if err := os.Rename(filepath.Join(root, "content", "a.md"), filepath.Join(root, "content", "c.md")); err != nil {
		t.Fatal(err)
	}
	if key(in) == base {
		t.Error("a renamed file kept the key")
	}
	noConfig := in
	noConfig.Config = filepath.Join(root, "missing.yaml")
	if _, _, err := InputKey(context.Background(), noConfig); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a missing config file: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, _, err := InputKey(ctx, in); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
}
