package drillenv

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// requireDocker skips without a Docker engine, unless the run demands one.
func requireDocker(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := CheckDocker(ctx); err != nil {
		if os.Getenv("ROLLBOOK_REQUIRE_DOCKER") == "1" {
			t.Fatalf("ROLLBOOK_REQUIRE_DOCKER=1 but: %v", err)
		}
		t.Skipf("no Docker engine: %v", err)
	}
}

func moduleRoot(t *testing.T) string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

func images(t *testing.T, ctx context.Context) (agent, db string) {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "rollbook-agent")
	if err := BuildAgentBinary(ctx, moduleRoot(t), bin); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	agent, err := AgentImage(ctx, bin)
	if err != nil {
		t.Fatal(err)
	}
	db, err = PostgresImage(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("images %s and %s ready in %s", agent, db, time.Since(start).Round(time.Millisecond))
	return agent, db
}

func call(t *testing.T, method, url string, body any) (int, string) {
	t.Helper()
	var r io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		r = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, url, r)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestEnvironment(t *testing.T) {
	requireDocker(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	agent, db := images(t, ctx)
	dir := t.TempDir()
	contract := filepath.Join(dir, "0107_drop_note.sql")
	if err := os.WriteFile(contract, []byte("ALTER TABLE orders DROP COLUMN note;\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	runID := fmt.Sprintf("test-%d", time.Now().UnixNano())
	start := time.Now()
	env, err := Start(ctx, Options{RunID: runID, AgentImage: agent, DBImage: db, CanaryMigrations: []string{contract}})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("environment up in %s", time.Since(start).Round(time.Millisecond))
	defer func() {
		if err := env.Close(context.Background()); err != nil {
			t.Error(err)
		}
		if left, err := Leftovers(context.Background(), runID); err != nil || len(left) > 0 {
			t.Errorf("leftovers after Close: %v %v", left, err)
		}
	}()

	t.Run("migration changes what stable sees", func(t *testing.T) {
		// The canary dropped orders.note, which the stable release reads.
		if code, body := call(t, "GET", env.StableURL+"/smoke", nil); code != 500 || !strings.Contains(body, "note") {
			t.Errorf("stable smoke after the contract migration: %d %s", code, body)
		}
	})
	t.Run("router splits and counts", func(t *testing.T) {
		if code, _ := call(t, "PUT", env.RouterURL+"/admin/weights", map[string]int{"canary": 50}); code != 200 {
			t.Fatal("set weights")
		}
		if code, _ := call(t, "PUT", env.FaultsURL+"/admin/faults", map[string]any{"error_rate": 1}); code != 200 {
			t.Fatal("set faults")
		}
		codes := map[int]int{}
		for i := 0; i < 100; i++ {
			code, _ := call(t, "GET", env.RouterURL+"/api/orders", nil)
			codes[code]++
		}
		if codes[500] < 20 || codes[200] < 20 {
			t.Errorf("codes through the router at 50%% with a failing canary: %v", codes)
		}
		_, metrics := call(t, "GET", env.RouterURL+"/metrics", nil)
		if !strings.Contains(metrics, `rollbook_requests_total{release="canary",code="500"}`) || !strings.Contains(metrics, `rollbook_request_duration_seconds_bucket{release="stable",le="+Inf"}`) {
			t.Errorf("metrics:\n%s", metrics)
		}
	})
	t.Run("pager", func(t *testing.T) {
		call(t, "POST", env.PagerURL+"/pages", map[string]string{"summary": "test page"})
		if _, body := call(t, "GET", env.PagerURL+"/pages", nil); !strings.Contains(body, "test page") {
			t.Errorf("pages: %s", body)
		}
	})
	t.Run("stop canary is idempotent", func(t *testing.T) {
		if err := env.StopCanary(ctx); err != nil {
			t.Fatal(err)
		}
		if err := env.StopCanary(ctx); err != nil {
			t.Fatal(err)
		}
	})
}

func TestCancelledStartLeavesNothing(t *testing.T) {
	requireDocker(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	agent, db := images(t, ctx)
	runID := fmt.Sprintf("cancel-%d", time.Now().UnixNano())
	sctx, scancel := context.WithTimeout(ctx, 1500*time.Millisecond)
	defer scancel()
	if env, err := Start(sctx, Options{RunID: runID, AgentImage: agent, DBImage: db}); err == nil {
		env.Close(ctx)
		t.Skip("environment started before the deadline; nothing to check")
	}
	if left, err := Leftovers(ctx, runID); err != nil || len(left) > 0 {
		t.Errorf("a cancelled start left %v (%v)", left, err)
	}
}
