package devserver

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/rollbook/rollbook/internal/bench"
)

// reloadLatency measures, n times, the time from writing a plan to the
// reload event leaving the server, and returns the sorted durations.
func reloadLatency(b *testing.B, root, file string, n int) []time.Duration {
	orig, err := os.ReadFile(file)
	if err != nil {
		b.Fatal(err)
	}
	return writeLatency(b, root, n, func(i int) (string, []byte) {
		return file, append(append([]byte{}, orig...), fmt.Sprintf("\nEdit %d.\n", i)...)
	})
}

// writeLatency serves root and measures, n times, the time from writing
// next(i)'s file (deleting it when next gives no bytes) to the reload
// event leaving the server; it returns the durations sorted.
func writeLatency(b *testing.B, root string, n int, next func(i int) (string, []byte)) []time.Duration {
	s, err := New(Options{Root: root})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = s.Watch(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	// A write before the watches are in place is never seen: on a loaded
	// machine that is more than any fixed wait.
	select {
	case <-s.watching:
	case <-time.After(time.Minute):
		b.Fatal("the server did not start watching its sources")
	}
	ch := s.hub.add()
	defer s.hub.remove(ch)
	var out []time.Duration
	for i := 0; i < n; i++ {
		file, data := next(i)
		start := time.Now()
		write := func() error { return os.WriteFile(file, data, 0o644) }
		if data == nil {
			write = func() error { return os.Remove(file) }
		}
		if err := write(); err != nil {
			b.Fatal(err)
		}
		for {
			msg := <-ch
			if strings.HasPrefix(string(msg), "event: reload") {
				break
			}
			if strings.HasPrefix(string(msg), "event: build-error") {
				b.Fatalf("the site does not build: %s", msg)
			}
		}
		out = append(out, time.Since(start))
		time.Sleep(20 * time.Millisecond)
	}
	if os.Getenv("BENCH_VERBOSE") != "" {
		b.Logf("write to reload: %v", out)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// syntheticSite generates a corpus of BENCH_PLANS plans (default 1000)
// and returns its folder and its first plan.
func syntheticSite(b *testing.B) (root, plan string) {
	root = b.TempDir()
	if err := bench.Generate(root, bench.Plans(1000), 1); err != nil {
		b.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(root, "content", "*", "plan-00000.md"))
	if len(files) == 0 {
		b.Fatal("no plan")
	}
	return root, files[0]
}

func report(b *testing.B, ds []time.Duration) {
	p50 := bench.Percentile(ds, 50)
	p95 := bench.Percentile(ds, 95)
	b.ReportMetric(float64(p50.Microseconds())/1000, "ms-p50")
	b.ReportMetric(float64(p95.Microseconds())/1000, "ms-p95")
}

// BenchmarkReloadExample: write → reload event on the example content.
func BenchmarkReloadExample(b *testing.B) {
	root := b.TempDir()
	// The example project: its plans drill the example service, built
	// from its folder, and its configuration names the alert rules.
	for _, p := range []string{"content", "cmd/example-orders", "rollbook.yaml"} {
		if err := copyDir(filepath.Join("../..", p), filepath.Join(root, p)); err != nil {
			b.Fatal(err)
		}
	}
	for b.Loop() {
		report(b, reloadLatency(b, root, filepath.Join(root, "content", "payments", "fraud-threshold-flip.md"), 40))
	}
}

// BenchmarkReloadSynthetic: the same on a synthetic site of BENCH_PLANS
// plans (default 1000; `make bench` uses 10 000).
func BenchmarkReloadSynthetic(b *testing.B) {
	root, plan := syntheticSite(b)
	for b.Loop() {
		report(b, reloadLatency(b, root, plan, 40))
	}
}

func copyDir(src, dst string) error {
	return filepath.Walk(src, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if info.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), data, 0o644)
	})
}

// BenchmarkNewPlanSynthetic: creating a plan file → reload event, on a
// synthetic site of BENCH_PLANS plans (default 1000).
func BenchmarkNewPlanSynthetic(b *testing.B) {
	root, plan := syntheticSite(b)
	tmpl, err := os.ReadFile(plan)
	if err != nil {
		b.Fatal(err)
	}
	run := 0
	for b.Loop() {
		run++
		report(b, writeLatency(b, root, 20, func(i int) (string, []byte) {
			return filepath.Join(filepath.Dir(plan), fmt.Sprintf("new-%d-%d.md", run, i)), tmpl
		}))
	}
}

// BenchmarkDeletePlanSynthetic: deleting a plan file → reload event, on a
// synthetic site of BENCH_PLANS plans (default 1000).
func BenchmarkDeletePlanSynthetic(b *testing.B) {
	root, plan := syntheticSite(b)
	tmpl, err := os.ReadFile(plan)
	if err != nil {
		b.Fatal(err)
	}
	const n = 20
	name := func(i int) string { return filepath.Join(filepath.Dir(plan), fmt.Sprintf("doomed-%d.md", i)) }
	for b.Loop() {
		b.StopTimer()
		for i := range n {
			if err := os.WriteFile(name(i), tmpl, 0o644); err != nil {
				b.Fatal(err)
			}
		}
		b.StartTimer()
		report(b, writeLatency(b, root, n, func(i int) (string, []byte) { return name(i), nil }))
	}
}
