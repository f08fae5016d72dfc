package drillenv

import (
	"bytes"
	"context"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/testcontainers/testcontainers-go"
)

// logLines is how much of a container's output a report or an error
// quotes: enough for a stack trace's head or a failed start-up's reason,
// few enough to read at a glance.
const logLines = 20

// LogLines returns the last n lines of the named container's output (a
// release, a dependency, the router): nil when it has none or is not part
// of this drill.
func (e *Env) LogLines(ctx context.Context, name string, n int) []string {
	e.mu.Lock()
	ct := e.containers[name]
	e.mu.Unlock()
	return lastLogLines(ctx, ct, n)
}

// lastLogLines is the one reader of a container's output. It reads with a
// context of its own: it is called on the way out of a failed or
// cancelled start, when the caller's context is already done, and a
// container that never answers must not hold the drill.
func lastLogLines(ctx context.Context, ct *testcontainers.DockerContainer, n int) []string {
	if ct == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 3*time.Second)
	defer cancel()
	rc, err := ct.Logs(ctx)
	if err != nil {
		return nil
	}
	defer rc.Close()
	l := &lastLines{max: n}
	_, _ = io.Copy(l, io.LimitReader(rc, 8<<20))
	return l.lines()
}

// logSuffix is a failed start's error tail: the container's last lines,
// cut to the last maxLogBytes (one line may be a whole JSON document).
func logSuffix(ctx context.Context, ct *testcontainers.DockerContainer) string {
	lines := lastLogLines(ctx, ct, logLines)
	if len(lines) == 0 {
		return ""
	}
	return "\ncontainer log:\n" + tail(strings.Join(lines, "\n"), maxLogBytes)
}

// maxLogBytes bounds the log quoted in an error message.
const maxLogBytes = 1500

// lastLines keeps the last max non-blank lines written to it: a
// container's output, or a build's log (written as the build runs, read
// when it fails).
type lastLines struct {
	mu   sync.Mutex
	max  int
	keep []string
	part []byte
}

func (l *lastLines) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.part = append(l.part, b...)
	for {
		i := bytes.IndexByte(l.part, '\n')
		if i < 0 {
			break
		}
		if line := strings.TrimRight(string(l.part[:i]), "\r"); strings.TrimSpace(line) != "" {
			l.keep = append(l.keep, line)
		}
		l.part = l.part[i+1:]
		if len(l.keep) > l.max {
			l.keep = l.keep[len(l.keep)-l.max:]
		}
	}
	return len(b), nil
}

// lines is what was kept, with a last line that has no newline yet.
func (l *lastLines) lines() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := append([]string(nil), l.keep...)
	if s := strings.TrimSpace(string(l.part)); s != "" {
		out = append(out, s)
		if len(out) > l.max {
			out = out[len(out)-l.max:]
		}
	}
	return out
}

func (l *lastLines) String() string { return strings.Join(l.lines(), "\n") }
