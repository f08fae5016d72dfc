package main

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/coder/websocket"

	"github.com/rollbook/rollbook/internal/bench"
)

// server is a running live preview: rollbook serve or hugo server.
type server struct {
	name   string
	cmd    *exec.Cmd
	cancel context.CancelFunc
	start  time.Duration // process start to "serving"
	events chan string   // reload events as they reach the client
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// startServer runs the command and waits for the line saying it serves.
func startServer(name, dir string, env []string, ready string, bin string, args ...string) (*server, error) {
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		cancel()
		return nil, err
	}
	cmd.Stderr = cmd.Stdout
	begin := time.Now()
	if err := cmd.Start(); err != nil {
		cancel()
		return nil, err
	}
	up := make(chan time.Duration, 1)
	var log strings.Builder
	go func() {
		sc := bufio.NewScanner(out)
		said := false
		for sc.Scan() {
			if !said && strings.Contains(sc.Text(), ready) {
				said = true
				up <- time.Since(begin)
			}
			if log.Len() < 4000 {
				log.WriteString(sc.Text() + "\n")
			}
		}
		close(up)
	}()
	s := &server{name: name, cmd: cmd, cancel: cancel, events: make(chan string, 64)}
	select {
	case d, ok := <-up:
		if !ok {
			s.stop()
			return nil, fmt.Errorf("%s exited before serving:\n%s", name, log.String())
		}
		s.start = d
	case <-time.After(10 * time.Minute):
		s.stop()
		return nil, fmt.Errorf("%s did not start in 10 minutes", name)
	}
	return s, nil
}

func (s *server) stop() {
	s.cancel()
	_ = s.cmd.Wait()
}

// rollbookEvents follows rollbook's Server-Sent Events.
func (s *server) rollbookEvents(port int) error {
	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/_rollbook/events", port))
	if err != nil {
		return err
	}
	go func() {
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 1<<20), 1<<24)
		for sc.Scan() {
			if strings.HasPrefix(sc.Text(), "event: reload") {
				s.events <- "reload"
			}
		}
	}()
	return nil
}

// hugoEvents follows Hugo's livereload WebSocket, as its page script does.
func (s *server) hugoEvents(port int) error {
	ctx := context.Background()
	conn, _, err := websocket.Dial(ctx, fmt.Sprintf("ws://127.0.0.1:%d/livereload", port), nil)
	if err != nil {
		return err
	}
	conn.SetReadLimit(1 << 20)
	if err := conn.Write(ctx, websocket.MessageText, []byte(`{"command":"hello","protocols":["http://livereload.com/protocols/official-7"]}`)); err != nil {
		return err
	}
	go func() {
		defer conn.CloseNow()
		for {
			_, data, err := conn.Read(ctx)
			if err != nil {
				return
			}
			if strings.Contains(string(data), `"reload"`) {
				s.events <- "reload"
			}
		}
	}()
	return nil
}

// latency writes (or deletes) a file and waits for the reload event.
func (s *server) latency(write func() error, settle time.Duration) (time.Duration, error) {
	for len(s.events) > 0 {
		<-s.events
	}
	begin := time.Now()
	if err := write(); err != nil {
		return 0, err
	}
	select {
	case <-s.events:
	case <-time.After(2 * time.Minute):
		return 0, fmt.Errorf("%s sent no reload within 2 minutes", s.name)
	}
	d := time.Since(begin)
	time.Sleep(settle)
	return d, nil
}

// latencies are one tool's live-preview figures.
type latencies struct {
	start              []time.Duration
	save, create, drop []time.Duration
}

// serve starts each tool's live preview (alternated), then measures
// saves, new plans and deletions.
func (c config) serve(n int) ([2]latencies, error) {
	var out [2]latencies
	cache := filepath.Join(c.dir, "..", "cache")
	plan := firstPlan(c.dir)
	orig, err := os.ReadFile(plan)
	if err != nil {
		return out, err
	}
	defer os.WriteFile(plan, orig, 0o644) //nolint:errcheck // best effort
	for i := 0; i < c.runs; i++ {
		for tool := 0; tool < 2; tool++ {
			s, port, err := c.startTool(tool, cache)
			if err != nil {
				return out, err
			}
			out[tool].start = append(out[tool].start, s.start)
			if i == c.runs-1 {
				err = c.edits(s, tool, port, plan, orig, n, &out[tool])
			}
			s.stop()
			if err != nil {
				return out, err
			}
		}
	}
	return out, nil
}

func (c config) startTool(tool int, cache string) (*server, int, error) {
	port, err := freePort()
	if err != nil {
		return nil, 0, err
	}
	if tool == 0 {
		s, err := startServer("rollbook serve", c.dir, cacheEnv(cache), "serving", c.rollbook, "serve", "--port", fmt.Sprint(port))
		if err != nil {
			return nil, 0, err
		}
		return s, port, s.rollbookEvents(port)
	}
	s, err := startServer("hugo server", c.dir, nil, "Web Server is available", c.hugo, "server", "--bind", "127.0.0.1", "--port", fmt.Sprint(port), "--disableLiveReload=false")
	if err != nil {
		return nil, 0, err
	}
	return s, port, s.hugoEvents(port)
}

func (c config) edits(s *server, tool, port int, plan string, orig []byte, n int, l *latencies) error {
	// Hugo batches file events for a moment; waiting past that keeps one
	// save from being folded into the next.
	settle := 50 * time.Millisecond
	if tool == 1 {
		settle = 300 * time.Millisecond
	}
	time.Sleep(500 * time.Millisecond)
	for i := 0; i < n; i++ {
		d, err := s.latency(func() error {
			return os.WriteFile(plan, append(append([]byte{}, orig...), fmt.Sprintf("\nEdit %d of %s.\n", i, s.name)...), 0o644)
		}, settle)
		if err != nil {
			return err
		}
		l.save = append(l.save, d)
	}
	dir := filepath.Dir(plan)
	for i := 0; i < n; i++ {
		name := filepath.Join(dir, fmt.Sprintf("bench-new-%d-%d.md", tool, i))
		d, err := s.latency(func() error { return os.WriteFile(name, orig, 0o644) }, settle)
		if err != nil {
			return err
		}
		l.create = append(l.create, d)
	}
	for i := 0; i < n; i++ {
		name := filepath.Join(dir, fmt.Sprintf("bench-new-%d-%d.md", tool, i))
		d, err := s.latency(func() error { return os.Remove(name) }, settle)
		if err != nil {
			return err
		}
		l.drop = append(l.drop, d)
	}
	return nil
}

func printLatencies(l [2]latencies) {
	fmt.Printf("\n%-36s %10s %10s %7s   %s\n", "live preview", "rollbook", "hugo", "ratio", "target")
	row := func(name string, p int, rb, hg []time.Duration, target string) {
		r, h := bench.Percentile(rb, p), bench.Percentile(hg, p)
		fmt.Printf("%-36s %10s %10s %7.3f   %s\n", name, r.Round(time.Millisecond), h.Round(time.Millisecond), r.Seconds()/h.Seconds(), target)
	}
	row("serve start (warm cache), median", 50, l[0].start, l[1].start, "<= 0.5")
	row("save -> reload, p50", 50, l[0].save, l[1].save, "")
	row("save -> reload, p95", 95, l[0].save, l[1].save, "<= 100 ms")
	row("new plan -> reload, p95", 95, l[0].create, l[1].create, "<= 300 ms")
	row("delete plan -> reload, p95", 95, l[0].drop, l[1].drop, "<= 300 ms")
}
