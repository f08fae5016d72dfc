package drillenv

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/moby/moby/client"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// requireDocker skips without a Docker engine, unless the run demands one
// (ROLLBOOK_REQUIRE_DOCKER=1, as CI does).
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

func moduleRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

var (
	imagesOnce        sync.Once
	agentRef, dbRef   string
	imagesErr         error
	agentTook, dbTook time.Duration
	binaryTook        string
)

// images builds (or finds) both images once for the package's tests.
func images(t *testing.T) (agent, db string) {
	t.Helper()
	imagesOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		dir, err := os.MkdirTemp("", "rollbook-agent-bin-")
		if err != nil {
			imagesErr = err
			return
		}
		defer os.RemoveAll(dir)
		bin := filepath.Join(dir, "rollbook-agent")
		start := time.Now()
		if imagesErr = BuildAgentBinary(ctx, moduleRoot(), bin); imagesErr != nil {
			return
		}
		binaryTook = time.Since(start).Round(time.Millisecond).String()
		start = time.Now()
		if agentRef, imagesErr = AgentImage(ctx, bin); imagesErr != nil {
			return
		}
		agentTook = time.Since(start)
		start = time.Now()
		dbRef, imagesErr = PostgresImage(ctx)
		dbTook = time.Since(start)
	})
	if imagesErr != nil {
		t.Fatal(imagesErr)
	}
	t.Logf("agent binary built in %s; image %s in %s, %s in %s", binaryTook, agentRef, agentTook.Round(time.Millisecond), dbRef, dbTook.Round(time.Millisecond))
	return agentRef, dbRef
}

func call(t *testing.T, method, url string, body any) (int, http.Header, string) {
	t.Helper()
	var r io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		r = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, url, r)
	c := &http.Client{Timeout: 10 * time.Second}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

func runID(kind string) string {
	return fmt.Sprintf("test-%s-%d", kind, time.Now().UnixNano())
}

// requestCounts reads rollbook_requests_total by release and code.
func requestCounts(t *testing.T, routerURL string) (map[string]float64, map[string]uint64) {
	t.Helper()
	_, _, body := call(t, "GET", routerURL+"/metrics", nil)
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		t.Fatalf("parsing the router's metrics: %v\n%s", err, body)
	}
	counts := map[string]float64{}
	if f := fams["rollbook_requests_total"]; f != nil {
		for _, m := range f.Metric {
			l := map[string]string{}
			for _, lp := range m.Label {
				l[lp.GetName()] = lp.GetValue()
			}
			counts[l["release"]+"/"+l["code"]] += m.GetCounter().GetValue()
		}
	}
	hist := map[string]uint64{}
	if f := fams["rollbook_request_duration_seconds"]; f != nil {
		for _, m := range f.Metric {
			hist[m.Label[0].GetValue()] = m.GetHistogram().GetSampleCount()
		}
	}
	return counts, hist
}

func TestEnvironment(t *testing.T) {
	requireDocker(t)
	agent, db := images(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	dir := t.TempDir()
	expand := filepath.Join(dir, "0100_add_currency.sql")
	contract := filepath.Join(dir, "0107_drop_note.sql")
	if err := os.WriteFile(expand, []byte("ALTER TABLE orders ADD COLUMN currency text DEFAULT 'EUR';\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(contract, []byte("-- contract: the stable release still reads note\nALTER TABLE orders DROP COLUMN note;\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	id := runID("env")
	var smokeBefore string
	start := time.Now()
	env, err := Start(ctx, Options{
		RunID: id, AgentImage: agent, DBImage: db, LoadRate: 40,
		StableMigrations: []string{expand}, CanaryMigrations: []string{contract},
		BeforeCanary: func(ctx context.Context, e *Env) error {
			code, _, body := call(t, "GET", e.StableURL+"/smoke", nil)
			smokeBefore = fmt.Sprint(code, " ", body)
			return nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("environment up in %s", time.Since(start).Round(time.Millisecond))
	closed := false
	defer func() {
		if !closed {
			env.Close(context.Background())
		}
	}()
	for _, u := range []string{env.RouterURL, env.FaultsURL, env.PagerURL, env.LoadURL, env.StableURL, env.CanaryURL} {
		if !strings.HasPrefix(u, "http://127.0.0.1:") {
			t.Errorf("host URL %q", u)
		}
	}

	t.Run("load generator", func(t *testing.T) {
		if _, _, body := call(t, "GET", env.LoadURL+"/admin/rate", nil); !strings.Contains(body, `"rate":40`) {
			t.Errorf("starting rate: %s", body)
		}
		if code, _, body := call(t, "PUT", env.LoadURL+"/admin/rate", map[string]float64{"rate": 100}); code != 200 {
			t.Fatalf("set rate: %d %s", code, body)
		}
		time.Sleep(1500 * time.Millisecond)
		call(t, "PUT", env.LoadURL+"/admin/rate", map[string]float64{"rate": 0})
		time.Sleep(300 * time.Millisecond) // let the last requests land
		var st struct {
			Total uint64            `json:"total"`
			Codes map[string]uint64 `json:"codes"`
		}
		_, _, body := call(t, "GET", env.LoadURL+"/stats", nil)
		if err := json.Unmarshal([]byte(body), &st); err != nil {
			t.Fatal(err)
		}
		// Inserts write note, which the canary dropped: a few 500s are expected.
		if st.Total < 100 || st.Codes["200"] < st.Total*8/10 {
			t.Errorf("load through the router for 1.5s at 100/s: %s", body)
		}
	})
	t.Run("contract migration breaks stable smoke", func(t *testing.T) {
		if !strings.HasPrefix(smokeBefore, "200 ") {
			t.Errorf("stable smoke before the canary migrated: %s", smokeBefore)
		}
		code, hdr, body := call(t, "GET", env.StableURL+"/smoke", nil)
		if code != 500 || !strings.Contains(body, "note") || !json.Valid([]byte(body)) || hdr.Get("X-Release") != "stable" {
			t.Errorf("stable smoke after the canary dropped orders.note: %d %s", code, body)
		}
		// Normal traffic does not touch note and keeps working: only the
		// smoke check, which reads every column, shows the breakage.
		ok := 0
		for i := 0; i < 40; i++ {
			if code, _, _ := call(t, "GET", env.StableURL+"/api/orders", nil); code == 200 {
				ok++
			}
		}
		if ok < 20 {
			t.Errorf("stable orders after the drop: %d of 40 answered 200", ok)
		}
	})
	t.Run("router splits and counts per release", func(t *testing.T) {
		if code, _, body := call(t, "GET", env.RouterURL+"/admin/weights", nil); code != 200 || !strings.Contains(body, `"canary":0`) {
			t.Fatalf("initial weights: %d %s", code, body)
		}
		if code, _, body := call(t, "PUT", env.RouterURL+"/admin/weights", map[string]int{"canary": 50}); code != 200 || !strings.Contains(body, `"canary":50`) {
			t.Fatalf("set weights: %d %s", code, body)
		}
		before, _ := requestCounts(t, env.RouterURL)
		seen := map[string]int{}
		for i := 0; i < 200; i++ {
			code, hdr, body := call(t, "GET", env.RouterURL+"/api/orders", nil)
			if code != 200 && code != 500 {
				t.Fatalf("orders through the router: %d %s", code, body)
			}
			seen[hdr.Get("X-Release")]++
		}
		if seen["stable"] < 60 || seen["canary"] < 60 || seen["stable"]+seen["canary"] != 200 {
			t.Errorf("answers by release at 50%%: %v", seen)
		}
		after, hist := requestCounts(t, env.RouterURL)
		for _, rel := range []string{"stable", "canary"} {
			got := after[rel+"/200"] + after[rel+"/500"] - before[rel+"/200"] - before[rel+"/500"]
			if got != float64(seen[rel]) {
				t.Errorf("%s requests in metrics: %v, answers seen %d (before %v, after %v)", rel, got, seen[rel], before, after)
			}
			if hist[rel] == 0 {
				t.Errorf("no %s latency samples", rel)
			}
		}
	})
	t.Run("faults in front of the canary", func(t *testing.T) {
		if code, _, body := call(t, "PUT", env.FaultsURL+"/admin/faults", map[string]any{"error_rate": 1}); code != 200 {
			t.Fatalf("set faults: %d %s", code, body)
		}
		before, _ := requestCounts(t, env.RouterURL)
		codes := map[int]int{}
		for i := 0; i < 100; i++ {
			code, _, _ := call(t, "GET", env.RouterURL+"/api/orders", nil)
			codes[code]++
		}
		after, _ := requestCounts(t, env.RouterURL)
		canary := after["canary/500"] - before["canary/500"]
		stable := after["stable/200"] + after["stable/500"] - before["stable/200"] - before["stable/500"]
		if canary < 20 || stable < 20 || canary+stable != 100 || after["canary/200"] != before["canary/200"] || codes[500] < int(canary) {
			t.Errorf("at 50%% with a failing canary: codes %v, metrics before %v after %v", codes, before, after)
		}
		// Health checks pass the faults by.
		if code, _, _ := call(t, "GET", env.FaultsURL+"/health/ready", nil); code != 200 {
			t.Errorf("canary health through the faults: %d", code)
		}
		call(t, "PUT", env.FaultsURL+"/admin/faults", map[string]any{"latency": "300ms"})
		start := time.Now()
		// /admin/state: latency without the database in the way.
		if code, _, _ := call(t, "GET", env.FaultsURL+"/admin/state", nil); code != 200 || time.Since(start) < 300*time.Millisecond {
			t.Errorf("latency 300ms: %d after %s", code, time.Since(start))
		}
		call(t, "PUT", env.FaultsURL+"/admin/faults", map[string]any{})
		call(t, "PUT", env.RouterURL+"/admin/weights", map[string]int{"canary": 0})
	})
	t.Run("pager round trip", func(t *testing.T) {
		if code, _, _ := call(t, "POST", env.PagerURL+"/pages", map[string]string{"summary": "drill page", "plan": "x"}); code != 201 {
			t.Fatalf("page: %d", code)
		}
		if _, _, body := call(t, "GET", env.PagerURL+"/pages", nil); !strings.Contains(body, "drill page") {
			t.Errorf("pages: %s", body)
		}
	})
	t.Run("stop canary", func(t *testing.T) {
		if err := env.StopCanary(ctx); err != nil {
			t.Fatal(err)
		}
		if err := env.StopCanary(ctx); err != nil {
			t.Fatalf("second stop: %v", err)
		}
		if up, err := env.running(ctx, "canary"); err != nil || up {
			t.Errorf("canary running after stop: %v %v", up, err)
		}
		if code, _, _ := call(t, "GET", env.FaultsURL+"/health/ready", nil); code < 500 {
			t.Errorf("health of a stopped canary: %d", code)
		}
		// The stable release carries on.
		if code, _, _ := call(t, "GET", env.RouterURL+"/api/orders", nil); code != 200 {
			t.Errorf("stable traffic after the canary stopped: %d", code)
		}
	})

	start = time.Now()
	if err := env.Close(ctx); err != nil {
		t.Fatal(err)
	}
	closed = true
	t.Logf("closed in %s", time.Since(start).Round(time.Millisecond))
	if err := env.Close(ctx); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if left, err := Leftovers(ctx, id); err != nil || len(left) > 0 {
		t.Errorf("leftovers after Close: %v %v", left, err)
	}
}

// TestCancelledStartLeavesNothing cancels Start as soon as its first
// container exists.
func TestCancelledStartLeavesNothing(t *testing.T) {
	requireDocker(t)
	agent, db := images(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	id := runID("cancel")
	sctx, scancel := context.WithCancel(ctx)
	defer scancel()
	go func() {
		for sctx.Err() == nil {
			if left, _ := Leftovers(ctx, id); len(left) > 1 {
				scancel()
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
	}()
	env, err := Start(sctx, Options{RunID: id, AgentImage: agent, DBImage: db})
	if err == nil {
		env.Close(ctx)
		t.Fatal("Start succeeded after its context was cancelled")
	}
	t.Logf("Start cancelled: %.200s", err)
	if left, err := Leftovers(ctx, id); err != nil || len(left) > 0 {
		t.Errorf("a cancelled start left %v (%v)", left, err)
	}
}

// TestStartFailuresSayWhatIsWrong: a canary migration that fails, and an
// image that is not there.
func TestStartFailuresSayWhatIsWrong(t *testing.T) {
	requireDocker(t)
	agent, db := images(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	bad := filepath.Join(t.TempDir(), "0200_broken.sql")
	if err := os.WriteFile(bad, []byte("ALTER TABLE orders DROP COLUMN no_such_column;\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	id := runID("badmig")
	start := time.Now()
	_, err := Start(ctx, Options{RunID: id, AgentImage: agent, DBImage: db, CanaryMigrations: []string{bad}})
	if err == nil || !strings.Contains(err.Error(), "canary") || !strings.Contains(err.Error(), "0200_broken.sql") || !strings.Contains(err.Error(), "no_such_column") {
		t.Errorf("a failing canary migration: %v", err)
	}
	if d := time.Since(start); d > 30*time.Second {
		t.Errorf("took %s to report a failed migration", d)
	}
	if left, err := Leftovers(ctx, id); err != nil || len(left) > 0 {
		t.Errorf("a failed start left %v (%v)", left, err)
	}

	id = runID("noimage")
	_, err = Start(ctx, Options{RunID: id, AgentImage: "rollbook-agent:000000000000", DBImage: db})
	if err == nil || !strings.Contains(err.Error(), "rollbook-agent:000000000000 is not on the Docker engine") {
		t.Errorf("a missing agent image: %v", err)
	}
	if _, err := Start(ctx, Options{RunID: id, AgentImage: agent, DBImage: db, CanaryMigrations: []string{"/nonexistent/0001.sql"}}); err == nil || !strings.Contains(err.Error(), "/nonexistent/0001.sql") {
		t.Errorf("a missing migration file: %v", err)
	}
	if left, err := Leftovers(ctx, id); err != nil || len(left) > 0 {
		t.Errorf("left %v (%v)", left, err)
	}
}

func TestNoDockerEngine(t *testing.T) {
	t.Setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
	err := CheckDocker(context.Background())
	if err == nil || !strings.Contains(err.Error(), "cannot reach the Docker engine at unix:///nonexistent/docker.sock: start dockerd or set DOCKER_HOST") {
		t.Errorf("CheckDocker without an engine: %v", err)
	}
	_, err = Start(context.Background(), Options{RunID: "x", AgentImage: "a", DBImage: "b"})
	if err == nil || !strings.Contains(err.Error(), "cannot reach the Docker engine") {
		t.Errorf("Start without an engine: %v", err)
	}
}

func TestPostgresFiles(t *testing.T) {
	if _, err := os.Stat(filepath.Join(pgBin, "postgres")); err != nil {
		t.Skip("no postgresql-15 on this host")
	}
	files, err := postgresFiles()
	if err != nil {
		t.Fatal(err)
	}
	has := func(pred func(string) bool) bool {
		for _, f := range files {
			if pred(f) {
				return true
			}
		}
		return false
	}
	for what, pred := range map[string]func(string) bool{
		"postgres":        func(f string) bool { return f == pgBin+"/postgres" },
		"initdb":          func(f string) bool { return f == pgBin+"/initdb" },
		"the loader":      func(f string) bool { return strings.Contains(filepath.Base(f), "ld-linux") },
		"libc":            func(f string) bool { return filepath.Base(f) == "libc.so.6" },
		"plpgsql":         func(f string) bool { return f == pgLib+"/plpgsql.so" },
		"postgres.bki":    func(f string) bool { return f == pgShare+"/postgres.bki" },
		"UTC zone":        func(f string) bool { return strings.HasPrefix(f, "/usr/share/zoneinfo/") },
		"libpq or libicu": func(f string) bool { return strings.Contains(f, "libicu") || strings.Contains(f, "libpq") },
	} {
		if !has(pred) {
			t.Errorf("the image files lack %s", what)
		}
	}
	if has(func(f string) bool {
		return strings.Contains(f, "llvmjit") || strings.Contains(f, "libLLVM") || strings.Contains(f, "/bitcode/")
	}) {
		t.Error("the image files carry the LLVM JIT")
	}
}

func TestCheckStatic(t *testing.T) {
	// The test binary itself is usually linked dynamically (cgo via net);
	// a file that is no ELF at all must be refused either way.
	f := filepath.Join(t.TempDir(), "not-elf")
	os.WriteFile(f, []byte("#!/bin/sh\n"), 0o755)
	if err := checkStatic(f); err == nil || !strings.Contains(err.Error(), "not a Linux executable") {
		t.Errorf("checkStatic on a script: %v", err)
	}
	if _, err := os.Stat("/bin/sh"); err == nil {
		if err := checkStatic("/bin/sh"); err == nil || !strings.Contains(err.Error(), "CGO_ENABLED=0") {
			t.Errorf("checkStatic on /bin/sh: %v", err)
		}
	}
}

// TestCleanupOrphans: objects of a drill whose process is gone are removed;
// those of a live process are not.
func TestCleanupOrphans(t *testing.T) {
	requireDocker(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Skip("no true(1) to get a dead pid from")
	}
	host, _ := os.Hostname()
	c, err := dockerClient(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	orphan, alive := runID("orphan"), runID("alive")
	for id, owner := range map[string]string{orphan: fmt.Sprintf("%s:%d", host, dead.Process.Pid), alive: ownerLabel()} {
		labels := map[string]string{labelManaged: "true", labelDrill: id, labelOwner: owner}
		if _, err := c.NetworkCreate(ctx, "rollbook-"+id, client.NetworkCreateOptions{Labels: labels}); err != nil {
			t.Fatal(err)
		}
	}
	defer Cleanup(ctx, alive)
	ids, err := CleanupOrphans(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(ids, orphan) || slices.Contains(ids, alive) {
		t.Errorf("cleaned %v; want %s and not %s", ids, orphan, alive)
	}
	if left, _ := Leftovers(ctx, orphan); len(left) > 0 {
		t.Errorf("orphan left %v", left)
	}
	if left, _ := Leftovers(ctx, alive); len(left) != 1 {
		t.Errorf("live drill's network: %v", left)
	}
}

func TestMain(m *testing.M) {
	// Drills of an earlier test run that was killed (no reaper here).
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	if ids, err := CleanupOrphans(ctx); err == nil && len(ids) > 0 {
		fmt.Fprintf(os.Stderr, "removed the containers of orphaned drills %v\n", ids)
	}
	cancel()
	os.Exit(m.Run())
}
