package main

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// rollbook serve, as a writer runs it: it listens on 127.0.0.1 only,
// serves the site, and on Ctrl-C stops cleanly with exit status 0.
func TestServeLoopbackAndInterrupt(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	bin := filepath.Join(t.TempDir(), "rollbook")
	goBuild(ctx, t, bin, ".")
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "content"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "content", "_index.md"), []byte("---\ntitle: Serve test\n---\nHome of the serve test.\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(ctx, bin, "serve", "--port", "0")
	cmd.Dir = root
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill() }()
	sc := bufio.NewScanner(stdout)
	var addr string
	for sc.Scan() {
		if _, rest, ok := strings.Cut(sc.Text(), " on "); ok {
			addr = strings.Fields(rest)[0]
			break
		}
	}
	u, err := url.Parse(addr)
	if err != nil || u.Hostname() != "127.0.0.1" {
		t.Fatalf("serve announced %q, want an http://127.0.0.1 address", addr)
	}
	resp, err := http.Get(addr)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("GET %s: %d", addr, resp.StatusCode)
	}
	// Each rebuild is one line naming the changed file, as hugo server
	// prints it. The watcher starts beside the listener, so the file is
	// saved again until a rebuild shows (a save before it is not seen).
	rebuilt := make(chan string, 1)
	go func() {
		defer close(rebuilt)
		for sc.Scan() {
			if strings.HasPrefix(sc.Text(), "rebuilt ") {
				rebuilt <- sc.Text()
				return
			}
		}
	}()
	var line string
	for i := 0; line == "" && i < 30; i++ {
		if err := os.WriteFile(filepath.Join(root, "content", "_index.md"), []byte(fmt.Sprintf("---\ntitle: Serve test\n---\nChanged %d.\n", i)), 0o644); err != nil {
			t.Fatal(err)
		}
		select {
		case line = <-rebuilt:
		case <-time.After(3 * time.Second):
		}
	}
	if !regexp.MustCompile(`^rebuilt 1 page in \d+ ms \(content/_index\.md\)$`).MatchString(line) {
		t.Errorf("rebuild line %q, want \"rebuilt 1 page in N ms (content/_index.md)\"", line)
	}
	// Not reachable on another address of this machine.
	if ip := otherAddress(); ip != "" {
		if c, err := net.DialTimeout("tcp", net.JoinHostPort(ip, u.Port()), time.Second); err == nil {
			c.Close()
			t.Errorf("serve answers on %s too; it must bind 127.0.0.1 only", ip)
		}
	}
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("exit after Ctrl-C: %v, want status 0", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("serve did not stop within 10 s of Ctrl-C")
	}
}

// otherAddress returns a non-loopback IPv4 address of this machine, or "".
func otherAddress() string {
	addrs, _ := net.InterfaceAddrs()
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && !n.IP.IsLoopback() && n.IP.To4() != nil {
			return n.IP.String()
		}
	}
	return ""
}
