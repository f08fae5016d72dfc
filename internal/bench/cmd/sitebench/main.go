// Command sitebench builds a synthetic corpus of N plans with rollbook and,
// where it is installed, with Hugo (same Markdown, a minimal layout), in one
// run, and prints wall time, peak RSS and the ratios.
package main

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/rollbook/rollbook/internal/bench"
)

type run struct {
	wall time.Duration
	rss  int64 // KiB
}

func measure(dir string, name string, args ...string) (run, error) {
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	out, err := os.CreateTemp("", "sitebench-*.log")
	if err != nil {
		return run{}, err
	}
	defer os.Remove(out.Name())
	cmd.Stdout, cmd.Stderr = out, out
	start := time.Now()
	err = cmd.Run()
	wall := time.Since(start)
	if err != nil {
		log, _ := os.ReadFile(out.Name())
		return run{}, fmt.Errorf("%s %s: %v\n%s", name, strings.Join(args, " "), err, tail(string(log)))
	}
	ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	return run{wall: wall, rss: ru.Maxrss}, nil
}

func tail(s string) string {
	if len(s) > 2000 {
		return s[len(s)-2000:]
	}
	return s
}

func main() {
	n := flag.Int("n", 10000, "number of plans")
	bin := flag.String("rollbook", "bin/rollbook", "rollbook binary")
	keep := flag.Bool("keep", false, "keep the corpus folder")
	flag.Parse()
	rb, err := filepath.Abs(*bin)
	if err != nil {
		fail(err)
	}
	dir, err := os.MkdirTemp("", "rollbook-bench-")
	if err != nil {
		fail(err)
	}
	if !*keep {
		defer os.RemoveAll(dir)
	}
	fmt.Printf("corpus: %d plans in %s\n", *n, dir)
	if err := bench.Generate(dir, *n, 1); err != nil {
		fail(err)
	}
	cold, err := measure(dir, rb, "build", "--force")
	if err != nil {
		fail(err)
	}
	if err := os.RemoveAll(filepath.Join(dir, "public")); err != nil {
		fail(err)
	}
	cold, err = measure(dir, rb, "build")
	if err != nil {
		fail(err)
	}
	warm, err := measure(dir, rb, "build")
	if err != nil {
		fail(err)
	}
	fmt.Printf("%-28s %10s %12s\n", "", "wall", "peak RSS")
	fmt.Printf("%-28s %10s %9d MiB\n", "rollbook cold build", cold.wall.Round(time.Millisecond), cold.rss/1024)
	fmt.Printf("%-28s %10s %9d MiB\n", "rollbook unchanged rebuild", warm.wall.Round(time.Millisecond), warm.rss/1024)
	hugo, err := exec.LookPath("hugo")
	if err != nil {
		fmt.Println("hugo not installed (apt-get install hugo): no comparison")
		return
	}
	if err := bench.HugoSite(dir); err != nil {
		fail(err)
	}
	hcold, err := measure(dir, hugo, "--quiet", "-d", "hugo-public")
	if err != nil {
		fail(err)
	}
	_ = os.RemoveAll(filepath.Join(dir, "hugo-public"))
	hcold, err = measure(dir, hugo, "--quiet", "-d", "hugo-public")
	if err != nil {
		fail(err)
	}
	hwarm, err := measure(dir, hugo, "--quiet", "-d", "hugo-public")
	if err != nil {
		fail(err)
	}
	fmt.Printf("%-28s %10s %9d MiB\n", "hugo cold build", hcold.wall.Round(time.Millisecond), hcold.rss/1024)
	fmt.Printf("%-28s %10s %9d MiB\n", "hugo unchanged rebuild", hwarm.wall.Round(time.Millisecond), hwarm.rss/1024)
	fmt.Printf("ratio cold wall rollbook/hugo:     %.2f (target <= 0.5)\n", cold.wall.Seconds()/hcold.wall.Seconds())
	fmt.Printf("ratio cold peak RSS rollbook/hugo: %.2f (target <= 1)\n", float64(cold.rss)/float64(hcold.rss))
	fmt.Printf("ratio unchanged rebuild / hugo cold: %.3f (target <= 0.1)\n", warm.wall.Seconds()/hcold.wall.Seconds())
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "sitebench:", err)
	os.Exit(1)
}
