// Package gitlog owns what rollbook reads from git: when each file of a
// checkout last changed, for the "Last changed" line of every page (one
// git log for the whole tree, however many pages there are), and the
// project as it was at a ref with the files moved since, for check --since.
package gitlog

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// commitMark starts a commit's line in the log output; no file name
// holds it.
const commitMark = "\x1e"

// LastChanged returns, for every file under dir that git has history
// for, the time of the last commit that changed it, keyed by its slash
// path relative to dir. Without git, or outside a checkout, it returns
// an error (callers show no dates then).
func LastChanged(ctx context.Context, dir string) (map[string]time.Time, error) {
	if _, err := exec.LookPath("git"); err != nil {
		return nil, err
	}
	// Newest first, so a file's first appearance is its last change;
	// --relative keeps the paths (and the walk) to dir.
	cmd := exec.CommandContext(ctx, "git", "-c", "core.quotePath=false", "-C", dir,
		"log", "--format="+commitMark+"%ct", "--name-only", "--no-renames", "--relative", "--", ".")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("git log in %s: %w: %s", dir, err, strings.TrimSpace(stderr.String()))
	}
	return parse(out)
}

func parse(out []byte) (map[string]time.Time, error) {
	m := map[string]time.Time{}
	var when time.Time
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if ts, ok := strings.CutPrefix(line, commitMark); ok {
			sec, err := strconv.ParseInt(ts, 10, 64)
			if err != nil {
				return nil, fmt.Errorf("git log: commit time %q: %w", ts, err)
			}
			when = time.Unix(sec, 0).UTC()
			continue
		}
		if line == "" || when.IsZero() {
			continue
		}
		if _, seen := m[line]; !seen {
			m[line] = when
		}
	}
	return m, sc.Err()
}
