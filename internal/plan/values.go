package plan

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
)

// scalar is a front-matter value type that parses itself from YAML text.
// The error message is shown to the writer; fix says what to write instead.
type scalar interface {
	parseScalar(s string) (fix string, err error)
}

// Duration is a Go duration that also accepts days ("2d", "1d12h").
type Duration time.Duration

// D returns the duration as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// String formats the duration compactly ("90m", "2d", "1h30m").
func (d Duration) String() string { return FormatDuration(time.Duration(d)) }

func (d *Duration) parseScalar(s string) (string, error) {
	v, err := ParseDuration(s)
	if err != nil {
		return `write a duration such as 30s, 5m, 1h30m or 2d`, err
	}
	*d = Duration(v)
	return "", nil
}

// ParseDuration parses Go duration syntax plus a "d" (24h) unit.
func ParseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, fmt.Errorf("empty duration")
	}
	if s == "0" {
		return 0, nil
	}
	var days float64
	if i := strings.IndexByte(s, 'd'); i >= 0 {
		n, err := strconv.ParseFloat(s[:i], 64)
		if err != nil || n < 0 || math.IsInf(n, 0) || math.IsNaN(n) {
			return 0, fmt.Errorf("invalid duration %q", s)
		}
		days = n
		s = s[i+1:]
		if s == "" {
			if days*24 > float64(math.MaxInt64)/float64(time.Hour) {
				return 0, fmt.Errorf("duration %q is too long", s)
			}
			return time.Duration(days * 24 * float64(time.Hour)), nil
		}
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("invalid duration %q", s)
	}
	if v < 0 {
		return 0, fmt.Errorf("negative duration %q", s)
	}
	return v + time.Duration(days*24*float64(time.Hour)), nil
}

// FormatDuration prints a duration as a writer would ("90m", "2d", "30s").
func FormatDuration(d time.Duration) string {
	if d == 0 {
		return "0s"
	}
	if d%(24*time.Hour) == 0 {
		return strconv.FormatInt(int64(d/(24*time.Hour)), 10) + "d"
	}
	if d%time.Hour == 0 {
		return strconv.FormatInt(int64(d/time.Hour), 10) + "h"
	}
	if d%time.Minute == 0 {
		return strconv.FormatInt(int64(d/time.Minute), 10) + "m"
	}
	s := d.String()
	s = strings.TrimSuffix(s, "0s")
	if strings.HasSuffix(s, "m") || strings.HasSuffix(s, "h") {
		return s
	}
	return d.String()
}

// Percent is a ratio written as "2%" or "0.02".
type Percent float64

// String formats the ratio as a percentage ("2%", "0.5%").
func (p Percent) String() string {
	return strconv.FormatFloat(float64(p)*100, 'f', -1, 64) + "%"
}

func (p *Percent) parseScalar(s string) (string, error) {
	v, err := ParsePercent(s)
	if err != nil {
		return `write a percentage such as 2% or a ratio such as 0.02`, err
	}
	*p = Percent(v)
	return "", nil
}

// ParsePercent parses "2%" (0.02) or a ratio "0.02" between 0 and 1.
func ParsePercent(s string) (float64, error) {
	s = strings.TrimSpace(s)
	if strings.HasSuffix(s, "%") {
		v, err := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(s, "%")), 64)
		if err != nil || v < 0 || v > 100 || math.IsNaN(v) {
			return 0, fmt.Errorf("invalid percentage %q", s)
		}
		return v / 100, nil
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(v) {
		return 0, fmt.Errorf("invalid percentage %q", s)
	}
	if v < 0 || v > 1 {
		return 0, fmt.Errorf("ratio %q is outside 0..1", s)
	}
	return v, nil
}

// Date is a calendar date ("2026-11-01"); a full timestamp is accepted too.
type Date struct{ time.Time }

// String formats the date as YYYY-MM-DD, or "" when unset.
func (d Date) String() string {
	if d.IsZero() {
		return ""
	}
	return d.Format("2006-01-02")
}

func (d *Date) parseScalar(s string) (string, error) {
	s = strings.TrimSpace(s)
	for _, layout := range []string{"2006-01-02", time.RFC3339, "2006-01-02T15:04:05", "2006-01-02 15:04:05"} {
		if t, err := time.Parse(layout, s); err == nil {
			d.Time = t
			return "", nil
		}
	}
	return `write a date as YYYY-MM-DD, for example 2026-11-01`, fmt.Errorf("invalid date %q", s)
}

// Time is an instant with a time zone ("2026-11-24T14:00:00Z").
type Time struct{ time.Time }

func (t *Time) parseScalar(s string) (string, error) {
	s = strings.TrimSpace(s)
	v, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return `write an RFC 3339 time with its zone, for example 2026-11-24T14:00:00Z`, fmt.Errorf("invalid time %q", s)
	}
	t.Time = v
	return "", nil
}

// Threshold is an absolute limit: a duration ("800ms", kept in seconds),
// a percentage ("5%", kept as a ratio) or a plain number.
type Threshold struct {
	Raw   string
	Value float64
	Unit  string // "s" for durations, "ratio" for percentages, "" for numbers
	Set   bool
}

// String returns the threshold as written.
func (t Threshold) String() string { return t.Raw }

// Seconds returns a duration threshold as a time.Duration.
func (t Threshold) Duration() time.Duration { return time.Duration(t.Value * float64(time.Second)) }

func (t *Threshold) parseScalar(s string) (string, error) {
	s = strings.TrimSpace(s)
	*t = Threshold{Raw: s, Set: true}
	if strings.HasSuffix(s, "%") {
		v, err := ParsePercent(s)
		if err != nil {
			return `write a threshold such as 800ms, 2% or 0.5`, err
		}
		t.Value, t.Unit = v, "ratio"
		return "", nil
	}
	if v, err := strconv.ParseFloat(s, 64); err == nil && !math.IsNaN(v) && !math.IsInf(v, 0) {
		t.Value = v
		return "", nil
	}
	v, err := ParseDuration(s)
	if err != nil {
		return `write a threshold such as 800ms, 2% or 0.5`, fmt.Errorf("invalid threshold %q", s)
	}
	t.Value, t.Unit = v.Seconds(), "s"
	return "", nil
}

// Cron is a five-field cron schedule ("0 10 * * TUE") or a descriptor ("@weekly").
type Cron struct {
	Spec     string
	Schedule cron.Schedule
}

var cronParser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

func (c *Cron) parseScalar(s string) (string, error) {
	s = strings.TrimSpace(s)
	sched, err := cronParser.Parse(s)
	if err != nil {
		return `write five cron fields "minute hour day-of-month month day-of-week", for example "0 10 * * TUE"`, fmt.Errorf("invalid cron schedule %q: %v", s, err)
	}
	c.Spec, c.Schedule = s, sched
	return "", nil
}

// ParseCron parses a schedule as the front matter does.
func ParseCron(s string) (Cron, error) {
	var c Cron
	_, err := c.parseScalar(s)
	return c, err
}
