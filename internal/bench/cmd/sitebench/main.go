// Command sitebench measures rollbook against Hugo on one synthetic corpus
// of N plans (same Markdown; Hugo gets a minimal layout), in one run: a
// cold build, a CI build from a fresh checkout with the build cache
// restored and one plan changed, an unchanged rebuild, the floor (cp -r
// of the built site), the start of the live preview, and a save, a new
// plan and a deleted plan in it (write to reload event). Runs of the two
// tools alternate so that the shared machine's load hits both alike; the
// table gives medians and ratios, with the load average they were
// measured under.
//
// Nothing is deleted until the end: what a run leaves is moved aside
// instead. A CI job starts on a fresh disk, and on some file systems
// (ext4 without a journal, as on many cloud VMs) the inode allocator
// steps over every inode freed in the last minutes, one lookup each, so
// a build just after ten thousand files were deleted pays seconds of
// system time for deletions that were the bench's own, not the build's.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/rollbook/rollbook/internal/bench"
)

// run is one measured process.
type run struct {
	wall time.Duration
	cpu  time.Duration // user + system
	rss  int64         // KiB
}

// measure runs one command and measures it. The disk is synced first so
// that the writeback of what earlier runs and copies wrote (gigabytes, on
// this corpus) does not land on this run, for either tool.
func measure(dir string, env []string, name string, args ...string) (run, error) {
	syscall.Sync()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	err := cmd.Run()
	wall := time.Since(start)
	if err != nil {
		return run{}, fmt.Errorf("%s %s: %v\n%s", name, strings.Join(args, " "), err, tail(out.String()))
	}
	ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	return run{wall: wall, cpu: time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), rss: ru.Maxrss}, nil
}

func tail(s string) string {
	if len(s) > 2000 {
		return s[len(s)-2000:]
	}
	return s
}

// figure is one row of the table: rollbook's and Hugo's runs.
type figure struct {
	name     string
	rb, hugo []run
	target   string
}

func median(rs []run, f func(run) time.Duration) time.Duration {
	ds := make([]time.Duration, len(rs))
	for i, r := range rs {
		ds[i] = f(r)
	}
	slices.Sort(ds)
	return ds[len(ds)/2]
}

func maxRSS(rs []run) int64 {
	var m int64
	for _, r := range rs {
		m = max(m, r.rss)
	}
	return m
}

type config struct {
	rollbook, hugo string
	dir            string
	runs           int
	// trash receives what runs leave (see the package comment).
	trash string
}

// discard moves p, if it exists, into the trash.
func (c config) discard(p string) error {
	if _, err := os.Lstat(p); os.IsNotExist(err) {
		return nil
	}
	dst, err := os.MkdirTemp(c.trash, "run-")
	if err != nil {
		return err
	}
	return os.Rename(p, filepath.Join(dst, filepath.Base(p)))
}

func main() {
	n := flag.Int("n", 10000, "number of plans")
	bin := flag.String("rollbook", "bin/rollbook", "rollbook binary")
	runs := flag.Int("runs", 3, "alternated runs of each build figure (medians are reported)")
	saves := flag.Int("saves", 20, "saves, new plans and deletions measured in the live preview")
	keep := flag.Bool("keep", false, "keep the corpus folder")
	flag.Parse()
	rb, err := filepath.Abs(*bin)
	if err != nil {
		fail(err)
	}
	hugo, err := exec.LookPath("hugo")
	if err != nil {
		fail(fmt.Errorf("hugo is not installed (apt-get install hugo): nothing to compare with"))
	}
	dir, err := os.MkdirTemp("", "rollbook-bench-")
	if err != nil {
		fail(err)
	}
	if !*keep {
		defer os.RemoveAll(dir)
	}
	fmt.Printf("corpus: %d plans in %s, %d alternated runs, rollbook %s, %s\n", *n, dir, *runs, rb, hugoVersion(hugo))
	fmt.Printf("load average at the start: %s\n", loadAverage())
	c := config{rollbook: rb, hugo: hugo, dir: filepath.Join(dir, "site"), runs: *runs, trash: filepath.Join(dir, "trash")}
	if err := os.Mkdir(c.trash, 0o755); err != nil {
		fail(err)
	}
	if err := bench.Generate(c.dir, *n, 1); err != nil {
		fail(err)
	}
	if err := bench.HugoSite(c.dir); err != nil {
		fail(err)
	}
	var table []figure
	cold, err := c.cold()
	if err != nil {
		fail(err)
	}
	table = append(table, cold)
	ci, err := c.cachedCI(dir)
	if err != nil {
		fail(err)
	}
	// The target is a fraction of Hugo's cold build, measured above.
	ci.hugo = cold.hugo
	table = append(table, ci)
	unchanged, err := c.unchanged()
	if err != nil {
		fail(err)
	}
	table = append(table, unchanged)
	floor, err := c.floor()
	if err != nil {
		fail(err)
	}
	floor.hugo = cold.hugo
	table = append(table, floor)
	printTable(table)
	fmt.Printf("load average after the builds: %s\n", loadAverage())
	serve, err := c.serve(*saves)
	if err != nil {
		fail(err)
	}
	printLatencies(serve)
	fmt.Printf("load average at the end: %s\n", loadAverage())
}

// loadAverage is the machine's 1, 5 and 15 minute load averages: on a
// shared machine, what a run's figures are read with.
func loadAverage() string {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	return strings.Join(strings.Fields(string(data))[:3], " ")
}

// floor copies rollbook's built site with cp -r, the least any build
// writing that many files could take on this disk; its ratio is to
// Hugo's cold build, as the CI figure's.
func (c config) floor() (figure, error) {
	f := figure{name: "floor: cp -r public"}
	for i := 0; i < c.runs; i++ {
		dst, err := os.MkdirTemp(c.trash, "floor-")
		if err != nil {
			return f, err
		}
		r, err := measure(c.dir, nil, "cp", "-r", "public", filepath.Join(dst, "public"))
		if err != nil {
			return f, err
		}
		f.rb = append(f.rb, r)
	}
	return f, nil
}

// cacheEnv points rollbook at a build cache folder.
func cacheEnv(dir string) []string { return []string{"ROLLBOOK_CACHE=" + dir} }

// cold builds from nothing: no output, no build cache.
func (c config) cold() (figure, error) {
	f := figure{name: "cold build", target: "<= 0.5"}
	cache := filepath.Join(c.dir, "..", "cache")
	for i := 0; i < c.runs; i++ {
		for _, p := range []string{filepath.Join(c.dir, "public"), filepath.Join(c.dir, "hugo-public"), cache} {
			if err := c.discard(p); err != nil {
				return f, err
			}
		}
		r, err := measure(c.dir, cacheEnv(cache), c.rollbook, "build")
		if err != nil {
			return f, err
		}
		h, err := measure(c.dir, nil, c.hugo, "--quiet", "-d", "hugo-public")
		if err != nil {
			return f, err
		}
		f.rb, f.hugo = append(f.rb, r), append(f.hugo, h)
	}
	return f, nil
}

// cachedCI builds a fresh copy of the sources (new file times, no output)
// with the build cache of the last cold build restored and one plan
// changed, as a CI job does; Hugo's figure is its cold build (the cold
// figure's runs). The output must be byte-identical to a cold build of
// the same sources.
func (c config) cachedCI(tmp string) (figure, error) {
	f := figure{name: "CI: restored cache, 1 plan changed", target: "<= 0.1"}
	saved := filepath.Join(tmp, "cache")
	for i := 0; i < c.runs; i++ {
		co := filepath.Join(tmp, fmt.Sprintf("checkout-%d", i))
		if err := copyTree(filepath.Join(c.dir, "content"), filepath.Join(co, "content")); err != nil {
			return f, err
		}
		if err := copyTree(filepath.Join(c.dir, "rollbook.yaml"), filepath.Join(co, "rollbook.yaml")); err != nil {
			return f, err
		}
		plan := firstPlan(co)
		if err := appendFile(plan, fmt.Sprintf("\n## CI change %d\n\nOne more line.\n", i)); err != nil {
			return f, err
		}
		restored := filepath.Join(tmp, fmt.Sprintf("cache-%d", i))
		if err := copyTree(saved, restored); err != nil {
			return f, err
		}
		r, err := measure(co, cacheEnv(restored), c.rollbook, "build")
		if err != nil {
			return f, err
		}
		f.rb = append(f.rb, r)
		if i == 0 {
			empty := filepath.Join(tmp, "cache-empty")
			if _, err := measure(co, cacheEnv(empty), c.rollbook, "build", "--out", "public-cold"); err != nil {
				return f, err
			}
			if err := sameTree(filepath.Join(co, "public"), filepath.Join(co, "public-cold")); err != nil {
				return f, fmt.Errorf("the cached CI build differs from a cold build: %w", err)
			}
			fmt.Println("CI build with the restored cache is byte-identical to a cold build")
			if err := c.discard(empty); err != nil {
				return f, err
			}
		}
		for _, p := range []string{co, restored} {
			if err := c.discard(p); err != nil {
				return f, err
			}
		}
	}
	return f, nil
}

// unchanged builds again with nothing changed; Hugo has no such check and
// builds again over its output.
func (c config) unchanged() (figure, error) {
	f := figure{name: "unchanged rebuild", target: "<= 0.1"}
	cache := filepath.Join(c.dir, "..", "cache")
	for i := 0; i < c.runs; i++ {
		r, err := measure(c.dir, cacheEnv(cache), c.rollbook, "build")
		if err != nil {
			return f, err
		}
		h, err := measure(c.dir, nil, c.hugo, "--quiet", "-d", "hugo-public")
		if err != nil {
			return f, err
		}
		f.rb, f.hugo = append(f.rb, r), append(f.hugo, h)
	}
	return f, nil
}

func printTable(table []figure) {
	fmt.Printf("\n%-36s %10s %10s %7s   %10s %10s %7s   %s\n", "figure (median)", "rollbook", "hugo", "ratio", "rb CPU", "hugo CPU", "ratio", "target")
	wall := func(r run) time.Duration { return r.wall }
	cpu := func(r run) time.Duration { return r.cpu }
	for _, f := range table {
		rw, hw := median(f.rb, wall), median(f.hugo, wall)
		rc, hc := median(f.rb, cpu), median(f.hugo, cpu)
		fmt.Printf("%-36s %10s %10s %7.3f   %10s %10s %7.3f   %s\n", f.name, rw.Round(time.Millisecond), hw.Round(time.Millisecond), rw.Seconds()/hw.Seconds(),
			rc.Round(time.Millisecond), hc.Round(time.Millisecond), rc.Seconds()/hc.Seconds(), f.target)
	}
	// Each run, so that a median's spread shows.
	for _, f := range table {
		fmt.Printf("  %s, each run (rollbook / hugo, wall):", f.name)
		for i := range f.rb {
			h := time.Duration(0)
			if i < len(f.hugo) {
				h = f.hugo[i].wall
			}
			fmt.Printf(" %s / %s", f.rb[i].wall.Round(time.Millisecond), h.Round(time.Millisecond))
		}
		fmt.Println()
	}
	cold := table[0]
	fmt.Printf("%-36s %7d MiB %6d MiB %7.3f   %s\n", "peak RSS, cold build", maxRSS(cold.rb)/1024, maxRSS(cold.hugo)/1024, float64(maxRSS(cold.rb))/float64(maxRSS(cold.hugo)), "<= 1")
}

func hugoVersion(hugo string) string {
	out, err := exec.Command(hugo, "version").Output()
	if err != nil {
		return "hugo (version unknown)"
	}
	return strings.Fields(string(out))[0] + " " + strings.Fields(string(out))[1]
}

// firstPlan is the plan a changed-plan figure edits.
func firstPlan(root string) string {
	files, _ := filepath.Glob(filepath.Join(root, "content", "*", "plan-00000.md"))
	if len(files) == 0 {
		fail(fmt.Errorf("no plan-00000.md under %s", root))
	}
	return files[0]
}

func appendFile(name, text string) error {
	f, err := os.OpenFile(name, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	if _, err := f.WriteString(text); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// copyTree copies a file or a folder (a missing source copies nothing).
func copyTree(src, dst string) error {
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if os.IsNotExist(err) && p == src {
				return nil
			}
			return err
		}
		rel, _ := filepath.Rel(src, p)
		to := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(to, 0o755)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
			return err
		}
		return os.WriteFile(to, data, 0o644)
	})
}

// sameTree reports the first file that differs between two folders.
func sameTree(a, b string) error {
	seen := map[string]bool{}
	err := filepath.WalkDir(a, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(a, p)
		seen[rel] = true
		x, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		y, err := os.ReadFile(filepath.Join(b, rel))
		if err != nil {
			return fmt.Errorf("%s: only in %s", rel, a)
		}
		if !bytes.Equal(x, y) {
			return fmt.Errorf("%s differs", rel)
		}
		return nil
	})
	if err != nil {
		return err
	}
	return filepath.WalkDir(b, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(b, p)
		if !seen[rel] {
			return fmt.Errorf("%s: only in %s", rel, b)
		}
		return nil
	})
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "sitebench:", err)
	os.Exit(1)
}
