package devserver

import (
	"context"
	"errors"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/fsnotify/fsnotify"
)

// debounce gathers a burst of events (an editor's write, rename and chmod,
// or a git checkout) into one rebuild.
const debounce = 2 * time.Millisecond

// ignored reports editor droppings that must never trigger a rebuild: vim
// swap and backup files and its 4913 probe, Emacs lock and autosave files,
// JetBrains and VS Code temporary files, Helix .bck backups.
func ignored(name string) bool {
	base := filepath.Base(name)
	switch {
	case base == "4913", strings.HasPrefix(base, ".#"), strings.HasPrefix(base, "#") && strings.HasSuffix(base, "#"),
		strings.HasSuffix(base, "~"), strings.HasSuffix(base, ".swp"), strings.HasSuffix(base, ".swx"), strings.HasSuffix(base, ".swo"),
		strings.HasSuffix(base, ".tmp"), strings.HasSuffix(base, ".bck"), strings.HasSuffix(base, "___jb_tmp___"), strings.HasSuffix(base, "___jb_old___"),
		strings.HasPrefix(base, ".") && base != "." && base != "..":
		return true
	}
	return false
}

// sources lists the folders and files a build reads.
func (s *Server) sources() (dirs []string, files []string) {
	return s.builder.Load().Sources()
}

// fallbackPoll is how often sources are polled when inotify cannot
// watch them.
const fallbackPoll = 500 * time.Millisecond

// addWatch adds one inotify watch; tests replace it to reach the limit.
var addWatch = (*fsnotify.Watcher).Add

// limitReached reports an error from adding a watch that means inotify
// has run out: of watches (ENOSPC) or of instances or descriptors.
func limitReached(err error) bool {
	return errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EMFILE)
}

const limitMessage = "the inotify watch limit is reached (raise it with sysctl fs.inotify.max_user_watches=524288); polling every 500ms instead"

// Watch rebuilds whenever a source changes, until ctx is done. It uses
// inotify, and falls back to polling when the watch limit is reached,
// at start or when a new folder cannot be watched.
func (s *Server) Watch(ctx context.Context) error {
	if s.opts.Poll > 0 {
		return s.poll(ctx, s.opts.Poll)
	}
	w, err := fsnotify.NewWatcher()
	if err != nil {
		s.log.Warn("file watching unavailable, polling every 500ms instead", "err", err)
		return s.poll(ctx, fallbackPoll)
	}
	defer w.Close()
	dirs, files := s.sources()
	for _, d := range dirs {
		if err := s.addTree(w, d); err != nil {
			if limitReached(err) {
				s.log.Warn(limitMessage)
				return s.poll(ctx, fallbackPoll)
			}
			return err
		}
	}
	// rollbook.yaml is watched through its folder, so that an editor that
	// replaces the file by renaming keeps being seen.
	for _, f := range files {
		_ = w.Add(filepath.Dir(f))
	}
	watchedFile := map[string]bool{}
	for _, f := range files {
		watchedFile[f] = true
	}
	s.markWatching()
	var timer *time.Timer
	var fire <-chan time.Time
	changed := map[string]bool{} // since the last rebuild
	resync := false
	for {
		select {
		case <-ctx.Done():
			return nil
		case err, ok := <-w.Errors:
			if !ok {
				return nil
			}
			s.log.Warn("file watcher", "err", err)
		case ev, ok := <-w.Events:
			if !ok {
				return nil
			}
			if ignored(ev.Name) || ev.Op == fsnotify.Chmod {
				continue
			}
			root := s.builder.Load().Config().Root
			inRoot := filepath.Dir(ev.Name) == root || filepath.Dir(ev.Name) == filepath.Clean(root)
			if inRoot && !watchedFile[ev.Name] && !underAny(ev.Name, dirs) {
				continue
			}
			if ev.Op&fsnotify.Create != 0 {
				if st, err := os.Stat(ev.Name); err == nil && st.IsDir() {
					if err := s.addTree(w, ev.Name); limitReached(err) {
						// Part of the tree is unwatched: only polling
						// still sees every change.
						// The changes so far and the new folder build the
						// whole site, with the builder and its caches.
						s.log.Warn(limitMessage)
						prev := s.snapshot()
						changed[filepath.Clean(ev.Name)] = true
						s.rebuild(ctx, slices.Sorted(maps.Keys(changed)))
						return s.pollFrom(ctx, fallbackPoll, prev)
					} else if err != nil {
						s.log.Warn("watching a new folder", "dir", ev.Name, "err", err)
					}
				}
			}
			if ev.Op&(fsnotify.Rename|fsnotify.Remove) != 0 && slices.Contains(w.WatchList(), ev.Name) {
				resync = true
			}
			changed[filepath.Clean(ev.Name)] = true
			if timer == nil {
				timer = time.NewTimer(debounce)
			} else {
				timer.Reset(debounce)
			}
			fire = timer.C
		case <-fire:
			fire = nil
			// A renamed folder: inotify follows a moved folder's inode
			// under its old name, so watches are re-synced by path. Only
			// then: walking ten thousand plans would cost every save.
			if resync {
				for _, d := range dirs {
					if err := s.addTree(w, d); err != nil {
						s.log.Warn("re-watching", "dir", d, "err", err)
					}
				}
				resync = false
			}
			files := slices.Sorted(maps.Keys(changed))
			s.rebuild(ctx, files)
			clear(changed)
		}
	}
}

func underAny(p string, dirs []string) bool {
	for _, d := range dirs {
		if p == d || strings.HasPrefix(p, d+string(filepath.Separator)) {
			return true
		}
	}
	return false
}

// addTree watches dir and every folder under it.
func (s *Server) addTree(w *fsnotify.Watcher, dir string) error {
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if d.IsDir() {
			if p != dir && ignored(p) {
				return filepath.SkipDir
			}
			return addWatch(w, p)
		}
		return nil
	})
	return err
}

// stamp is what polling compares of a file.
type stamp struct {
	mod  time.Time
	size int64
}

// poll rebuilds when a source file appears, goes, or changes size or
// modification time, passing the files that changed, so that polling
// applies a save in place as inotify does.
func (s *Server) poll(ctx context.Context, every time.Duration) error {
	return s.pollFrom(ctx, every, s.snapshot())
}

// pollFrom polls for the changes since the snapshot prev.
func (s *Server) pollFrom(ctx context.Context, every time.Duration, prev map[string]stamp) error {
	s.markWatching()
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			cur := s.snapshot()
			var changed []string
			for p, st := range cur {
				if old, ok := prev[p]; !ok || !old.mod.Equal(st.mod) || old.size != st.size {
					changed = append(changed, p)
				}
			}
			for p := range prev {
				if _, ok := cur[p]; !ok {
					changed = append(changed, p)
				}
			}
			prev = cur
			if len(changed) > 0 {
				slices.Sort(changed)
				s.rebuild(ctx, changed)
			}
		}
	}
}

// snapshot stamps every source file, skipping editor droppings.
func (s *Server) snapshot() map[string]stamp {
	out := map[string]stamp{}
	dirs, files := s.sources()
	for _, d := range dirs {
		_ = filepath.WalkDir(d, func(p string, de fs.DirEntry, err error) error {
			if err != nil || ignored(p) && p != d {
				if err == nil && de.IsDir() {
					return filepath.SkipDir
				}
				return nil
			}
			if info, err := de.Info(); err == nil && !de.IsDir() {
				out[p] = stamp{info.ModTime(), info.Size()}
			}
			return nil
		})
	}
	for _, f := range files {
		if info, err := os.Stat(f); err == nil {
			out[f] = stamp{info.ModTime(), info.Size()}
		}
	}
	return out
}
