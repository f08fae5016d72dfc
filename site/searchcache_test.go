package site

import (
	"bytes"
	"maps"
	"path/filepath"
	"testing"

	"github.com/rollbook/rollbook/internal/buildcache"
)

// TestSearchFromBuildCache: the search index built with the persistent
// build cache, empty or filled by an earlier build, has the files of one
// built without it, and a build after the first finds every page's text
// and analysis there (it stores nothing new).
func TestSearchFromBuildCache(t *testing.T) {
	root := cacheSite(t)
	dir := filepath.Join(t.TempDir(), "cache")
	index := func(t *testing.T, cacheDir string) map[string][]byte {
		t.Helper()
		b, w, s := loadedSite(t, root)
		if cacheDir != "" {
			// Opened after loading, so that only the index reads and
			// stores entries.
			b.store = &store{c: buildcache.Open(buildcache.Options{Dir: cacheDir, Version: "test"})}
			defer func() {
				if err := b.store.c.Close(); err != nil {
					t.Fatal(err)
				}
			}()
		}
		idx, _, err := b.writeSearch(t.Context(), s, w)
		if err != nil {
			t.Fatal(err)
		}
		return maps.Clone(idx.Files())
	}
	want := index(t, "")
	if len(want) == 0 {
		t.Fatal("no search files")
	}
	for _, step := range []struct {
		name  string
		packs int
	}{
		{"empty cache", 1}, // the first build stores every page's text and analysis
		{"full cache", 1},  // the second finds them all
		{"full cache again", 1},
	} {
		got := index(t, dir)
		if !maps.EqualFunc(got, want, bytes.Equal) {
			t.Errorf("%s: the search files differ from a build without the cache", step.name)
		}
		if n := len(cachePacks(t, dir)); n != step.packs {
			t.Errorf("%s: %d packs, want %d", step.name, n, step.packs)
		}
	}
}
