package site

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/cespare/xxhash/v2"
	"github.com/tdewolff/minify/v2"
	"github.com/tdewolff/minify/v2/css"
	"github.com/tdewolff/minify/v2/html"
	"github.com/tdewolff/minify/v2/js"
	"github.com/tdewolff/minify/v2/svg"
	"golang.org/x/sys/unix"
)

// stampFile records the hash of the inputs a build was made from, so an
// unchanged site is not rebuilt.
const stampFile = ".rollbook-build"

// writer writes a build into a fresh folder beside the output folder and
// swaps it in only when the whole build succeeded.
type writer struct {
	out, tmp string
	min      *minify.M
	mu       sync.Mutex
	dirState map[string]*dirOnce
	done     bool

	// Writing is handed to a pool of goroutines so that rendering (CPU)
	// overlaps with file creation, which on many disks is latency bound.
	jobs chan writeJob
	wg   sync.WaitGroup
	prep sync.WaitGroup // folders made ahead of time
	// asyncCleanup removes the previous site in the background (serve mode,
	// where the process lives on and rebuild latency matters).
	asyncCleanup bool
	// mem, when set, receives the site instead of the disk; publish makes
	// a finished build visible (the dev server serves from memory).
	mem     map[string][]byte
	memMu   sync.Mutex
	publish func(map[string][]byte)
	stopped atomic.Bool
	errMu   sync.Mutex
	err     error
}

type writeJob struct {
	rel  string
	data []byte
	// done, when set, is called once data is written to disk and no
	// longer needed (data kept in memory is not given back).
	done func()
}

// writeWorkers is how many files are created at once.
const writeWorkers = 16

// newMemWriter builds into memory; publish receives the finished site.
func newMemWriter(minified bool, publish func(map[string][]byte)) *writer {
	w := newInlineWriter(minified, publish)
	w.jobs = make(chan writeJob, 256)
	w.startWorkers()
	return w
}

// newInlineWriter builds into memory in the caller's goroutine: an update
// writes a few pages, and handing each to a pool costs a save more (in
// wake-ups, on a busy machine) than it saves.
func newInlineWriter(minified bool, publish func(map[string][]byte)) *writer {
	w := &writer{mem: map[string][]byte{}, publish: publish, dirState: map[string]*dirOnce{}}
	if minified {
		w.min = newMinifier()
	}
	return w
}

func newWriter(out string, minified bool) (*writer, error) {
	parent := filepath.Dir(out)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp(parent, "."+filepath.Base(out)+".tmp-")
	if err != nil {
		return nil, fmt.Errorf("creating build folder beside %s: %w", out, err)
	}
	if err := os.Chmod(tmp, 0o755); err != nil {
		return nil, err
	}
	w := &writer{out: out, tmp: tmp, dirState: map[string]*dirOnce{}, jobs: make(chan writeJob, 256)}
	if minified {
		w.min = newMinifier()
	}
	w.startWorkers()
	return w, nil
}

func (w *writer) startWorkers() {
	for i := 0; i < writeWorkers; i++ {
		w.wg.Add(1)
		go func() {
			defer w.wg.Done()
			for j := range w.jobs {
				if err := w.run(j); err != nil {
					w.errMu.Lock()
					if w.err == nil {
						w.err = err
					}
					w.errMu.Unlock()
				}
			}
		}()
	}
}

func newMinifier() *minify.M {
	m := minify.New()
	m.AddFunc("text/css", css.Minify)
	m.AddFunc("application/javascript", js.Minify)
	m.AddFunc("image/svg+xml", svg.Minify)
	return m
}

// htmlTemplateMinifier minifies template source once at theme load, keeping
// Go template actions intact, so pages need no minifying per build.
var htmlTemplateMinifier = func() *minify.M {
	m := minify.New()
	m.Add("text/html", &html.Minifier{KeepDocumentTags: true, KeepEndTags: true, KeepQuotes: true, KeepDefaultAttrVals: true, TemplateDelims: html.GoTemplateDelims})
	return m
}()

// minifiedCache keeps minified stylesheets and scripts by content hash:
// they rarely change between the rebuilds of rollbook serve.
var minifiedCache sync.Map

func (w *writer) minified(mediaType string, data []byte) []byte {
	key := mediaType + "\x00" + strconv.FormatUint(xxhash.Sum64(data), 16)
	if v, ok := minifiedCache.Load(key); ok {
		return v.([]byte)
	}
	var buf bytes.Buffer
	if err := w.min.Minify(mediaType, &buf, bytes.NewReader(data)); err != nil {
		return data
	}
	out := buf.Bytes()
	minifiedCache.Store(key, out)
	return out
}

// flush waits for every queued write and reports the first error.
func (w *writer) flush() error {
	if w == nil {
		return nil
	}
	if w.jobs != nil {
		close(w.jobs)
		w.wg.Wait()
		w.jobs = nil
	}
	w.errMu.Lock()
	defer w.errMu.Unlock()
	return w.err
}

func mediaType(name string) string {
	switch path.Ext(name) {
	case ".html":
		return "text/html"
	case ".css":
		return "text/css"
	case ".js", ".mjs":
		return "application/javascript"
	case ".svg":
		return "image/svg+xml"
	}
	return ""
}

// write stores one output file; rel is a slash path inside the site. It is
// safe for concurrent use.
func (w *writer) write(rel string, data []byte) error { return w.writeThen(rel, data, nil) }

// writeThen is write calling done (when not nil) once data is on disk
// and may be reused; a build into memory keeps data and never calls it.
func (w *writer) writeThen(rel string, data []byte, done func()) error {
	if w == nil {
		return nil
	}
	w.errMu.Lock()
	err := w.err
	w.errMu.Unlock()
	if err != nil {
		return err
	}
	j := writeJob{rel: rel, data: data, done: done}
	if w.jobs == nil {
		return w.run(j)
	}
	w.jobs <- j
	return nil
}

// run writes one job's file, then gives its data back.
func (w *writer) run(j writeJob) error {
	err := w.writeNow(j.rel, j.data)
	if j.done != nil && w.mem == nil {
		j.done()
	}
	return err
}

func (w *writer) writeNow(rel string, data []byte) error {
	if w.mem != nil {
		clean := path.Clean("/" + rel)[1:]
		if w.min != nil {
			if mt := mediaType(clean); mt != "" {
				data = w.minified(mt, data)
			}
		}
		w.memMu.Lock()
		w.mem[clean] = data
		w.memMu.Unlock()
		return nil
	}
	clean := path.Clean("/" + rel)[1:]
	if clean == "" || strings.HasPrefix(clean, "../") {
		return fmt.Errorf("output path %q escapes the output folder", rel)
	}
	if w.min != nil {
		if mt := mediaType(clean); mt != "" {
			data = w.minified(mt, data)
		}
	}
	dst := filepath.Join(w.tmp, filepath.FromSlash(clean))
	if err := w.mkdirIn(path.Dir(clean)); err != nil {
		return err
	}
	return writeFile(dst, data)
}

func (w *writer) mkdir(dir string) error {
	// Creating a folder can take most of a millisecond on a busy disk, so
	// only the bookkeeping is under the lock: writers create different
	// folders at the same time, and wait only for one another's parents.
	w.mu.Lock()
	d, ok := w.dirState[dir]
	if !ok {
		d = &dirOnce{}
		w.dirState[dir] = d
	}
	w.mu.Unlock()
	d.once.Do(func() {
		if parent := path.Dir(dir); parent != dir && parent != "." && parent != "/" {
			if d.err = w.mkdir(parent); d.err != nil {
				return
			}
		}
		d.err = os.Mkdir(filepath.Join(w.tmp, filepath.FromSlash(dir)), 0o755)
		if errors.Is(d.err, fs.ErrExist) {
			d.err = nil
		}
	})
	return d.err
}

func (w *writer) mkdirIn(dir string) error {
	if dir == "." || dir == "/" || dir == "" || w.mem != nil {
		return nil
	}
	return w.mkdir(dir)
}

// prepareDirs creates output folders ahead of the files written into them.
func (w *writer) prepareDirs(dirs []string) {
	defer w.prep.Done()
	ch := make(chan string)
	var wg sync.WaitGroup
	for i := 0; i < writeWorkers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for d := range ch {
				_ = w.mkdirIn(d)
			}
		}()
	}
	for _, d := range dirs {
		if w.stopped.Load() {
			break
		}
		ch <- d
	}
	close(ch)
	wg.Wait()
}

type dirOnce struct {
	once sync.Once
	err  error
}

// copyFile copies a source file into the site as it is.
func (w *writer) copyFile(rel, src string) error {
	if w == nil {
		return nil
	}
	if w.mem != nil {
		data, err := os.ReadFile(src)
		if err != nil {
			return err
		}
		return w.writeNow(rel, data)
	}
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	clean := path.Clean("/" + rel)[1:]
	if err := w.mkdirIn(path.Dir(clean)); err != nil {
		return err
	}
	out, err := os.Create(filepath.Join(w.tmp, filepath.FromSlash(clean)))
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

func (w *writer) stamp(key string) error {
	if key == "" || w.mem != nil {
		return nil
	}
	return os.WriteFile(filepath.Join(w.tmp, stampFile), []byte(key+"\n"), 0o644)
}

// commit swaps the new build in. On Linux both folders are exchanged in one
// rename, so a reader sees the old site or the new one, never a mix.
func (w *writer) commit() error {
	w.prep.Wait()
	if err := w.flush(); err != nil {
		return err
	}
	if w.mem != nil {
		w.done = true
		w.publish(w.mem)
		return nil
	}
	if _, err := os.Lstat(w.out); errors.Is(err, fs.ErrNotExist) {
		if err := os.Rename(w.tmp, w.out); err != nil {
			return fmt.Errorf("publishing %s: %w", w.out, err)
		}
		w.done = true
		return nil
	}
	if err := unix.Renameat2(unix.AT_FDCWD, w.tmp, unix.AT_FDCWD, w.out, unix.RENAME_EXCHANGE); err == nil {
		w.done = true
		// w.tmp now holds the previous site.
		if w.asyncCleanup {
			go os.RemoveAll(w.tmp) //nolint:errcheck // a leftover is removed with the server's folder
			return nil
		}
		return os.RemoveAll(w.tmp)
	}
	old := w.tmp + ".old"
	if err := os.Rename(w.out, old); err != nil {
		return fmt.Errorf("publishing %s: %w", w.out, err)
	}
	if err := os.Rename(w.tmp, w.out); err != nil {
		_ = os.Rename(old, w.out)
		return fmt.Errorf("publishing %s: %w", w.out, err)
	}
	w.done = true
	return os.RemoveAll(old)
}

// abort removes an unfinished build; after commit it does nothing.
func (w *writer) abort() {
	if w != nil && !w.done {
		w.stopped.Store(true)
		w.prep.Wait()
		_ = w.flush()
		if w.mem != nil {
			return
		}
		_ = os.RemoveAll(w.tmp)
	}
}

func readStamp(out string) string {
	b, err := os.ReadFile(filepath.Join(out, stampFile))
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// fileKey identifies a file's version by size and modification time.
func fileKey(file string) string {
	st, err := os.Stat(file)
	if err != nil {
		return ""
	}
	return strconv.FormatInt(st.Size(), 10) + ":" + strconv.FormatInt(st.ModTime().UnixNano(), 10)
}

// inputKey hashes everything a build reads: the binary's theme and version,
// the config, the content, theme overrides and drill reports, and the day
// (review ages change with it). An equal key means an equal site.
//
// The content it read is kept in b.read for the build to parse, so each
// file is read once.
func (b *Builder) inputKey(ctx context.Context) (string, error) {
	b.read = map[string][]byte{}
	h := xxhash.New()
	fmt.Fprintf(h, "%s\x00%s\x00%v\x00%v\x00%v\x00", buildVersion(), b.now().UTC().Format("2006-01-02"), b.opts.Drafts, b.opts.Strict, b.opts.Dev)
	if b.cfg.File != "" {
		data, err := os.ReadFile(b.cfg.File)
		if err != nil {
			return "", err
		}
		h.Write(data)
	}
	for i, dir := range []string{b.cfg.Path(b.cfg.ContentDir), b.theme.dir, b.cfg.Path(b.cfg.DrillsDir)} {
		if dir == "" {
			continue
		}
		var keep map[string][]byte
		if i == 0 {
			keep = b.read
		}
		err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				if errors.Is(err, fs.ErrNotExist) && p == dir {
					return filepath.SkipDir
				}
				return err
			}
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if !d.Type().IsRegular() {
				return nil
			}
			data, err := readFile(p)
			if err != nil {
				return err
			}
			if keep != nil {
				keep[p] = data
			}
			rel, _ := filepath.Rel(dir, p)
			fmt.Fprintf(h, "%s\x00%d\x00", filepath.ToSlash(rel), len(data))
			h.Write(data)
			return nil
		})
		if err != nil {
			return "", err
		}
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
