package site

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/rollbook/rollbook/internal/bench"
)

// BenchmarkBuild builds a synthetic corpus of BENCH_PLANS plans (default
// 1000) from scratch each iteration; run it with -cpuprofile to see where
// a cold build's time goes. `make bench` runs the full 10 000-plan
// comparison with Hugo.

func BenchmarkBuild(b *testing.B) {
	dir := b.TempDir()
	if err := bench.Generate(dir, bench.Plans(1000), 1); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := Build(context.Background(), Options{Root: dir, Now: testNow, Force: true}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSearchShare measures what the search index adds to a cold
// build of BENCH_PLANS plans (default 10 000): five builds with it and five
// without, alternated so the disk's mood hits both alike, compared by
// their medians and by their best runs (wall time on a shared machine
// has outliers of several seconds). The same is measured for builds in
// memory (rollbook serve), which leave the disk out.
func BenchmarkSearchShare(b *testing.B) {
	dir := b.TempDir()
	if err := bench.Generate(dir, bench.Plans(10000), 1); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		for _, memory := range []bool{false, true} {
			var with, without []float64
			for i := 0; i < 5; i++ {
				for _, skip := range []bool{false, true} {
					start := time.Now()
					if _, err := Build(context.Background(), Options{Root: dir, Now: testNow, Force: true, Memory: memory, noSearch: skip}); err != nil {
						b.Fatal(err)
					}
					if skip {
						without = append(without, time.Since(start).Seconds())
					} else {
						with = append(with, time.Since(start).Seconds())
					}
				}
			}
			slices.Sort(with)
			slices.Sort(without)
			unit := ""
			if memory {
				unit = "-memory"
			}
			mw, mo := with[len(with)/2], without[len(without)/2]
			b.ReportMetric(mw, "s-with-index-median"+unit)
			b.ReportMetric(mo, "s-without-median"+unit)
			b.ReportMetric(100*(mw-mo)/mo, "%-added-median"+unit)
			b.ReportMetric(100*(with[0]-without[0])/without[0], "%-added-best"+unit)
		}
	}
}

// updateBench builds an in-memory site of BENCH_PLANS plans (default
// 1000), as rollbook serve holds it, and returns it with the file and
// source of one of its plans.
func updateBench(b *testing.B) (*Builder, string, []byte) {
	b.Helper()
	dir := b.TempDir()
	if err := bench.Generate(dir, bench.Plans(1000), 1); err != nil {
		b.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "content", "*", "plan-00000.md"))
	orig, err := os.ReadFile(files[0])
	if err != nil {
		b.Fatal(err)
	}
	bl, err := New(Options{Root: dir, Now: testNow, Memory: true, Force: true, Dev: true})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := bl.Build(context.Background()); err != nil {
		b.Fatal(err)
	}
	return bl, files[0], orig
}

// BenchmarkUpdateSave applies one save of a plan to an in-memory site of
// BENCH_PLANS plans (default 1000), as rollbook serve does; run it with
// -cpuprofile to see where a save's time goes.
func BenchmarkUpdateSave(b *testing.B) {
	bl, file, orig := updateBench(b)
	i := 0
	for b.Loop() {
		i++
		if err := os.WriteFile(file, fmt.Appendf(bytes.Clone(orig), "\nEdit %d.\n", i), 0o644); err != nil {
			b.Fatal(err)
		}
		if _, err := bl.Update(context.Background(), []string{file}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkUpdateNewPlan adds one new plan to an in-memory site of
// BENCH_PLANS plans (default 1000) per iteration, as rollbook serve does.
func BenchmarkUpdateNewPlan(b *testing.B) {
	bl, file, orig := updateBench(b)
	i := 0
	for b.Loop() {
		i++
		name := filepath.Join(filepath.Dir(file), fmt.Sprintf("new-%d.md", i))
		if err := os.WriteFile(name, orig, 0o644); err != nil {
			b.Fatal(err)
		}
		if _, err := bl.Update(context.Background(), []string{name}); err != nil {
			b.Fatal(err)
		}
	}
}
