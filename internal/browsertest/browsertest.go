// Package browsertest starts headless Chromium for the tests that check
// pages as a person sees them (search, live reload), the same way in
// every package: Debian's chromium, no sandbox (CI runs as root) and no
// background network traffic.
package browsertest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// Chromium returns the browser's path. Without one it skips the test, or
// fails it under CI, where .ci/run installs it: a browser test never
// passes by not running there.
func Chromium(tb testing.TB) string {
	tb.Helper()
	path, err := exec.LookPath("chromium")
	if err != nil {
		if os.Getenv("CI") != "" {
			tb.Fatal("chromium is not installed: apt-get install chromium")
		}
		tb.Skip("chromium not installed")
	}
	return path
}

// Start runs headless Chromium at path; the context ends after limit.
func Start(path string, limit time.Duration) (context.Context, context.CancelFunc) {
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(path), chromedp.NoSandbox,
		chromedp.Flag("disable-background-networking", true), chromedp.Headless)
	actx, acancel := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	ctx, tcancel := context.WithTimeout(ctx, limit)
	return ctx, func() { tcancel(); cancel(); acancel() }
}

// Eval runs js in the page and returns its string value; an error fails
// the test.
func Eval(tb testing.TB, ctx context.Context, js string) string {
	tb.Helper()
	v, err := evaluate(ctx, js)
	if err != nil {
		tb.Fatal(err)
	}
	return v
}

func evaluate(ctx context.Context, js string) (string, error) {
	return chromedp.Run(ctx, chromedp.Evaluate[string](js))
}

// WaitFor evaluates js until it gives a non-empty string and returns it;
// after ten seconds it fails the test, naming what was awaited, the last
// evaluation error and the value of each expression in show (the page's
// state, to tell why). An evaluation that fails is tried again: a page
// that is navigating (a redirect, a reload) has no document to evaluate
// in for a moment, and Chromium says so with an error, not a value.
func WaitFor(tb testing.TB, ctx context.Context, js, what string, show ...string) string {
	tb.Helper()
	deadline := time.Now().Add(10 * time.Second)
	var lastErr error
	for {
		v, err := evaluate(ctx, js)
		if err == nil && v != "" {
			return v
		}
		if err != nil {
			lastErr = err
			if ctx.Err() != nil {
				tb.Fatalf("waiting for %s: %v", what, err)
			}
		}
		if time.Now().After(deadline) {
			msg := "timed out waiting for " + what
			if lastErr != nil {
				msg += fmt.Sprintf("; last error: %v", lastErr)
			}
			for _, s := range show {
				v, err := evaluate(ctx, s)
				if err != nil {
					msg += fmt.Sprintf("; %s: error %v", s, err)
					continue
				}
				msg += fmt.Sprintf("; %s: %q", s, v)
			}
			tb.Fatal(msg)
		}
		time.Sleep(30 * time.Millisecond)
	}
}
