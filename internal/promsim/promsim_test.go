package promsim

import (
	"context"
	"testing"
	"time"
)

func TestQuery(t *testing.T) {
	s := New("release", 5*time.Minute)
	base := time.Unix(1_700_000_000, 0)
	for i := 0; i <= 12; i++ {
		for _, rel := range []string{"canary", "stable"} {
			if err := s.Add(base.Add(time.Duration(i)*10*time.Second), float64(i*100), "__name__", "reqs", "release", rel); err != nil {
				t.Fatal(err)
			}
		}
	}
	got, err := s.Query(context.Background(), `sum(increase(reqs{release="canary"}[1m]))`, base.Add(2*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0] < 590 || got[0] > 610 {
		t.Errorf("increase over a minute of 10 per second: %v", got)
	}
	if got, err := s.Query(context.Background(), `reqs{release="none"}`, base.Add(2*time.Minute)); err != nil || len(got) != 0 {
		t.Errorf("absent series: %v %v", got, err)
	}
	if err := s.Add(base, 1, "__name__", "reqs", "release", "canary"); err == nil {
		t.Error("an out-of-order sample was accepted")
	}
}
