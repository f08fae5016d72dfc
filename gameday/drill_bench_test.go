package gameday

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/rollbook/rollbook/internal/drillenv"
)

// BenchmarkDrillDetection drills the scenarios that roll back and reports
// time to detect and to roll back, in drill and plan seconds, with the
// drill's Prometheus scraping and answering every analysis.
func BenchmarkDrillDetection(b *testing.B) {
	ctx := context.Background()
	if err := drillenv.CheckDocker(ctx); err != nil {
		b.Fatalf("drills need a Docker engine: %v", err)
	}
	bin := filepath.Join(b.TempDir(), "rollbook-agent")
	if err := drillenv.BuildAgentBinary(ctx, moduleRoot(), bin); err != nil {
		b.Fatal(err)
	}
	agent, db, err := Images(ctx, bin, "")
	if err != nil {
		b.Fatal(err)
	}
	prom, err := PrometheusImage(ctx, os.Getenv("ROLLBOOK_PROMETHEUS_IMAGE"))
	if err != nil {
		b.Fatal(err)
	}
	pol := examplePolicy(b)
	// The demo service: the same drill before and after.
	pol.OwnService, pol.ServiceMetrics, pol.ServicePort = nil, "", 0
	for _, sc := range []string{"bad-canary-errors", "bad-canary-latency"} {
		b.Run(sc, func(b *testing.B) {
			var ttd, ttr, ttdPlan, ttrPlan float64
			n := 0
			for b.Loop() {
				rep, err := Run(ctx, RunOptions{Policy: pol, Scenario: sc, AgentImage: agent, DBImage: db, PrometheusImage: prom, Timeout: 2 * time.Minute})
				if err != nil {
					b.Fatal(err)
				}
				if rep.TTD == nil || rep.TTR == nil || !rep.Passed {
					b.Fatalf("%s did not roll back: %v", sc, rep.Failed())
				}
				ttd, ttr, ttdPlan, ttrPlan = ttd+*rep.TTD, ttr+*rep.TTR, ttdPlan+*rep.TTDPlan, ttrPlan+*rep.TTRPlan
				n++
			}
			f := float64(n)
			b.ReportMetric(ttd/f, "ttd-drill-s")
			b.ReportMetric(ttr/f, "ttr-drill-s")
			b.ReportMetric(ttdPlan/f, "ttd-plan-s")
			b.ReportMetric(ttrPlan/f, "ttr-plan-s")
		})
	}
}
