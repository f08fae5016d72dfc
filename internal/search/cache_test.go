package search

import (
	"bytes"
	"fmt"
	"maps"
	"math"
	"math/rand/v2"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/rollbook/rollbook/internal/bench"
)

// fakeCache is an AnalysisCache in memory that counts what it is asked.
type fakeCache struct {
	mu         sync.Mutex
	m          map[string][]byte
	gets, hits int
	puts       int
}

func newFakeCache() *fakeCache { return &fakeCache{m: map[string][]byte{}} }

func (c *fakeCache) Get(kind string, inputs ...[]byte) ([]byte, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gets++
	data, ok := c.m[fakeKey(kind, inputs)]
	if ok {
		c.hits++
	}
	return bytes.Clone(data), ok
}

func (c *fakeCache) Put(data []byte, kind string, inputs ...[]byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.puts++
	c.m[fakeKey(kind, inputs)] = bytes.Clone(data)
}

// fakeKey joins a kind and its inputs, each after its length.
func fakeKey(kind string, inputs [][]byte) string {
	k := fmt.Sprintf("%d:%s", len(kind), kind)
	for _, in := range inputs {
		k += fmt.Sprintf("%d:%s", len(in), in)
	}
	return k
}

func (c *fakeCache) resetCounts() {
	c.mu.Lock()
	c.gets, c.hits, c.puts = 0, 0, 0
	c.mu.Unlock()
}

// planDocs are n documents made from the benchmark corpus's plans: their
// Markdown as the body, their "## " lines as headings.
func planDocs(n int) []Doc {
	r := rand.New(rand.NewPCG(3, 4))
	svcs := []string{"payments-api", "checkout", "ledger", "search"}
	docs := make([]Doc, n)
	for i := range docs {
		svc := svcs[i%len(svcs)]
		body := bench.Plan(r, i, svc)
		d := Doc{URL: fmt.Sprintf("/%s/plan-%05d/", svc, i), Title: fmt.Sprintf("%s change %d", svc, i), Service: svc,
			Kind: "rollout", Risk: "low", Tags: []string{"canary", fmt.Sprint("t", i%7)}, Body: body, Summary: "s"}
		if i%5 == 0 {
			d.Alerts = []string{"PaymentsHighLatency", fmt.Sprint("Alert", i)}
		}
		for _, line := range strings.Split(body, "\n") {
			if text, ok := strings.CutPrefix(line, "## "); ok {
				d.Headings = append(d.Headings, Heading{ID: fmt.Sprint("h", len(d.Headings)), Text: text})
			}
		}
		docs[i] = d
	}
	return docs
}

// TestNewLiveCached: an index built through an analysis cache, empty,
// warm or with damaged entries, has the files of one built without, and a
// warm cache spares every document's analysis.
func TestNewLiveCached(t *testing.T) {
	docs := planDocs(300)
	plain, err := NewLive(t.Context(), docs)
	if err != nil {
		t.Fatal(err)
	}
	cache := newFakeCache()
	damages := []struct {
		name   string
		damage func([]byte) []byte
	}{
		{"truncated", func(b []byte) []byte { return b[:len(b)/2] }},
		{"empty", func([]byte) []byte { return nil }},
		{"extra byte", func(b []byte) []byte { return append(b, 0) }},
		{"first term's length", func(b []byte) []byte { b[1] ^= 0x7f; return b }},
		{"garbage", func(b []byte) []byte { return bytes.Repeat([]byte{0xff}, len(b)) }},
	}
	type step struct {
		name               string
		before             func()
		wantHits, wantPuts int
	}
	steps := []step{
		{"cold", func() {}, 0, len(docs)},
		{"warm", func() {}, len(docs), 0},
	}
	for _, d := range damages {
		damage := func() {
			for k, v := range cache.m {
				cache.m[k] = d.damage(bytes.Clone(v))
			}
		}
		// A damaged entry is analysed again and stored again, whole.
		steps = append(steps, step{"damaged: " + d.name, damage, len(docs), len(docs)},
			step{"warm after " + d.name, func() {}, len(docs), 0})
	}
	for _, s := range steps {
		s.before()
		cache.resetCounts()
		l, err := NewLiveCached(t.Context(), docs, cache)
		if err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		if !maps.EqualFunc(l.Files(), plain.Files(), bytes.Equal) {
			t.Errorf("%s: the index's files differ from an index built without a cache", s.name)
		}
		if cache.gets != len(docs) || cache.hits != s.wantHits || cache.puts != s.wantPuts {
			t.Errorf("%s: %d gets, %d hits, %d puts; want %d, %d, %d", s.name, cache.gets, cache.hits, cache.puts, len(docs), s.wantHits, s.wantPuts)
		}
	}
}

// TestTermsRoundTrip: an analysis reads back as it was written, every
// frequency to the bit.
func TestTermsRoundTrip(t *testing.T) {
	docs := planDocs(20)
	cases := []struct {
		name     string
		dt       docTerms
		headings int
	}{
		{"empty", docTerms{}, 0},
		{"fractions", docTerms{stats: []termStat{{"a", 0.1 + 0.2, -1}, {"b", math.SmallestNonzeroFloat64, 0}, {"é", 1e300, 2}}, len: 1.0 / 3}, 3},
	}
	for i, d := range docs {
		cases = append(cases, struct {
			name     string
			dt       docTerms
			headings int
		}{fmt.Sprint("plan ", i), analyze(d), len(d.Headings)})
	}
	for _, c := range cases {
		got, err := decodeTerms(encodeTerms(c.dt), c.headings)
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if !reflect.DeepEqual(got, c.dt) {
			t.Errorf("%s: read back %+v, wrote %+v", c.name, got, c.dt)
		}
	}
}

// TestDecodeTermsRejects: an entry analyze could not have made is an
// error, never an analysis.
func TestDecodeTermsRejects(t *testing.T) {
	good := docTerms{stats: []termStat{{"canary", 3, -1}, {"rollback", 10, 1}}, len: 13}
	cases := []struct {
		name     string
		dt       docTerms
		headings int
	}{
		{"terms out of order", docTerms{stats: []termStat{{"rollback", 1, -1}, {"canary", 1, -1}}, len: 2}, 0},
		{"a term twice", docTerms{stats: []termStat{{"canary", 1, -1}, {"canary", 1, -1}}, len: 2}, 0},
		{"an empty term", docTerms{stats: []termStat{{"", 1, -1}}, len: 1}, 0},
		{"a heading the document lacks", good, 1},
		{"a zero frequency", docTerms{stats: []termStat{{"canary", 0, -1}}, len: 1}, 0},
		{"a NaN frequency", docTerms{stats: []termStat{{"canary", math.NaN(), -1}}, len: 1}, 0},
		{"an infinite frequency", docTerms{stats: []termStat{{"canary", math.Inf(1), -1}}, len: 1}, 0},
		{"a NaN length", docTerms{stats: []termStat{{"canary", 1, -1}}, len: math.NaN()}, 0},
		{"terms without length", docTerms{stats: []termStat{{"canary", 1, -1}}}, 0},
	}
	for _, c := range cases {
		if dt, err := decodeTerms(encodeTerms(c.dt), c.headings); err == nil {
			t.Errorf("%s: decoded as %+v", c.name, dt)
		}
	}
	enc := encodeTerms(good)
	for n := range len(enc) {
		if dt, err := decodeTerms(enc[:n], 2); err == nil {
			t.Errorf("cut to %d of %d bytes: decoded as %+v", n, len(enc), dt)
		}
	}
}

// TestAnalysisKey: documents whose analysed text differs have different
// keys, and fields analyze does not read do not change the key.
func TestAnalysisKey(t *testing.T) {
	base := Doc{URL: "/a/", Title: "ab", Service: "c", Tags: []string{"x", "y"}, Alerts: []string{"A"},
		Headings: []Heading{{"h", "Rollback"}}, Body: "body text", Summary: "s", Kind: "rollout"}
	cases := []struct {
		name string
		edit func(*Doc)
		same bool
	}{
		{"title and service split elsewhere", func(d *Doc) { d.Title, d.Service = "a", "bc" }, false},
		{"tags joined", func(d *Doc) { d.Tags = []string{"x y"} }, false},
		{"a tag moved to alerts", func(d *Doc) { d.Tags, d.Alerts = []string{"x"}, []string{"y", "A"} }, false},
		{"heading text", func(d *Doc) { d.Headings[0].Text = "Rollforward" }, false},
		{"one more heading", func(d *Doc) { d.Headings = append(d.Headings, Heading{"i", ""}) }, false},
		{"body", func(d *Doc) { d.Body += "." }, false},
		{"URL, summary, kind, heading ID", func(d *Doc) {
			d.URL, d.Summary, d.Kind, d.Headings[0].ID = "/b/", "other", "process", "other"
		}, true},
		{"facets", func(d *Doc) {
			d.Risk, d.Drill, d.Severity, d.Owners, d.Environments = "high", "pass", "page", []string{"t"}, []string{"prod"}
		}, true},
	}
	for _, c := range cases {
		d := base
		d.Headings = append([]Heading(nil), base.Headings...)
		c.edit(&d)
		if same := slices.EqualFunc(analysisKey(d), analysisKey(base), bytes.Equal); same != c.same {
			t.Errorf("%s: same key %v, want %v", c.name, same, c.same)
		}
	}
}

// BenchmarkAnalysis compares analysing a plan with reading its analysis
// back from a cache entry.
func BenchmarkAnalysis(b *testing.B) {
	docs := planDocs(200)
	enc := make([][]byte, len(docs))
	for i, d := range docs {
		enc[i] = encodeTerms(analyze(d))
	}
	b.Run("analyze", func(b *testing.B) {
		for i := 0; b.Loop(); i++ {
			analyze(docs[i%len(docs)])
		}
	})
	b.Run("key+decode", func(b *testing.B) {
		for i := 0; b.Loop(); i++ {
			d := docs[i%len(docs)]
			analysisKey(d)
			if _, err := decodeTerms(enc[i%len(docs)], len(d.Headings)); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// TestGatherTermsLikeAMap: splitting the terms by first byte over any
// number of cores gathers every term's occurrences, in document order, as
// one map over every document does.
func TestGatherTermsLikeAMap(t *testing.T) {
	docs := planDocs(300)
	docs = append(docs, Doc{URL: "/empty/"}, Doc{URL: "/digits/", Title: "2026 ÿ ünïcode", Body: "0 9 a z ~ é"})
	analysed := make([]docTerms, len(docs))
	want := map[string][]occurrence{}
	for i, d := range docs {
		analysed[i] = analyze(d)
		for _, st := range analysed[i].stats {
			want[st.term] = append(want[st.term], occurrence{i, st.head, st.tf})
		}
	}
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	for _, procs := range []int{1, 2, 3, 7, 300} {
		runtime.GOMAXPROCS(procs)
		terms, occs := gatherTerms(analysed)
		got := map[string][]occurrence{}
		for k, term := range terms {
			if _, twice := got[term]; twice {
				t.Fatalf("%d cores: %q gathered twice", procs, term)
			}
			got[term] = occs[k]
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%d cores: %d terms gathered, want %d, or their occurrences differ", procs, len(got), len(want))
		}
	}
}
