package buildcache

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"
)

func open(t *testing.T, dir string, opts ...func(*Options)) *Cache {
	t.Helper()
	o := Options{Dir: dir, Version: "v-test"}
	for _, f := range opts {
		f(&o)
	}
	c := Open(o)
	if c == nil {
		t.Fatal("Open gave no cache")
	}
	return c
}

func packs(t *testing.T, dir string) []string {
	t.Helper()
	ps, err := filepath.Glob(filepath.Join(dir, formatDir, "*.pack"))
	if err != nil {
		t.Fatal(err)
	}
	return ps
}

func TestRoundTrip(t *testing.T) {
	dir := t.TempDir()
	c := open(t, dir)
	k := c.Key("block", []byte("sql"), []byte("SELECT 1;"))
	if _, ok := c.Get(k); ok {
		t.Fatal("an empty cache has an entry")
	}
	c.Put(k, []byte("<span>SELECT</span> 1;"))
	c.Put(c.Key("block", []byte("sql"), []byte("SELECT 2;")), nil)
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	c = open(t, dir)
	defer c.Close()
	got, ok := c.Get(k)
	if !ok || string(got) != "<span>SELECT</span> 1;" {
		t.Fatalf("Get = %q, %v", got, ok)
	}
	if got, ok := c.Get(c.Key("block", []byte("sql"), []byte("SELECT 2;"))); !ok || len(got) != 0 {
		t.Fatalf("empty entry: %q, %v", got, ok)
	}
	// The parts are length-prefixed: moving a byte from one to the other
	// is another key.
	if c.Key("block", []byte("sq"), []byte("lSELECT 1;")) == k {
		t.Fatal("different parts give the same key")
	}
}

// TestVersionChangesKeys: a new binary never reads an old one's entries.
func TestVersionChangesKeys(t *testing.T) {
	dir := t.TempDir()
	c := open(t, dir)
	c.Put(c.Key("body", []byte("# Title")), []byte("<h1>old</h1>"))
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	c = open(t, dir, func(o *Options) { o.Version = "v-next" })
	defer c.Close()
	if got, ok := c.Get(c.Key("body", []byte("# Title"))); ok {
		t.Fatalf("a new version read %q from the old one", got)
	}
}

// TestCorruptEntryIsIgnored: a damaged entry is a miss, the build stores
// it again, and the next build reads the new one.
func TestCorruptEntryIsIgnored(t *testing.T) {
	dir := t.TempDir()
	c := open(t, dir)
	k := c.Key("body", []byte("x"))
	c.Put(k, []byte("good bytes"))
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	ps := packs(t, dir)
	data, err := os.ReadFile(ps[0])
	if err != nil {
		t.Fatal(err)
	}
	i := bytes.Index(data, []byte("good bytes"))
	data[i] = 'G'
	if err := os.WriteFile(ps[0], data, 0o644); err != nil {
		t.Fatal(err)
	}
	c = open(t, dir)
	if got, ok := c.Get(k); ok {
		t.Fatalf("a damaged entry was read: %q", got)
	}
	c.Put(k, []byte("good bytes"))
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	c = open(t, dir)
	defer c.Close()
	if got, ok := c.Get(k); !ok || string(got) != "good bytes" {
		t.Fatalf("after the rebuild: %q, %v", got, ok)
	}
	if ps := packs(t, dir); len(ps) != 1 {
		t.Errorf("the damaged pack was kept: %v", ps)
	}
}

// TestDamagedPackIsIgnored: a pack cut short (a crash, a bad restore) is
// skipped, not an error.
func TestDamagedPackIsIgnored(t *testing.T) {
	dir := t.TempDir()
	c := open(t, dir)
	k := c.Key("body", []byte("x"))
	c.Put(k, bytes.Repeat([]byte("x"), 1000))
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	ps := packs(t, dir)
	if err := os.Truncate(ps[0], 500); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, formatDir, "00000000000000000001-junk.pack"), []byte(packMagic+" not a pack"), 0o644); err != nil {
		t.Fatal(err)
	}
	c = open(t, dir)
	defer c.Close()
	if _, ok := c.Get(k); ok {
		t.Fatal("read an entry from a truncated pack")
	}
	if n, _ := c.Stats(); n != 0 {
		t.Fatalf("%d damaged packs were loaded", n)
	}
}

// failAfter is a disk that fills up after n bytes.
type failAfter struct {
	w io.Writer
	n int
}

func (f *failAfter) Write(p []byte) (int, error) {
	if len(p) > f.n {
		k, _ := f.w.Write(p[:f.n])
		f.n = 0
		return k, &os.PathError{Op: "write", Path: "pack", Err: syscall.ENOSPC}
	}
	f.n -= len(p)
	return f.w.Write(p)
}

// TestFullDisk: a write that fails leaves no pack and no temporary file,
// Close says why, and the cache still opens (empty) next time.
func TestFullDisk(t *testing.T) {
	dir := t.TempDir()
	c := open(t, dir, func(o *Options) { o.wrap = func(w io.Writer) io.Writer { return &failAfter{w: w, n: 100} } })
	for i := 0; i < 100; i++ {
		c.Put(c.Key("block", []byte(fmt.Sprint(i))), bytes.Repeat([]byte("y"), 1000))
	}
	err := c.Close()
	if !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("Close = %v, want a full disk", err)
	}
	left, _ := os.ReadDir(filepath.Join(dir, formatDir))
	if len(left) != 0 {
		t.Fatalf("left behind: %v", left)
	}
	c = open(t, dir)
	defer c.Close()
	if n, _ := c.Stats(); n != 0 {
		t.Fatal("a failed pack was published")
	}
}

// TestUnwritableFolderIsNoCache: a cache folder that cannot be made is a
// build without a cache.
func TestUnwritableFolderIsNoCache(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	c := Open(Options{Dir: file, Version: "v"})
	if c != nil {
		t.Fatal("a cache in a file")
	}
	// A nil cache is usable: it finds and keeps nothing.
	c.Put(c.Key("k"), []byte("v"))
	if _, ok := c.Get(c.Key("k")); ok {
		t.Fatal("a nil cache found an entry")
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestConcurrentBuilds: two builds at once, each storing from several
// goroutines, some entries the same: both packs are published whole and
// a third build reads every entry.
func TestConcurrentBuilds(t *testing.T) {
	dir := t.TempDir()
	var wg sync.WaitGroup
	for b := 0; b < 2; b++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := open(t, dir)
			var inner sync.WaitGroup
			for g := 0; g < 4; g++ {
				inner.Add(1)
				go func() {
					defer inner.Done()
					for i := 0; i < 200; i++ {
						n := fmt.Sprint(b*100+i, "-", g)
						c.Put(c.Key("e", []byte(n)), []byte("value "+n))
					}
				}()
			}
			inner.Wait()
			if err := c.Close(); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	c := open(t, dir)
	defer c.Close()
	for b := 0; b < 2; b++ {
		for g := 0; g < 4; g++ {
			for i := 0; i < 200; i++ {
				n := fmt.Sprint(b*100+i, "-", g)
				if got, ok := c.Get(c.Key("e", []byte(n))); !ok || string(got) != "value "+n {
					t.Fatalf("%s: %q, %v", n, got, ok)
				}
			}
		}
	}
}

// TestTrimLeastRecentlyUsed: past the bound, the pack no build read for
// longest goes first; the one a build just read stays.
func TestTrimLeastRecentlyUsed(t *testing.T) {
	dir := t.TempDir()
	put := func(name string, age time.Duration) {
		c := open(t, dir)
		// Random bytes: entries are compressed, and these must not shrink.
		data := make([]byte, 4000)
		x := uint64(name[0])
		for i := range data {
			x = x*6364136223846793005 + 1442695040888963407
			data[i] = byte(x >> 56)
		}
		c.Put(c.Key(name), data)
		if err := c.Close(); err != nil {
			t.Fatal(err)
		}
		ps := packs(t, dir)
		newest := ps[len(ps)-1]
		when := time.Now().Add(-age)
		if err := os.Chtimes(newest, when, when); err != nil {
			t.Fatal(err)
		}
	}
	put("a", 3*time.Hour) // oldest, but read below
	put("b", 2*time.Hour)
	put("c", time.Hour)
	c := open(t, dir, func(o *Options) { o.MaxBytes = 9000 })
	if _, ok := c.Get(c.Key("a")); !ok {
		t.Fatal("a is missing")
	}
	c.Put(c.Key("d"), []byte("d"))
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	c = open(t, dir)
	defer c.Close()
	for k, want := range map[string]bool{"a": true, "b": false, "c": true, "d": true} {
		if _, ok := c.Get(c.Key(k)); ok != want {
			t.Errorf("%s kept = %v, want %v", k, ok, want)
		}
	}
}

// TestMergeWhenPacksPileUp: many small packs (a build each) are merged
// into the pack of a build that used them.
func TestMergeWhenPacksPileUp(t *testing.T) {
	dir := t.TempDir()
	for i := 0; i < maxPacks+2; i++ {
		c := open(t, dir)
		c.Put(c.Key(fmt.Sprint(i)), []byte(fmt.Sprint("value ", i)))
		if err := c.Close(); err != nil {
			t.Fatal(err)
		}
	}
	c := open(t, dir)
	for i := 0; i < maxPacks+2; i++ {
		if _, ok := c.Get(c.Key(fmt.Sprint(i))); !ok {
			t.Fatalf("entry %d missing", i)
		}
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if ps := packs(t, dir); len(ps) != 1 {
		t.Fatalf("%d packs after a merge, want 1", len(ps))
	}
	c = open(t, dir)
	defer c.Close()
	for i := 0; i < maxPacks+2; i++ {
		if got, ok := c.Get(c.Key(fmt.Sprint(i))); !ok || string(got) != fmt.Sprint("value ", i) {
			t.Fatalf("entry %d after the merge: %q, %v", i, got, ok)
		}
	}
}

func TestDecoder(t *testing.T) {
	var e Encoder
	e.String("héllo")
	e.Int(-42)
	d := NewDecoder(e.Bytes())
	if s, n := d.String(), d.Int(); s != "héllo" || n != -42 || d.Err() != nil {
		t.Fatalf("got %q %d %v", s, n, d.Err())
	}
	d = NewDecoder(e.Bytes()[:3])
	_ = d.String()
	if d.Err() == nil {
		t.Fatal("a truncated value decoded")
	}
}

// TestPackCutShortWhileOpen: a pack truncated after a build opened it (a
// cache folder cleaned by hand, a restore over it) is read through its
// mapping; the entries past the cut are misses, not a crash, and the
// ones before it are still read.
func TestPackCutShortWhileOpen(t *testing.T) {
	dir := t.TempDir()
	c := open(t, dir)
	var keys []Key
	for i := range 64 {
		k := c.Key("page", []byte{byte(i)})
		keys = append(keys, k)
		// Incompressible, so the pack is several pages long.
		data := make([]byte, 16<<10)
		for j := range data {
			data[j] = byte((i*7919 + j*104729) >> 3)
		}
		c.Put(k, data)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	c = open(t, dir)
	defer c.Close()
	if c.packs[0].mapped == nil && mapPack(c.packs[0].f, c.packs[0].size) != nil {
		t.Fatal("the pack can be mapped but was not")
	}
	if err := os.Truncate(packs(t, dir)[0], 64<<10); err != nil {
		t.Fatal(err)
	}
	if _, ok := c.Get(keys[0]); !ok {
		t.Errorf("an entry before the cut is a miss")
	}
	if got, ok := c.Get(keys[len(keys)-1]); ok {
		t.Errorf("an entry past the cut was read: %d bytes", len(got))
	}
}
