package drillreport

import (
	"encoding/json"
	"testing"
)

// What users saw: the recorded service sample, else both releases
// together, so older reports still say it.
func TestMeasurementUsers(t *testing.T) {
	var old Measurement
	if err := json.Unmarshal([]byte(`{"at_ns":1,"stable":{"requests":300,"error_rate":0.01,"p99_seconds":0.1},"canary":{"requests":100,"error_rate":0.2,"p99_seconds":0.4}}`), &old); err != nil {
		t.Fatal(err)
	}
	if u := old.Users(); u.Requests != 400 || u.ErrorRate != (3+20)/400.0 || u.P99 != 0.4 {
		t.Errorf("from the releases: %+v", u)
	}
	old.Canary = Sample{P99: 9} // no canary traffic: its p99 says nothing
	if u := old.Users(); u.Requests != 300 || u.ErrorRate != 0.01 || u.P99 != 0.1 {
		t.Errorf("stable only: %+v", u)
	}
	if u := (Measurement{}).Users(); u != (Sample{}) {
		t.Errorf("no traffic: %+v", u)
	}
	rec := Measurement{Stable: Sample{Requests: 1}, Service: &Sample{Requests: 7, ErrorRate: 0.5, P99: 0.2}}
	if u := rec.Users(); u != *rec.Service {
		t.Errorf("recorded: %+v", u)
	}
}
