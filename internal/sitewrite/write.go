// Package sitewrite owns writing a built site. A build's files are
// written into a fresh folder beside the output folder, on a pool of
// goroutines and with the few system calls the work needs, minified when
// the site asks for it, and the folder is swapped in only when the whole
// build succeeded: a reader sees the old site or the new one, never a
// mix, and a failed build leaves the old one as it was. rollbook serve
// builds into memory instead. The package also owns the stamp, the hash
// of everything a build reads, by which an unchanged site is not built
// again.
package sitewrite

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/cespare/xxhash/v2"
	"github.com/tdewolff/minify/v2"
	"github.com/tdewolff/minify/v2/css"
	"github.com/tdewolff/minify/v2/js"
	"github.com/tdewolff/minify/v2/svg"
	"golang.org/x/sys/unix"
)

// Writer writes one build: into a folder beside the output folder that
// Commit swaps in, or into memory. Its methods are safe for concurrent
// use, and a nil Writer writes nothing (a check renders without
// writing).
type Writer struct {
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
	// asyncCleanup removes the previous site in the background.
	asyncCleanup bool
	// mem, when set, receives the site instead of the disk.
	mem     map[string][]byte
	memMu   sync.Mutex
	stopped atomic.Bool
	errMu   sync.Mutex
	err     error
}

// Options says how a Writer writes.
type Options struct {
	// Minify minifies stylesheets, scripts and SVG as they are written
	// (HTML templates are minified once, when the theme is loaded).
	Minify bool
	// AsyncCleanup removes the previous site in the background after
	// the swap: for a process that lives on (rollbook serve), where the
	// latency of a rebuild matters more than the disk it holds a while.
	AsyncCleanup bool
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

// New starts a build of the site in the folder out: a fresh folder
// beside it receives the files until Commit.
func New(out string, opts Options) (*Writer, error) {
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
	w := &Writer{out: out, tmp: tmp, dirState: map[string]*dirOnce{}, jobs: make(chan writeJob, 256), asyncCleanup: opts.AsyncCleanup}
	if opts.Minify {
		w.min = newMinifier()
	}
	w.startWorkers()
	return w, nil
}

// NewMemory starts a build into memory, written on a pool of goroutines
// as New writes to disk; Files returns the site once committed.
func NewMemory(opts Options) *Writer {
	w := NewInline(opts)
	w.jobs = make(chan writeJob, 256)
	w.startWorkers()
	return w
}

// NewInline is NewMemory writing in the caller's goroutine: an update
// writes a few pages, and handing each to a pool costs a save more (in
// wake-ups, on a busy machine) than it saves.
func NewInline(opts Options) *Writer {
	w := &Writer{mem: map[string][]byte{}, dirState: map[string]*dirOnce{}}
	if opts.Minify {
		w.min = newMinifier()
	}
	return w
}

func (w *Writer) startWorkers() {
	for range writeWorkers {
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

// minifiedCache keeps minified stylesheets and scripts by content hash:
// they rarely change between the rebuilds of rollbook serve.
var minifiedCache sync.Map

func (w *Writer) minified(mediaType string, data []byte) []byte {
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
func (w *Writer) flush() error {
	if w.jobs != nil {
		close(w.jobs)
		w.wg.Wait()
		w.jobs = nil
	}
	w.errMu.Lock()
	defer w.errMu.Unlock()
	return w.err
}

// minifiedTypes are the media types minified as they are written, by
// file extension.
var minifiedTypes = map[string]string{
	".css": "text/css",
	".js":  "application/javascript",
	".mjs": "application/javascript",
	".svg": "image/svg+xml",
}

// Write stores one output file; rel is a slash path inside the site.
func (w *Writer) Write(rel string, data []byte) error { return w.WriteThen(rel, data, nil) }

// WriteThen is Write calling done (when not nil) once data is on disk
// and may be reused; a build into memory keeps data and never calls it.
func (w *Writer) WriteThen(rel string, data []byte, done func()) error {
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
func (w *Writer) run(j writeJob) error {
	err := w.writeNow(j.rel, j.data)
	if j.done != nil && w.mem == nil {
		j.done()
	}
	return err
}

// clean is rel as a path inside the site, or an error when it leaves it.
func clean(rel string) (string, error) {
	c := path.Clean("/" + rel)[1:]
	if c == "" {
		return "", fmt.Errorf("output path %q names the output folder itself", rel)
	}
	return c, nil
}

func (w *Writer) writeNow(rel string, data []byte) error {
	c, err := clean(rel)
	if err != nil {
		return err
	}
	if w.min != nil {
		if mt := minifiedTypes[path.Ext(c)]; mt != "" {
			data = w.minified(mt, data)
		}
	}
	if w.mem != nil {
		w.memMu.Lock()
		w.mem[c] = data
		w.memMu.Unlock()
		return nil
	}
	if err := w.mkdirIn(path.Dir(c)); err != nil {
		return err
	}
	return writeFile(filepath.Join(w.tmp, filepath.FromSlash(c)), data)
}

func (w *Writer) mkdir(dir string) error {
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

func (w *Writer) mkdirIn(dir string) error {
	if dir == "." || dir == "/" || dir == "" || w.mem != nil {
		return nil
	}
	return w.mkdir(dir)
}

// PrepareDirs creates the folders of the site (slash paths inside it)
// in the background, ahead of the files written into them: folders are
// slow to create on many disks, and the build goes on meanwhile.
func (w *Writer) PrepareDirs(dirs []string) {
	if w == nil || w.mem != nil {
		return
	}
	w.prep.Add(1)
	go w.prepareDirs(dirs)
}

func (w *Writer) prepareDirs(dirs []string) {
	defer w.prep.Done()
	ch := make(chan string)
	var wg sync.WaitGroup
	for range writeWorkers {
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

// CopyFile copies the file src into the site as it is.
func (w *Writer) CopyFile(rel, src string) error {
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
	c, err := clean(rel)
	if err != nil {
		return err
	}
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	if err := w.mkdirIn(path.Dir(c)); err != nil {
		return err
	}
	out, err := os.Create(filepath.Join(w.tmp, filepath.FromSlash(c)))
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// Commit publishes the build. On Linux the new folder and the old one
// are exchanged in one rename, so a reader sees the old site or the new
// one, never a mix; elsewhere the old folder is renamed away first. A
// build into memory is then what Files returns.
func (w *Writer) Commit() error {
	w.prep.Wait()
	if err := w.flush(); err != nil {
		return err
	}
	if w.mem != nil {
		w.done = true
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

// Files is the site a build into memory wrote, by slash path, once
// committed; nil before, and for a build to disk.
func (w *Writer) Files() map[string][]byte {
	if !w.done {
		return nil
	}
	return w.mem
}

// Abort removes an unfinished build; after Commit it does nothing.
func (w *Writer) Abort() {
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
