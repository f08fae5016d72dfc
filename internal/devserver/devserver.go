// Package devserver owns `rollbook serve`: it builds the site into a private
// folder, serves it on a loopback address (never outside that folder),
// watches the sources, rebuilds on change and tells open tabs over
// Server-Sent Events to reload, swap the stylesheet, or show the build
// error in place while the last good pages keep being served.
package devserver

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rollbook/rollbook/internal/diag"
	"github.com/rollbook/rollbook/site"
)

// Options configures the server.
type Options struct {
	Root   string
	Bind   string
	Addr   string
	Drafts bool
	Open   bool
	// Poll, when set, polls the sources at this interval instead of
	// using inotify (for Docker, WSL2 and network shares).
	Poll   time.Duration
	Logger *slog.Logger
	// Ready is called with the site's URL once the server listens.
	Ready func(url string)
	// Rebuilt is called after each build, good or not (rollbook serve
	// prints one line for it, as hugo server does).
	Rebuilt func(Rebuild)
	// CacheDir is the persistent build cache folder ("" for none): a
	// second start reads what the first computed.
	CacheDir string
}

// Rebuild is one build of the dev server.
type Rebuild struct {
	Pages int
	Took  time.Duration
	// Files are the changed files that caused it, relative to the
	// project folder; none for a first or full build.
	Files []string
	// Err is the build's error: the last good site is still served.
	Err error
}

// String is the one line rollbook serve prints, for example
// "rebuilt 3 pages in 41 ms (content/payments/api.md)".
func (r Rebuild) String() string {
	var b strings.Builder
	if r.Err != nil {
		b.WriteString("build failed; serving the last good site")
		if fe, ok := site.IsFindings(r.Err); ok {
			fmt.Fprintf(&b, ": %d error(s)", len(fe.Findings.Errors()))
			if len(fe.Findings) > 0 {
				b.WriteString(", first " + fe.Findings[0].String())
			}
		}
	} else {
		pages := "pages"
		if r.Pages == 1 {
			pages = "page"
		}
		fmt.Fprintf(&b, "rebuilt %d %s in %d ms", r.Pages, pages, r.Took.Milliseconds())
	}
	if len(r.Files) > 0 {
		const shown = 3
		b.WriteString(" (" + strings.Join(r.Files[:min(len(r.Files), shown)], ", "))
		if len(r.Files) > shown {
			fmt.Fprintf(&b, " and %d more", len(r.Files)-shown)
		}
		b.WriteString(")")
	}
	return b.String()
}

//go:embed live.js
var liveJS []byte

// Server is a running dev server.
type Server struct {
	opts Options
	log  *slog.Logger
	// builder holds the loaded config and theme and the last good site;
	// a config or template change replaces it.
	builder atomic.Pointer[site.Builder]
	hub     *hub

	mu       sync.Mutex
	lastErr  *buildError
	warnings diag.List
	// build counts good builds; a tab that connects after missing a
	// reload (it was reloading) compares it with the build it showed.
	build int

	// watching is closed once every source is watched (or the poller
	// has its first snapshot): a save before that could go unseen.
	watching     chan struct{}
	watchingOnce sync.Once
}

func (s *Server) markWatching() { s.watchingOnce.Do(func() { close(s.watching) }) }

type buildError struct {
	Message  string         `json:"message"`
	Findings []diag.Finding `json:"findings"`
}

// Run builds the site and serves it until ctx is done.
func Run(ctx context.Context, opts Options) error {
	s, err := New(opts)
	if err != nil {
		return err
	}
	defer s.Close()
	ln, err := net.Listen("tcp", opts.Addr)
	if err != nil {
		return fmt.Errorf("listening on %s: %w (is another server using the port? pick one with --port)", opts.Addr, err)
	}
	srv := &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 5 * time.Second}
	url := "http://" + ln.Addr().String() + "/"
	if opts.Ready != nil {
		opts.Ready(url)
	}
	if opts.Open {
		openBrowser(url)
	}
	errc := make(chan error, 2)
	go func() { errc <- srv.Serve(ln) }()
	go func() { errc <- s.Watch(ctx) }()
	select {
	case <-ctx.Done():
	case err := <-errc:
		if err != nil && !errors.Is(err, http.ErrServerClosed) && !errors.Is(err, context.Canceled) {
			return err
		}
	}
	s.Close()
	shut, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	return srv.Shutdown(shut)
}

// New makes the first build. A first build with errors still starts the
// server: the error page tells the writer what to fix.
func New(opts Options) (*Server, error) {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	b, err := newBuilder(opts, log)
	if err != nil {
		return nil, err
	}
	s := &Server{opts: opts, log: log, hub: newHub(), watching: make(chan struct{})}
	s.builder.Store(b)
	s.rebuild(context.Background(), []string{}) // the builder is fresh: build it
	return s, nil
}

// newBuilder builds into memory: a rebuild then costs no file-system
// round trips, and the served site switches in one pointer swap.
func newBuilder(opts Options, log *slog.Logger) (*site.Builder, error) {
	return site.New(site.Options{Root: opts.Root, Drafts: opts.Drafts, Logger: log, Force: true, Dev: true, Memory: true, CacheDir: opts.CacheDir})
}

// Close ends every open tab's event stream and refuses new ones, so that
// an http.Server's Shutdown is not held by them (a tab reconnects to
// whatever serves next); pages are still served.
func (s *Server) Close() error {
	s.hub.close()
	return nil
}

// rebuild brings the site up to date with the changed files (nil: all
// of them); on success tabs reload (or swap CSS when only a stylesheet
// changed), on failure they show the error and the last good site stays
// in place.
func (s *Server) rebuild(ctx context.Context, changed []string) {
	start := time.Now()
	var res *site.Result
	var err error
	kind, stylesheet := s.builder.Load().ChangeKind(changed)
	if changed == nil || kind == site.ThemeChange {
		// Config and templates are read when a builder is made.
		var b *site.Builder
		if b, err = newBuilder(s.opts, s.log); err == nil {
			if res, err = b.Build(ctx); err == nil {
				s.builder.Store(b)
			}
		}
		// A full build leaves the garbage of a whole site; collect it now,
		// not while the next save is being applied.
		defer runtime.GC()
	} else {
		res, err = s.builder.Load().Update(ctx, changed)
	}
	if s.opts.Rebuilt != nil {
		r := Rebuild{Took: time.Since(start), Err: err, Files: s.relative(changed)}
		if res != nil {
			r.Pages = res.Pages
		}
		s.opts.Rebuilt(r)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil {
		be := &buildError{Message: err.Error()}
		if fe, ok := site.IsFindings(err); ok {
			be.Message = fmt.Sprintf("the site does not build: %d error(s)", len(fe.Findings.Errors()))
			be.Findings = fe.Findings
		}
		s.lastErr = be
		s.log.Warn("build failed; serving the last good site", "err", err)
		s.hub.send("build-error", be)
		return
	}
	s.lastErr = nil
	s.build++
	s.warnings = res.Findings.Warnings()
	s.log.Info("rebuilt", "pages", res.Pages, "took", time.Since(start).Round(time.Millisecond))
	if kind == site.StylesheetChange {
		s.hub.send("css", map[string]string{"path": stylesheet})
	} else {
		s.hub.send("reload", map[string]any{"build": s.build, "warnings": s.warnings})
	}
}

// relative names changed files by their path in the project folder.
func (s *Server) relative(files []string) []string {
	root := s.builder.Load().Config().Root
	out := make([]string, 0, len(files))
	for _, f := range files {
		if r, err := filepath.Rel(root, f); err == nil && !strings.HasPrefix(r, "..") {
			f = r
		}
		out = append(out, filepath.ToSlash(f))
	}
	return out
}

// Handler serves the site, the live-reload script and its event stream.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/_rollbook/live.js", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
		w.Header().Set("Cache-Control", "no-cache")
		_, _ = w.Write(liveJS)
	})
	mux.HandleFunc("/_rollbook/events", s.events)
	mux.Handle("/", MemHandler(func() map[string][]byte { return s.builder.Load().Files() }))
	return mux
}

func (s *Server) events(w http.ResponseWriter, r *http.Request) {
	fl, ok := w.(http.Flusher)
	if !ok {
		http.Error(w, "streaming unsupported", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	ch := s.hub.add()
	defer s.hub.remove(ch)
	s.mu.Lock()
	writeEvent(w, "hello", map[string]int{"build": s.build})
	// A tab that connects while the build is broken sees the error at once.
	if s.lastErr != nil {
		writeEvent(w, "build-error", s.lastErr)
	} else if len(s.warnings) > 0 {
		writeEvent(w, "warnings", map[string]any{"warnings": s.warnings})
	}
	s.mu.Unlock()
	fmt.Fprint(w, ": connected\n\n")
	fl.Flush()
	keep := time.NewTicker(15 * time.Second)
	defer keep.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case msg, ok := <-ch:
			if !ok {
				return
			}
			_, _ = w.Write(msg)
			fl.Flush()
		case <-keep.C:
			fmt.Fprint(w, ": keep-alive\n\n")
			fl.Flush()
		}
	}
}

func writeEvent(w http.ResponseWriter, name string, data any) {
	b, _ := json.Marshal(data)
	fmt.Fprintf(w, "event: %s\ndata: %s\n\n", name, b)
}

// hub fans events out to every open tab.
type hub struct {
	mu     sync.Mutex
	subs   map[chan []byte]bool
	closed bool // a closed hub hands out closed channels
}

func newHub() *hub { return &hub{subs: map[chan []byte]bool{}} }

func (h *hub) add() chan []byte {
	ch := make(chan []byte, 8)
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		close(ch)
		return ch
	}
	h.subs[ch] = true
	return ch
}

func (h *hub) remove(ch chan []byte) {
	h.mu.Lock()
	if h.subs[ch] {
		delete(h.subs, ch)
		close(ch)
	}
	h.mu.Unlock()
}

// close ends every subscription, now and to come.
func (h *hub) close() {
	h.mu.Lock()
	h.closed = true
	for ch := range h.subs {
		delete(h.subs, ch)
		close(ch)
	}
	h.mu.Unlock()
}

func (h *hub) send(name string, data any) {
	b, _ := json.Marshal(data)
	msg := []byte(fmt.Sprintf("event: %s\ndata: %s\n\n", name, b))
	h.mu.Lock()
	defer h.mu.Unlock()
	for ch := range h.subs {
		select {
		case ch <- msg:
		default: // a stalled tab misses an event rather than stalling the server
		}
	}
}

// FileHandler serves a built site from dir: index.html for folders, the
// site's 404 page for anything missing, and nothing outside dir.
func FileHandler(dir string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, hidden, ok := requestPath(w, r)
		if !ok {
			return
		}
		if hidden {
			notFound(w, dir)
			return
		}
		clean := path.Clean("/" + p)
		file := filepath.Join(dir, filepath.FromSlash(clean))
		st, err := os.Stat(file)
		if err == nil && st.IsDir() {
			if !strings.HasSuffix(p, "/") {
				http.Redirect(w, r, clean+"/", http.StatusMovedPermanently)
				return
			}
			file = filepath.Join(file, "index.html")
			st, err = os.Stat(file)
		}
		if err != nil || !st.Mode().IsRegular() {
			notFound(w, dir)
			return
		}
		f, err := os.Open(file)
		if err != nil {
			notFound(w, dir)
			return
		}
		defer f.Close()
		// No Last-Modified: two rebuilds within one second would otherwise
		// answer 304 and the tab would keep showing the older page.
		w.Header().Set("Cache-Control", "no-store")
		http.ServeContent(w, r, filepath.Base(file), time.Time{}, f)
	})
}

// requestPath checks a request for a site file: it answers other methods
// and malformed paths itself (ok false), and reports paths with ".." or a
// hidden segment, which the site never serves.
func requestPath(w http.ResponseWriter, r *http.Request) (p string, hidden, ok bool) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return "", false, false
	}
	p = r.URL.Path
	if strings.ContainsAny(p, "\x00\\") {
		http.Error(w, "bad path", http.StatusBadRequest)
		return "", false, false
	}
	for _, seg := range strings.Split(p, "/") {
		if seg == ".." || strings.HasPrefix(seg, ".") && seg != "" {
			return p, true, true
		}
	}
	return p, false, true
}

// MemHandler serves an in-memory build: index.html for folders, the
// site's 404 page for anything missing. Only paths of the build exist, so
// nothing outside the site can be reached.
func MemHandler(files func() map[string][]byte) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, hidden, ok := requestPath(w, r)
		if !ok {
			return
		}
		site := files()
		if hidden {
			memNotFound(w, site)
			return
		}
		clean := strings.TrimPrefix(path.Clean("/"+p), "/")
		name := clean
		data, ok := site[name]
		if !ok {
			idx := strings.TrimSuffix(clean, "/") + "/index.html"
			if clean == "" {
				idx = "index.html"
			}
			if _, isDir := site[idx]; isDir {
				if !strings.HasSuffix(p, "/") {
					http.Redirect(w, r, "/"+clean+"/", http.StatusMovedPermanently)
					return
				}
				name, data, ok = idx, site[idx], true
			}
		}
		if !ok {
			memNotFound(w, site)
			return
		}
		if ct := mime.TypeByExtension(path.Ext(name)); ct != "" {
			w.Header().Set("Content-Type", ct)
		}
		w.Header().Set("Cache-Control", "no-store")
		http.ServeContent(w, r, name, time.Time{}, bytes.NewReader(data))
	})
}

func memNotFound(w http.ResponseWriter, site map[string][]byte) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(http.StatusNotFound)
	if b, ok := site["404.html"]; ok {
		_, _ = w.Write(b)
		return
	}
	_, _ = w.Write([]byte("<!doctype html><title>Not found</title><h1>Not found</h1>"))
}

func notFound(w http.ResponseWriter, dir string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(http.StatusNotFound)
	if b, err := os.ReadFile(filepath.Join(dir, "404.html")); err == nil {
		_, _ = w.Write(b)
		return
	}
	_, _ = w.Write([]byte("<!doctype html><title>Not found</title><h1>Not found</h1>"))
}

func openBrowser(url string) {
	var cmd string
	switch runtime.GOOS {
	case "darwin":
		cmd = "open"
	case "windows":
		cmd = "explorer"
	default:
		cmd = "xdg-open"
	}
	_ = exec.Command(cmd, url).Start()
}
