package analysis

import "math"

// Targets of a baseline trigger's statistics (the closing note of the
// game-day issue): at most one false rollback per 1000 healthy canaries,
// and a regression of max_delta caught within two windows in 99 % of
// canaries.
const (
	MaxFalseRollbacksPer1000 = 1
	MinDetectionPercent      = 99
)

// StatsVolume is the canary requests per window at which the exported
// baseline test (z above ZCritical, excess at least half of max_delta,
// two consecutive windows) reaches both targets for max_delta 2 % over a
// 1 % baseline, measured by TestStatistics with Prometheus's engine
// (BenchmarkStatistics prints the whole table).
const StatsVolume = 1500

// RequiredRequests is the min_requests at which a baseline trigger with
// maxDelta reaches both targets: the test's power grows with the square
// root of the volume, so halving the delta takes four times the requests.
func RequiredRequests(maxDelta float64) int {
	if maxDelta <= 0 {
		return 0
	}
	return int(math.Ceil(StatsVolume * (0.02 / maxDelta) * (0.02 / maxDelta)))
}
