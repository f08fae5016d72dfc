package gameday

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/rollbook/rollbook/internal/drillreport"
	"github.com/rollbook/rollbook/internal/plan"
)

// Report is the record of one drill of one scenario (the JSON that the
// site and `gameday due` read back).
type Report = drillreport.Report

// WriteReport stores the report as JSON and JUnit XML under
// dir/<plan slug>/, each written to a temporary file and renamed, so a
// reader never sees half a report.
func WriteReport(r *Report, dir string) (jsonPath, xmlPath string, err error) {
	folder := filepath.Join(dir, plan.Slug(r.Plan))
	if err := os.MkdirAll(folder, 0o755); err != nil {
		return "", "", err
	}
	base := filepath.Join(folder, r.Started.UTC().Format("20060102T150405Z")+"-"+r.Scenario)
	data, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return "", "", err
	}
	if err := writeAtomic(base+".json", append(data, '\n')); err != nil {
		return "", "", err
	}
	x, err := JUnit([]*Report{r})
	if err != nil {
		return "", "", err
	}
	if err := writeAtomic(base+".xml", x); err != nil {
		return "", "", err
	}
	return base + ".json", base + ".xml", nil
}

func writeAtomic(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-")
	if err != nil {
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return err
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

type junitSuites struct {
	XMLName xml.Name     `xml:"testsuites"`
	Suites  []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name     string      `xml:"name,attr"`
	Tests    int         `xml:"tests,attr"`
	Failures int         `xml:"failures,attr"`
	Time     string      `xml:"time,attr"`
	Cases    []junitCase `xml:"testcase"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	Time      string        `xml:"time,attr"`
	Failure   *junitFailure `xml:"failure,omitempty"`
	SystemOut string        `xml:"system-out,omitempty"`
}

type junitFailure struct {
	Message string `xml:"message,attr"`
	Text    string `xml:",chardata"`
}

// JUnit renders reports as JUnit XML: a suite per plan, a case per scenario.
func JUnit(reports []*Report) ([]byte, error) {
	var doc junitSuites
	idx := map[string]int{}
	for _, r := range reports {
		i, ok := idx[r.Plan]
		if !ok {
			i = len(doc.Suites)
			idx[r.Plan] = i
			doc.Suites = append(doc.Suites, junitSuite{Name: r.Plan})
		}
		s := &doc.Suites[i]
		d := r.Finished.Sub(r.Started).Seconds()
		c := junitCase{Name: r.Scenario, Classname: "gameday." + plan.Slug(r.Plan), Time: fmt.Sprintf("%.3f", d)}
		var lines []string
		for _, a := range r.Assertions {
			mark := "PASS"
			if !a.Passed {
				mark = "FAIL"
			}
			lines = append(lines, fmt.Sprintf("%s %s: %s", mark, a.Name, a.Message))
		}
		c.SystemOut = strings.Join(lines, "\n")
		if !r.Passed {
			msg := r.Error
			if f := r.Failed(); len(f) > 0 {
				msg = f[0].Name + ": " + f[0].Message
			}
			c.Failure = &junitFailure{Message: msg, Text: c.SystemOut}
			s.Failures++
		}
		s.Tests++
		s.Cases = append(s.Cases, c)
	}
	out, err := xml.MarshalIndent(doc, "", "  ")
	if err != nil {
		return nil, err
	}
	return append([]byte(xml.Header), append(out, '\n')...), nil
}
