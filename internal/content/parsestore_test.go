package content

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/rollbook/rollbook/internal/bench"
	"github.com/rollbook/rollbook/internal/buildcache"
	"github.com/rollbook/rollbook/internal/diag"
	"github.com/rollbook/rollbook/internal/plan"
)

// planFolder writes n plans of the benchmark corpus, one with a finding,
// and returns the folder.
func planFolder(t *testing.T, n int) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "content")
	r := rand.New(rand.NewPCG(3, 4))
	for i := range n {
		src := bench.Plan(r, i, "payments-api")
		if i == 0 {
			src = "---\ntitle: unknown key\nkind: rollout\nownres: [x]\n---\nbody\n"
		}
		f := filepath.Join(dir, fmt.Sprintf("s%d", i%3), fmt.Sprintf("plan-%d.md", i))
		if err := os.MkdirAll(filepath.Dir(f), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(f, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// parse is a file's plan and findings.
type parse struct {
	plan  *plan.Plan
	diags diag.List
}

// readFolder reads every page of dir with r and returns each file's plan
// and findings, and how many r parsed.
func readFolder(t *testing.T, r *Reader, dir string) (map[string]parse, int64) {
	t.Helper()
	l, err := Scan(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	files, err := r.ReadAll(context.Background(), l.Pages)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]parse{}
	for _, f := range files {
		out[f.Rel] = parse{f.Plan, f.Findings}
	}
	return out, r.Parsed()
}

// sameParses: a plan from a cache must be the plan parsing gives, down
// to nil against empty (what plan.MarshalCache promises).
func sameParses(a, b map[string]parse) bool { return reflect.DeepEqual(a, b) }

// TestParseStore: with parsed plans in the persistent cache, reading
// gives the plans and findings that parsing gives and parses only the
// files that changed; an entry that does not decode is parsed again and
// replaced.
func TestParseStore(t *testing.T) {
	const n = 30
	dir := planFolder(t, n)
	cacheDir := filepath.Join(t.TempDir(), "cache")
	read := func(t *testing.T) (map[string]parse, int64) {
		t.Helper()
		c := buildcache.Open(buildcache.Options{Dir: cacheDir, Version: "test"})
		if c == nil {
			t.Fatal("no cache")
		}
		defer func() {
			if err := c.Close(); err != nil {
				t.Fatal(err)
			}
		}()
		return readFolder(t, &Reader{Display: "content", Cache: c}, dir)
	}
	want, all := readFolder(t, &Reader{Display: "content"}, dir)
	if all != n {
		t.Fatalf("without a cache: parsed %d of %d files", all, n)
	}
	if got, parsed := read(t); parsed != n || !sameParses(got, want) {
		t.Fatalf("filling the cache: parsed %d of %d files, same plans %v", parsed, n, sameParses(got, want))
	}
	if got, parsed := read(t); parsed != 0 || !sameParses(got, want) {
		t.Fatalf("from the cache: parsed %d files (want 0), same plans %v", parsed, sameParses(got, want))
	}

	file := filepath.Join(dir, "s1", "plan-1.md")
	orig, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	t.Run("one plan changed", func(t *testing.T) {
		t.Cleanup(func() { _ = os.WriteFile(file, orig, 0o644) })
		if err := os.WriteFile(file, bytes.Replace(orig, []byte("title: "), []byte("title: Changed "), 1), 0o644); err != nil {
			t.Fatal(err)
		}
		fresh, _ := readFolder(t, &Reader{Display: "content"}, dir)
		if sameParses(fresh, want) {
			t.Fatal("the change did not change the plan")
		}
		if got, parsed := read(t); parsed != 1 || !sameParses(got, fresh) {
			t.Fatalf("one plan changed: parsed %d files (want 1), same plans as without the cache %v", parsed, sameParses(got, fresh))
		}
	})

	// A damaged pack is the build cache's to catch; these are entries
	// whose checksum holds but which are no plan.
	rel := "s1/plan-1.md"
	p, ds := plan.Parse(path.Join("content", rel), rel, orig)
	good, err := plan.MarshalCache(p, ds)
	if err != nil {
		t.Fatal(err)
	}
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
			c := buildcache.Open(buildcache.Options{Dir: cacheDir, Version: "test"})
			c.Put(parsedKey(c, path.Join("content", rel), rel, orig), tc.entry)
			if err := c.Close(); err != nil {
				t.Fatal(err)
			}
			if got, parsed := read(t); parsed != 1 || !sameParses(got, want) {
				t.Fatalf("with a bad entry: parsed %d files (want 1), same plans %v", parsed, sameParses(got, want))
			}
			if got, parsed := read(t); parsed != 0 || !sameParses(got, want) {
				t.Fatalf("after a bad entry: parsed %d files (want 0), same plans %v", parsed, sameParses(got, want))
			}
		})
	}
}

// TestMemo: the builds of one process parse a file again only when its
// bytes changed; a build keeps what it used, a failed build keeps what
// the last good one had.
func TestMemo(t *testing.T) {
	const n = 12
	dir := planFolder(t, n)
	m := NewMemo()
	build := func(t *testing.T, ok bool) (map[string]parse, int64) {
		t.Helper()
		m.Begin()
		defer m.Finish(ok)
		return readFolder(t, &Reader{Display: "content", Memo: m}, dir)
	}
	want, _ := readFolder(t, &Reader{Display: "content"}, dir)
	if got, parsed := build(t, true); parsed != n || !sameParses(got, want) {
		t.Fatalf("first build: parsed %d of %d, same plans %v", parsed, n, sameParses(got, want))
	}
	if got, parsed := build(t, true); parsed != 0 || !sameParses(got, want) {
		t.Fatalf("second build: parsed %d (want 0), same plans %v", parsed, sameParses(got, want))
	}
	file := filepath.Join(dir, "s2", "plan-2.md")
	orig, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, append(bytes.Clone(orig), "\nOne more line.\n"...), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, parsed := build(t, false); parsed != 1 {
		t.Fatalf("a failed build with one change: parsed %d (want 1)", parsed)
	}
	// The failed build's parse was not kept: the file is parsed again.
	if _, parsed := build(t, true); parsed != 1 {
		t.Fatalf("after a failed build: parsed %d (want 1)", parsed)
	}
	// A file no build reads is forgotten: back to its old bytes, it is
	// parsed again.
	if err := os.WriteFile(file, orig, 0o644); err != nil {
		t.Fatal(err)
	}
	if got, parsed := build(t, true); parsed != 1 || !sameParses(got, want) {
		t.Fatalf("the old bytes again: parsed %d (want 1), same plans %v", parsed, sameParses(got, want))
	}
	var none *Memo
	none.Begin()
	none.Finish(true)
	if _, parsed := readFolder(t, &Reader{Memo: none}, dir); parsed != n {
		t.Fatalf("a nil memo: parsed %d of %d", parsed, n)
	}
}
