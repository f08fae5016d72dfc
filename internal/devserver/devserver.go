// Package devserver owns `rollbook serve`: it builds the site, serves the
// output on a loopback address and never outside the output folder.
package devserver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/rollbook/rollbook/site"
)

// Options configures the server.
type Options struct {
	Root   string
	Bind   string
	Addr   string
	Drafts bool
	Open   bool
	Poll   time.Duration
	Logger *slog.Logger
	// Ready is called with the site's URL once the server listens.
	Ready func(url string)
}

// Run builds the site and serves it until ctx is done.
func Run(ctx context.Context, opts Options) error {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	b, err := site.New(site.Options{Root: opts.Root, Drafts: opts.Drafts, Logger: log, Force: true})
	if err != nil {
		return err
	}
	if _, err := b.Build(ctx); err != nil {
		if fe, ok := site.IsFindings(err); ok {
			return fmt.Errorf("the site does not build yet:\n%s", fe.Findings.Error())
		}
		return err
	}
	root := b.Config().Path(b.Config().PublicDir)
	ln, err := net.Listen("tcp", opts.Addr)
	if err != nil {
		return fmt.Errorf("listening on %s: %w (is another server using the port? pick one with --port)", opts.Addr, err)
	}
	srv := &http.Server{Handler: FileHandler(root), ReadHeaderTimeout: 5 * time.Second}
	if opts.Ready != nil {
		opts.Ready("http://" + ln.Addr().String() + "/")
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case <-ctx.Done():
		shut, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		return srv.Shutdown(shut)
	case err := <-errc:
		if errors.Is(err, http.ErrServerClosed) {
			return nil
		}
		return err
	}
}

// FileHandler serves a built site from dir: index.html for folders, the
// site's 404 page for anything missing, and nothing outside dir.
func FileHandler(dir string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		p := r.URL.Path
		if strings.Contains(p, "\x00") || strings.Contains(p, "\\") {
			http.Error(w, "bad path", http.StatusBadRequest)
			return
		}
		for _, seg := range strings.Split(p, "/") {
			if seg == ".." || strings.HasPrefix(seg, ".") && seg != "" {
				notFound(w, dir)
				return
			}
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
		w.Header().Set("Cache-Control", "no-cache")
		http.ServeFile(w, r, file)
	})
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
