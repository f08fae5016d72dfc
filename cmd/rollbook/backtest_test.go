package main

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// startPrometheus runs the host's Prometheus server (Debian's prometheus
// package) with nothing to scrape and returns its URL.
func startPrometheus(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("prometheus")
	if err != nil {
		t.Fatalf("no prometheus server on this machine (apt-get install prometheus): %v", err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	dir := t.TempDir()
	conf := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(conf, []byte("global: {scrape_interval: 1s}\nscrape_configs: []\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "--config.file="+conf, "--storage.tsdb.path="+filepath.Join(dir, "data"), "--web.listen-address="+addr, "--log.level=warn")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	url := "http://" + addr
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(url + "/-/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return url
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("prometheus at %s not ready: %v", url, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// A Prometheus without the service's series: every analysis is
// inconclusive, never a pass, and the backtest says no_data would hold.
func TestBacktestWithoutData(t *testing.T) {
	url := startPrometheus(t)
	out := t.TempDir()
	from := time.Now().Add(-15 * time.Minute).UTC().Format(time.RFC3339)
	code, text := runCLI(t, "gameday", "backtest", "../../content/payments/api-2-4-canary.md", "--prometheus", url, "--from", from, "--to", "now", "--out", out)
	if code != 0 {
		t.Fatalf("exit %d:\n%s", code, text)
	}
	for _, want := range []string{"inconclusive", "no data", "held the release", "backtest: halted at", `rollouts_pod_template_hash=\"canary\"`} {
		if !strings.Contains(text, want) && !strings.Contains(reportText(t, out), want) {
			t.Errorf("output and report lack %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, " pass: ") {
		t.Errorf("a pass without data:\n%s", text)
	}
	for _, tc := range []struct{ args, want string }{
		{"--from 2026-11-24", "--from"},
		{"--from " + from + " --to " + from, "is not after"},
	} {
		code, text := runCLI(t, append([]string{"gameday", "backtest", "../../content/payments/api-2-4-canary.md", "--prometheus", url, "--out", out}, strings.Fields(tc.args)...)...)
		if code == 0 || !strings.Contains(text, tc.want) {
			t.Errorf("%s: exit %d, want an error naming %q:\n%s", tc.args, code, tc.want, text)
		}
	}
	if code, text := runCLI(t, "gameday", "backtest", "../../content/payments/api-2-4-canary.md", "--from", from); code == 0 || !strings.Contains(text, "--prometheus is required") {
		t.Errorf("without --prometheus: exit %d\n%s", code, text)
	}
}

func reportText(t *testing.T, dir string) string {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(dir, "*", "*-backtest.json"))
	if len(files) != 1 {
		t.Fatalf("backtest reports: %v", files)
	}
	b, err := os.ReadFile(files[0])
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"backtest": {`) {
		t.Errorf("report not marked as a backtest")
	}
	return fmt.Sprint(string(b))
}
