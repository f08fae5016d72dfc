package site_test

import (
	"context"
	"os"
	"path/filepath"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/rollbook/rollbook/internal/bench"
	"github.com/rollbook/rollbook/internal/devserver"
	"github.com/rollbook/rollbook/site"
)

func TestZZSearchProbe(t *testing.T) {
	root := "/tmp/rb/syn10k"
	if _, err := os.Stat(root); err != nil {
		bench.Generate(root, 10000, 1)
	}
	if _, err := os.Stat(filepath.Join(root, "public", "_search")); err != nil || os.Getenv("REBUILD") != "" {
		if _, err := site.Build(context.Background(), site.Options{Root: root, Force: true}); err != nil {
			t.Fatal(err)
		}
	}
	hs := httptest.NewUnstartedServer(gzipHandler(devserver.FileHandler(filepath.Join(root, "public"))))
	if os.Getenv("H2") != "" {
		hs.EnableHTTP2 = true
		hs.StartTLS()
	} else {
		hs.Start()
	}
	defer hs.Close()
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath("/usr/bin/chromium"), chromedp.NoSandbox, chromedp.Flag("disable-background-networking", true), chromedp.Flag("ignore-certificate-errors", true), chromedp.Headless)
	actx, acancel := chromedp.NewExecAllocator(context.Background(), opts...)
	defer acancel()
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	chromedp.Do(ctx, chromedp.Navigate(hs.URL+"/"))
	time.Sleep(300 * time.Millisecond)
	for _, q := range []string{"payments-api", "can", "canary", "rol", "etc", "che", "che", "lat", "latency"} {
		out, err := chromedp.Run(ctx, chromedp.Evaluate[string](`(async () => {
			const i = document.getElementById("search-input");
			const status = document.getElementById("search-status");
			status.textContent = "";
			const n0 = performance.getEntriesByType("resource").length;
			const t0 = performance.now();
			i.value = `+"'"+q+"'"+`; i.dispatchEvent(new Event("input"));
			while (!status.textContent) await new Promise(r => setTimeout(r, 0));
			const t1 = performance.now() - t0;
			const es = performance.getEntriesByType("resource").slice(n0).map(e => e.name.replace(/.*_search\//, "") + " " + Math.round(e.duration) + "ms " + e.transferSize + "B dec " + e.decodedBodySize + " start " + Math.round(e.startTime - t0));
			return t1.toFixed(1) + " | " + es.join("; ");
		})()`, chromedp.EvalAwaitPromise))
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%-10s %s", q, out)
	}
}
