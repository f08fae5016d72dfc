package plan

import (
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/rollbook/rollbook/internal/bench"
)

// roundTrip parses src, encodes the result and decodes it again; the
// decoded plan and findings must equal what Parse gave.
func roundTrip(t *testing.T, name string, src []byte) {
	t.Helper()
	p, ds := Parse(name, name, src)
	data, err := MarshalCache(p, ds)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	gotP, gotDs, err := UnmarshalCache(data)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	if d := planDiff(gotP, p); d != "" {
		t.Fatalf("%s: decoded plan differs: %s", name, d)
	}
	if !reflect.DeepEqual(gotDs, ds) {
		t.Fatalf("%s: decoded findings differ:\n got %v\nwant %v", name, gotDs, ds)
	}
}

// planDiff names the first field where got and want differ, or is "" when
// they are DeepEqual (a whole plan printed would hide which field it is).
func planDiff(got, want *Plan) string {
	if reflect.DeepEqual(got, want) {
		return ""
	}
	if got == nil || want == nil {
		return fmt.Sprintf("got %v, want %v", got, want)
	}
	g, w := reflect.ValueOf(got).Elem(), reflect.ValueOf(want).Elem()
	for i := range g.NumField() {
		if !g.Type().Field(i).IsExported() {
			continue
		}
		if gf, wf := g.Field(i), w.Field(i); !reflect.DeepEqual(gf.Interface(), wf.Interface()) {
			return fmt.Sprintf("%s: got %#v, want %#v", g.Type().Field(i).Name, gf.Interface(), wf.Interface())
		}
	}
	return fmt.Sprintf("pos or quoted: got %v %v, want %v %v", got.pos, got.quoted, want.pos, want.quoted)
}

// TestCacheRoundTrip: every plan of the example site and the test data,
// generated plans, and front matter that uses what the typed fields do not
// (unknown keys of every YAML type, quotes, empty lists, time zones,
// findings) decode to the plan Parse gave.
func TestCacheRoundTrip(t *testing.T) {
	var files []string
	for _, dir := range []string{"../../content", "testdata"} {
		err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err == nil && !d.IsDir() && strings.HasSuffix(p, ".md") {
				files = append(files, p)
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if len(files) < 10 {
		t.Fatalf("only %d example plans found", len(files))
	}
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		roundTrip(t, f, src)
	}
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 300 {
		roundTrip(t, fmt.Sprintf("gen/plan-%d.md", i), []byte(bench.Plan(r, i, "payments-api")))
	}
	for _, tc := range []struct{ name, src string }{
		{"params", "---\ntitle: x\nextra: {a: [1, -2, 18446744073709551615, 1.5, .inf, true, null, ~, 'q'], b: {}, c: [], d: !!int '7'}\nwhen: !!timestamp 2026-01-02T03:04:05+02:00\nday: !!timestamp 2026-01-02\nblob: !!binary aGVsbG8=\nempty: !!binary ''\nnested: {x: {y: {z: [[], [{}]]}}}\nmerged: {<<: {k: v}, j: 1}\nanchor: &a [1, 2]\nalias: *a\n---\n"},
		{"quoted and empty", "---\ntitle: \"Quoted\"\nservice: 'svc'\ntags: []\nowners: [\"a\", b]\nalert: One\n---\n# Quoted\n\nbody\n"},
		{"zones", "---\nkind: rollout\nwindow: {start: 2026-11-24T14:00:00+05:30, duration: 90m}\nreviewed: 2026-11-01T10:00:00-07:00\ndate: 2026-11-01 10:00:00\nlastmod: 2026-11-01T10:00:00Z\n---\n"},
		{"cron", "---\ngameday: {schedule: \"CRON_TZ=Europe/Paris 0 10 * * TUE\"}\n---\n"},
		{"cron descriptor", "---\ngameday: {schedule: \"@every 1h\"}\n---\n"},
		{"bad cron", "---\ngameday: {schedule: \"nope\"}\n---\n"},
		{"gameday service", "---\ngameday:\n  service:\n    stable: {image: a, build: {args: {X: '1'}}}\n    env: {A: b, C: ''}\n    smoke: [{path: /, expect: 200}]\n---\n"},
		{"thresholds", "---\ntriggers: [{metric: error_rate, max: 5%, min: 0.5, max_delta: 2%, window: 2d}, {metric: latency, max: 800ms}]\n---\n"},
		{"findings", "---\nkind: nope\ntitel: x\nrisk: [1]\nweight: x\ntriggers: {a: 1}\n---\n"},
		{"not yaml", "---\n: : :\n  - [\n---\n"},
		{"unclosed", "---\ntitle: x\n"},
		{"no front matter", "# Just a page\n"},
		{"empty", ""},
		{"not text", "---\ntitle: \xff\n---\n"},
	} {
		t.Run(tc.name, func(t *testing.T) { roundTrip(t, tc.name+".md", []byte(tc.src)) })
	}
}

// TestCacheRefuses: values the encoding could not promise to decode
// equal are an error, so the caller does not cache the plan.
func TestCacheRefuses(t *testing.T) {
	for _, src := range []string{
		"---\nx: .nan\n---\n",
		"---\nx: [1, {y: .NaN}]\n---\n",
	} {
		p, ds := Parse("f.md", "f.md", []byte(src))
		if _, err := MarshalCache(p, ds); err == nil {
			t.Errorf("%q: a NaN value was encoded", src)
		}
	}
}

// TestCacheDamaged: every truncation and one-byte change of an entry is
// an error or a plan, never a panic.
func TestCacheDamaged(t *testing.T) {
	src, err := os.ReadFile("testdata/full.md")
	if err != nil {
		t.Fatal(err)
	}
	p, ds := Parse("full.md", "full.md", src)
	data, err := MarshalCache(p, ds)
	if err != nil {
		t.Fatal(err)
	}
	for n := range len(data) {
		if _, _, err := UnmarshalCache(data[:n]); err == nil {
			t.Fatalf("a cut to %d of %d bytes decoded", n, len(data))
		}
	}
	for i := range data {
		b := append([]byte{}, data...)
		b[i] ^= 0x5a
		_, _, _ = UnmarshalCache(b)
	}
}

// FuzzCacheRoundTrip: any plan Parse gives that encodes decodes equal,
// and any bytes decode without a panic.
func FuzzCacheRoundTrip(f *testing.F) {
	if src, err := os.ReadFile("testdata/full.md"); err == nil {
		f.Add(src)
	}
	f.Add([]byte("---\ntitle: a\nextra: {a: [1, 2.5, x], b: !!timestamp 2026-01-02}\n---\n# x\n"))
	f.Add([]byte("---\ntags: []\ngameday: {schedule: '@weekly'}\n---\n"))
	f.Fuzz(func(t *testing.T, src []byte) {
		_, _, _ = UnmarshalCache(src)
		p, ds := Parse("f.md", "f.md", src)
		data, err := MarshalCache(p, ds)
		if err != nil {
			return // not cached: parsed again every time
		}
		gotP, gotDs, err := UnmarshalCache(data)
		if err != nil {
			t.Fatal(err)
		}
		if d := planDiff(gotP, p); d != "" {
			t.Fatalf("decoded plan differs: %s", d)
		}
		if !reflect.DeepEqual(gotDs, ds) {
			t.Fatalf("decoded findings differ:\n got %v\nwant %v", gotDs, ds)
		}
	})
}
