package site

import (
	"context"
	"fmt"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rollbook/rollbook/internal/bench"
)

// linkCorpus generates BENCH_PLANS plans (default 10 000) and gives each
// plan three links with a fragment to other plans' headings, one to its
// own, and one external link to ext (when not ""), so the checks have
// links to check.
func linkCorpus(b *testing.B, ext string) (dir string, links int) {
	b.Helper()
	dir = b.TempDir()
	if err := bench.Generate(dir, bench.Plans(10000), 1); err != nil {
		b.Fatal(err)
	}
	content := filepath.Join(dir, "content")
	var plans []string
	err := filepath.WalkDir(content, func(p string, d fs.DirEntry, err error) error {
		if err == nil && strings.HasPrefix(d.Name(), "plan-") {
			plans = append(plans, p)
		}
		return err
	})
	if err != nil {
		b.Fatal(err)
	}
	slices.Sort(plans)
	for i, p := range plans {
		var add strings.Builder
		add.WriteString("\n## See also\n\n")
		for _, k := range []int{1, 7, 131} {
			to := plans[(i+k)%len(plans)]
			rel, _ := filepath.Rel(filepath.Dir(p), to)
			fmt.Fprintf(&add, "- [rollout of %d](%s#panel-steps) and its [see also](%s#see-also)\n", (i+k)%len(plans), filepath.ToSlash(rel), filepath.ToSlash(rel))
			links += 2
		}
		add.WriteString("- [back to the top](#see-also)\n")
		links++
		if ext != "" {
			fmt.Fprintf(&add, "- [dashboard](%s/d/%d)\n", ext, i)
		}
		f, err := os.OpenFile(p, os.O_APPEND|os.O_WRONLY, 0)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := f.WriteString(add.String()); err != nil {
			b.Fatal(err)
		}
		f.Close()
	}
	return dir, links
}

func medianOf(xs []float64) float64 {
	slices.Sort(xs)
	return xs[len(xs)/2]
}

// BenchmarkLinkChecks measures what each link check adds to a build or
// check of BENCH_PLANS plans (default 10 000), each with seven fragment
// links and one external link to a local server. Each pass is timed by
// itself on a site loaded and rendered once (medians of three), so the
// figures are the checks' own, not the noise of whole builds on a shared
// machine; a cold build of the same corpus is timed beside them. The
// passes: the fragment check (every page's and runbook_url's fragments);
// check --since HEAD on a git checkout of the corpus (the project exported
// at the ref and laid out again); check --external, every URL requested
// (two at a time per host), then every result from the cache. Run:
//
//	BENCH_PLANS=10000 go test ./site -run '^$' -bench LinkChecks -benchtime 1x
func BenchmarkLinkChecks(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	dir, links := linkCorpus(b, srv.URL)
	git := func(args ...string) {
		cmd := exec.Command("git", append([]string{"-C", dir}, args...)...)
		cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.com", "GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1")
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	git("init", "-q")
	git("add", ".")
	git("commit", "-qm", "corpus")
	ctx := context.Background()
	timed := func(n int, f func()) float64 {
		var ts []float64
		for range n {
			start := time.Now()
			f()
			ts = append(ts, time.Since(start).Seconds())
		}
		return medianOf(ts)
	}
	for b.Loop() {
		build := timed(1, func() {
			if _, err := Build(ctx, Options{Root: dir, OutDir: filepath.Join(b.TempDir(), "public"), Now: testNow, Force: true}); err != nil {
				b.Fatal(err)
			}
		})
		bl, err := New(Options{Root: dir, Now: testNow, CacheDir: b.TempDir()})
		if err != nil {
			b.Fatal(err)
		}
		s, err := bl.load(ctx, nil)
		if err != nil {
			b.Fatal(err)
		}
		if err := bl.renderPages(ctx, s, true); err != nil {
			b.Fatal(err)
		}
		anchors := timed(3, func() {
			if ds := bl.checkAnchors(s, s.pages, s.page); len(ds) != 0 {
				b.Fatalf("the corpus has broken anchors: %v", ds[0])
			}
		})
		since := timed(3, func() {
			ds, err := bl.checkSince(ctx, s, "HEAD")
			if err != nil || len(ds) != 0 {
				b.Fatalf("check --since HEAD: %v %v", err, ds)
			}
		})
		external := func() {
			for _, f := range bl.checkExternal(ctx, s) {
				b.Fatalf("check --external: %v", f)
			}
		}
		bl.opts.External = &External{}
		cold := timed(1, external)
		cached := timed(3, external)
		b.ReportMetric(float64(links), "fragment-links")
		b.ReportMetric(build, "s-cold-build")
		b.ReportMetric(anchors*1000, "ms-anchors")
		b.ReportMetric(since*1000, "ms-since")
		b.ReportMetric(cold*1000, "ms-external-cold")
		b.ReportMetric(cached*1000, "ms-external-cached")
	}
}
