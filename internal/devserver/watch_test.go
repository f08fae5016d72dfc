package devserver

import (
	"bytes"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/fsnotify/fsnotify"
)

// saves are the ways editors write a file, each leaving its droppings
// beside it for a moment.
var saves = []struct {
	editor string
	save   func(t *testing.T, file, text string)
}{
	{"direct write (VS Code, nano)", func(t *testing.T, file, text string) { write(t, file, text) }},
	{"vim, backupcopy=no: probe, rename to backup, write, drop backup", func(t *testing.T, file, text string) {
		dir := filepath.Dir(file)
		write(t, filepath.Join(dir, "4913"), "")
		must(t, os.Remove(filepath.Join(dir, "4913")))
		write(t, filepath.Join(dir, "."+filepath.Base(file)+".swp"), "swap")
		must(t, os.Rename(file, file+"~"))
		write(t, file, text)
		must(t, os.Remove(file+"~"))
		must(t, os.Remove(filepath.Join(dir, "."+filepath.Base(file)+".swp")))
	}},
	{"JetBrains safe write", func(t *testing.T, file, text string) {
		write(t, file+"___jb_tmp___", text)
		must(t, os.Rename(file, file+"___jb_old___"))
		must(t, os.Rename(file+"___jb_tmp___", file))
		must(t, os.Remove(file+"___jb_old___"))
	}},
	{"atomic write: hidden temp file renamed over", func(t *testing.T, file, text string) {
		tmp := filepath.Join(filepath.Dir(file), "."+filepath.Base(file)+".tmp.1234")
		write(t, tmp, text)
		must(t, os.Rename(tmp, file))
	}},
	{"Helix: .bck backup, write, drop backup", func(t *testing.T, file, text string) {
		old, err := os.ReadFile(file)
		must(t, err)
		write(t, file+".bck", string(old))
		write(t, file, text)
		must(t, os.Remove(file+".bck"))
	}},
	{"Emacs: lock, autosave, backup", func(t *testing.T, file, text string) {
		dir, base := filepath.Dir(file), filepath.Base(file)
		must(t, os.Symlink("user@host.1234", filepath.Join(dir, ".#"+base)))
		write(t, filepath.Join(dir, "#"+base+"#"), text)
		must(t, os.Rename(file, file+"~"))
		write(t, file, text)
		for _, f := range []string{".#" + base, "#" + base + "#", base + "~"} {
			must(t, os.Remove(filepath.Join(dir, f)))
		}
	}},
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// Every editor's way of saving ends with the new text served and no
// error, with inotify and with polling; the droppings never become pages.
func TestEditorSaves(t *testing.T) {
	for _, mode := range []struct {
		name string
		poll time.Duration
	}{{"inotify", 0}, {"poll", 20 * time.Millisecond}} {
		t.Run(mode.name, func(t *testing.T) {
			root := fixture(t)
			s, hs, _ := startWith(t, Options{Root: root, Poll: mode.poll})
			file := filepath.Join(root, "content", "ops", "flip.md")
			for i, sv := range saves {
				text := fmt.Sprintf("Saved by %d", i)
				sv.save(t, file, page(text))
				eventually(t, sv.editor+" to be served", func() bool {
					_, body := get(t, hs.URL+"/ops/flip/")
					return strings.Contains(body, text)
				})
				s.mu.Lock()
				failed := s.lastErr
				s.mu.Unlock()
				if failed != nil {
					t.Errorf("%s: the site is in error: %s", sv.editor, failed.Message)
				}
			}
			for name := range s.builder.Load().Files() {
				for _, mark := range []string{"~", "#", ".swp", "___jb_", ".bck", "4913", ".tmp"} {
					if strings.Contains(name, mark) {
						t.Errorf("an editor's dropping became part of the site: %s", name)
					}
				}
			}
		})
	}
}

// A permission change alone is not a save: nothing is rebuilt.
func TestChmodIgnored(t *testing.T) {
	root := fixture(t)
	s, _, _ := start(t, root)
	builds := func() int {
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.build
	}
	before := builds()
	must(t, os.Chmod(filepath.Join(root, "content", "ops", "flip.md"), 0o600))
	time.Sleep(200 * time.Millisecond)
	if after := builds(); after != before {
		t.Errorf("a chmod rebuilt the site (%d builds, was %d)", after, before)
	}
}

// syncBuffer is a log destination safe for the watcher's goroutine.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (w *syncBuffer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func (w *syncBuffer) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String()
}

// limitAfter makes inotify refuse every watch after the first n, as a
// full fs.inotify.max_user_watches does.
func limitAfter(t *testing.T, n int) {
	var mu sync.Mutex
	added := 0
	t.Cleanup(func() { addWatch = (*fsnotify.Watcher).Add })
	addWatch = func(w *fsnotify.Watcher, p string) error {
		mu.Lock()
		defer mu.Unlock()
		if added++; added > n {
			return fmt.Errorf("adding a watch for %s: %w", p, syscall.ENOSPC)
		}
		return w.Add(p)
	}
}

// With the watch limit reached at start, or later by a new folder, the
// server says how to raise it and keeps seeing changes by polling.
func TestWatchLimitFallsBackToPolling(t *testing.T) {
	for _, c := range []struct {
		name    string
		watches int
	}{{"at start", 0}, {"on a new folder", 3}} {
		t.Run(c.name, func(t *testing.T) {
			limitAfter(t, c.watches)
			root := fixture(t)
			var logs syncBuffer
			_, hs, _ := startWith(t, Options{Root: root, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
			file := filepath.Join(root, "content", "ops", "flip.md")
			if c.watches > 0 {
				// Still watched: the edit shows; then a new folder
				// needs a watch more than the limit allows.
				write(t, file, page("Watched edit"))
				eventually(t, "the watched edit", func() bool { _, b := get(t, hs.URL+"/ops/flip/"); return strings.Contains(b, "Watched edit") })
				write(t, filepath.Join(root, "content", "newdir", "deep", "plan.md"), page("In a new folder"))
				eventually(t, "the plan in the new folder", func() bool {
					_, b := get(t, hs.URL+"/newdir/deep/plan/")
					return strings.Contains(b, "In a new folder")
				})
				file = filepath.Join(root, "content", "newdir", "deep", "plan.md")
			}
			eventually(t, "the limit to be reported", func() bool { return strings.Contains(logs.String(), "max_user_watches") })
			write(t, file, page("Seen by polling"))
			eventually(t, "the edit to be seen by polling", func() bool {
				_, b := get(t, hs.URL+strings.TrimSuffix(strings.TrimPrefix(filepath.ToSlash(strings.TrimPrefix(file, filepath.Join(root, "content"))), ""), ".md")+"/")
				return strings.Contains(b, "Seen by polling")
			})
		})
	}
}
