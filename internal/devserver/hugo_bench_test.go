package devserver

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/rollbook/rollbook/internal/bench"
)

// hugoReloadLatency measures, n times, the time from writing file to
// `hugo server` sending its live-reload message, over Hugo's own
// livereload WebSocket (what its browser script listens to).
func hugoReloadLatency(b *testing.B, hugo, root, file string, n int) []time.Duration {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cmd := exec.CommandContext(ctx, hugo, "server", "--bind", "127.0.0.1", "--port", fmt.Sprint(port), "--disableLiveReload=false", "--quiet=false")
	cmd.Dir = root
	out, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() { cancel(); _ = cmd.Wait() }()
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(out)
		once := false
		for sc.Scan() {
			if !once && strings.Contains(sc.Text(), "Web Server is available") {
				once = true
				close(ready)
			}
		}
	}()
	select {
	case <-ready:
	case <-time.After(5 * time.Minute):
		b.Fatal("hugo server did not start")
	}
	conn, _, err := websocket.Dial(ctx, fmt.Sprintf("ws://127.0.0.1:%d/livereload", port), nil)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.CloseNow()
	conn.SetReadLimit(1 << 20)
	if err := conn.Write(ctx, websocket.MessageText, []byte(`{"command":"hello","protocols":["http://livereload.com/protocols/official-7"]}`)); err != nil {
		b.Fatal(err)
	}
	msgs := make(chan string, 64)
	go func() {
		for {
			_, data, err := conn.Read(ctx)
			if err != nil {
				close(msgs)
				return
			}
			msgs <- string(data)
		}
	}()
	time.Sleep(500 * time.Millisecond)
	orig, err := os.ReadFile(file)
	if err != nil {
		b.Fatal(err)
	}
	defer os.WriteFile(file, orig, 0o644) //nolint:errcheck // best effort
	var ds []time.Duration
	for i := 0; i < n; i++ {
		start := time.Now()
		if err := os.WriteFile(file, append(append([]byte{}, orig...), fmt.Sprintf("\nHugo edit %d.\n", i)...), 0o644); err != nil {
			b.Fatal(err)
		}
		timeout := time.After(30 * time.Second)
	wait:
		for {
			select {
			case m, ok := <-msgs:
				if !ok {
					b.Fatal("hugo closed the livereload connection")
				}
				if strings.Contains(m, `"reload"`) {
					break wait
				}
			case <-timeout:
				b.Fatal("hugo sent no reload within 30s")
			}
		}
		ds = append(ds, time.Since(start))
		time.Sleep(300 * time.Millisecond) // past Hugo's own event batching
	}
	sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
	return ds
}

// BenchmarkReloadVsHugo measures write → reload event for rollbook serve
// and hugo server on the same synthetic corpus (BENCH_PLANS, default
// 1000), in one run, and reports the ratio of the p95s.
func BenchmarkReloadVsHugo(b *testing.B) {
	hugo, err := exec.LookPath("hugo")
	if err != nil {
		b.Skip("hugo not installed (apt-get install hugo)")
	}
	root, plan := syntheticSite(b)
	if err := bench.HugoSite(root); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		rb := reloadLatency(b, root, plan, 20)
		hg := hugoReloadLatency(b, hugo, root, plan, 20)
		p95 := func(ds []time.Duration) float64 { return float64(bench.Percentile(ds, 95).Microseconds()) / 1000 }
		b.ReportMetric(p95(rb), "rollbook-ms-p95")
		b.ReportMetric(p95(hg), "hugo-ms-p95")
		b.ReportMetric(p95(rb)/p95(hg), "ratio-p95")
	}
}
