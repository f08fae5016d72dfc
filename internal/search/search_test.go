package search

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"
	"unicode"
)

func TestTokens(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"etcdHighFsyncDurations", []string{"etcdhighfsyncdurations", "etcd", "high", "fsync", "durations"}},
		{"payments-api", []string{"payments-api", "payments", "api"}},
		{"kube_pod_status", []string{"kube_pod_status", "kube", "pod", "status"}},
		{"5xx p99", []string{"5xx", "p99"}},
		{"Roll back, now!", []string{"roll", "back", "now"}},
		{"HTTPServerError", []string{"httpservererror", "http", "server", "error"}},
		{"v2.4.0", []string{"v2.4.0", "v2", "4", "0"}},
		{"", nil},
	}
	for _, tt := range tests {
		if got := Tokens(tt.in); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("Tokens(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// rank scores a query the way the browser client does: exact words only,
// summed per document.
func rank(t *testing.T, files map[string][]byte, query string) []int {
	t.Helper()
	scores := map[int]int{}
	for _, w := range Tokens(query) {
		shard := map[string][]Posting{}
		b, ok := files["t/"+shardKeyN(w, PrefixLen+1)+".json"]
		if !ok {
			b, ok = files["t/"+shardKey(w)+".json"]
		}
		if ok {
			var err error
			if shard, err = DecodeShard(b); err != nil {
				t.Fatal(err)
			}
		}
		for _, p := range shard[w] {
			scores[p.Doc] += p.Score
		}
	}
	var docs []int
	for d := range scores {
		docs = append(docs, d)
	}
	sort.Slice(docs, func(i, j int) bool {
		return scores[docs[i]] > scores[docs[j]] || scores[docs[i]] == scores[docs[j]] && docs[i] < docs[j]
	})
	return docs
}

func TestRankingFieldWeights(t *testing.T) {
	docs := []Doc{
		{URL: "/a/", Title: "Checkout rollback", Body: "steps for the orders table"},
		{URL: "/b/", Title: "Payments canary", Body: "if checkout fails, roll back; checkout checkout"},
		{URL: "/c/", Title: "Edge upgrade", Service: "checkout", Body: "haproxy"},
	}
	idx, err := NewLive(t.Context(), docs)
	if err != nil {
		t.Fatal(err)
	}
	got := rank(t, idx.Files(), "checkout")
	if len(got) != 3 || got[0] != 0 || got[1] != 2 {
		t.Errorf("ranking for checkout = %v; want title hit, then service hit, then body", got)
	}
}

func synthetic(n int) []Doc {
	r := rand.New(rand.NewPCG(1, 2))
	words := strings.Fields("canary rollback traffic error latency migration schema replica leader failover drain node pod release baseline threshold window alert pager incident verify health probe shard index cache throttle retry breaker ledger orders checkout payments search edge kafka etcd redis postgres")
	svcs := []string{"payments-api", "checkout", "search-api", "edge-lb", "ledger", "identity", "kafka", "etcd"}
	docs := make([]Doc, n)
	for i := range docs {
		var b strings.Builder
		for j := 0; j < 300; j++ {
			b.WriteString(words[r.IntN(len(words))] + " ")
		}
		svc := svcs[r.IntN(len(svcs))]
		docs[i] = Doc{URL: fmt.Sprintf("/%s/plan-%05d/", svc, i), Title: fmt.Sprintf("%s %s %s change %d", svc, words[r.IntN(len(words))], words[r.IntN(len(words))], i),
			Service: svc, Kind: "rollout", Risk: []string{"low", "medium", "high"}[r.IntN(3)], Environments: []string{"staging", "production"},
			Owners: []string{"team-" + svc}, Body: b.String(), Headings: []Heading{{ID: "rollback", Text: "Rollback procedure"}}, Summary: "summary"}
	}
	return docs
}

func gz(b []byte) int {
	var buf bytes.Buffer
	w, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	w.Write(b)
	w.Close()
	return buf.Len()
}

// TestFirstQueryBytes reports what a first query downloads on a 10 000-plan
// site (gzip, as served by any static host that compresses), and checks
// exact-title recall.
func TestFirstQueryBytes(t *testing.T) {
	if testing.Short() {
		t.Skip("large index")
	}
	docs := synthetic(10000)
	l, err := NewLive(t.Context(), docs)
	if err != nil {
		t.Fatal(err)
	}
	idx := l.Files()
	js, _ := os.ReadFile("../../themes/default/static/search.js")
	q := "payments-api"
	shard := idx["t/"+shardKeyN(q, PrefixLen+1)+".json"]
	if shard == nil {
		shard = idx["t/"+shardKey(q)+".json"]
	}
	total := gz(js) + gz(idx["manifest.json"]) + gz(shard) + gz(idx["f.json"]) + gz(idx["d/0.json"])
	t.Logf("first query %q downloads %d KB gzipped: search.js %d, manifest %d, shard %d, facets %d, one doc chunk %d",
		q, total/1024, gz(js), gz(idx["manifest.json"]), gz(shard), gz(idx["f.json"]), gz(idx["d/0.json"]))
	// Recall: each plan's exact title ranks it first.
	hits := 0
	for i := 0; i < 500; i++ {
		if r := rank(t, idx, docs[i].Title); len(r) > 0 && r[0] == i {
			hits++
		}
	}
	t.Logf("exact-title recall: %d/500 first", hits)
	if hits < 495 {
		t.Errorf("exact-title recall %d/500 (target >= 99%%)", hits)
	}
}

func FuzzTokens(f *testing.F) {
	f.Add("etcdHighFsyncDurations payments-api kube_pod_status 5xx p99")
	f.Add("\"exact phrase\" -_. ..")
	f.Add("Ünïcode straße ΣΊΣΥΦΟΣ 日本語-text a.b_c")
	f.Fuzz(func(t *testing.T, s string) {
		got := Tokens(s)
		for _, tok := range got {
			if tok == "" || strings.ToLower(tok) != tok {
				t.Fatalf("bad token %q from %q", tok, s)
			}
		}
		if want := tokensByFields(s); !slices.Equal(got, want) {
			t.Fatalf("Tokens(%q) = %q, the plain definition gives %q", s, got, want)
		}
	})
}

// tokensByFields is Tokens written the short way, to check the fast one
// against: words of letters, digits and -_. trimmed of -_., lower-cased,
// then their identifier parts.
func tokensByFields(text string) []string {
	var out []string
	for _, raw := range strings.FieldsFunc(text, func(r rune) bool {
		return !(unicode.IsLetter(r) || unicode.IsDigit(r) || r == '-' || r == '_' || r == '.')
	}) {
		raw = strings.Trim(raw, "-_.")
		if raw == "" {
			continue
		}
		out = append(out, strings.ToLower(raw))
		if parts := splitIdent(raw); len(parts) > 1 {
			for _, p := range parts {
				out = append(out, strings.ToLower(p))
			}
		}
	}
	return out
}

func TestEncodeShardIsJSON(t *testing.T) {
	m := map[string][]Posting{"payments-api": {{1, 250, -1}, {7, 90, 2}}, "über": {{3, 10, 0}}}
	back, err := DecodeShard(append(append([]byte(`{"t":`), encodeShard(m)...), `,"r":{}}`...))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, m) {
		t.Errorf("round trip: %v", back)
	}
}

func BenchmarkBuildIndex(b *testing.B) {
	docs := synthetic(10000)
	for b.Loop() {
		if _, err := NewLive(b.Context(), docs); err != nil {
			b.Fatal(err)
		}
	}
}

// TestLiveReplace checks that replacing documents one at a time gives the
// files a fresh index of the final documents gives (at the same average
// length), and that only the files that differ are reported.
func TestLiveReplace(t *testing.T) {
	docs := []Doc{
		{URL: "/a/", Title: "Payments API canary", Service: "payments-api", Kind: "rollout", Risk: "high", Environments: []string{"production"}, Body: "Shift traffic to the canary; watch the 5xx ratio."},
		{URL: "/b/", Title: "Ledger schema expand", Service: "ledger", Kind: "rollout", Risk: "low", Body: "Add the ledger_ref column, backfill, then read it.", Headings: []Heading{{ID: "backfill", Text: "Backfill"}}},
		{URL: "/c/", Title: "etcd defragmentation", Service: "etcd", Kind: "process", Body: "etcdHighFsyncDurations fires when the disk is slow."},
	}
	edits := []edit{
		{1, Doc{URL: "/b/", Title: "Ledger schema contract", Service: "ledger", Kind: "rollback", Risk: "high", Body: "Drop the legacy column after the canary is healthy.", Headings: []Heading{{ID: "drop", Text: "Drop legacy status"}}}},
		{0, Doc{URL: "/a/", Title: "Payments API canary", Service: "payments-api", Kind: "rollout", Risk: "medium", Body: "Zebra quagga words that no other document has."}},
		{2, docs[2]},
	}
	l := checkReplace(t, docs, edits)
	if _, err := l.Replace(9, Doc{}); err == nil {
		t.Error("Replace out of range: no error")
	}
}

// TestLiveReplaceBigTerm: a term in more than BigTerm documents has its
// full list in a file of its own, which goes when the term shrinks.
func TestLiveReplaceBigTerm(t *testing.T) {
	var docs []Doc
	for i := 0; i <= BigTerm; i++ {
		docs = append(docs, Doc{URL: fmt.Sprintf("/p%d/", i), Title: fmt.Sprintf("plan %d", i), Body: "rollback steps for the canary"})
	}
	l := checkReplace(t, docs, []edit{{3, Doc{URL: "/p3/", Title: "plan 3", Body: "nothing in common"}}})
	if _, ok := l.Files()[bigName("rollback")]; ok {
		t.Error("a term in BigTerm documents still has a file of its own")
	}
	l = checkReplace(t, docs[:BigTerm], []edit{{3, Doc{URL: "/p3/", Title: "plan 3", Body: "rollback rollback canary plus more"}}})
	if _, ok := l.Files()[bigName("rollback")]; ok {
		t.Error("a term in BigTerm documents has a file of its own")
	}
	l, _ = NewLive(t.Context(), docs)
	shard, err := DecodeShard(l.Files()["t/ro.json"])
	if err != nil || len(shard["rollback"]) != TopPostings {
		t.Errorf("big term entry: %d postings inline, %v", len(shard["rollback"]), err)
	}
	full, err := DecodeList(l.Files()[bigName("rollback")])
	if err != nil || len(full) != BigTerm+1 || !slices.Equal(full[:TopPostings], shard["rollback"]) {
		t.Errorf("big term file: %d postings, %v", len(full), err)
	}
}

type edit struct {
	i int
	d Doc
}

// checkReplace applies edits one by one and compares the files with a
// fresh index of the same documents after each.
func checkReplace(t *testing.T, docs []Doc, edits []edit) *Live {
	t.Helper()
	l, err := NewLive(t.Context(), docs)
	if err != nil {
		t.Fatal(err)
	}
	final := append([]Doc(nil), docs...)
	for _, e := range edits {
		before := map[string][]byte{}
		for k, v := range l.Files() {
			before[k] = v
		}
		changed, err := l.Replace(e.i, e.d)
		if err != nil {
			t.Fatal(err)
		}
		final[e.i] = e.d
		want, err := newLive(t.Context(), final, l.avg, nil)
		if err != nil {
			t.Fatal(err)
		}
		for name, data := range want.Files() {
			if got := l.Files()[name]; string(got) != string(data) {
				t.Errorf("after replacing doc %d, %s:\n got %s\nwant %s", e.i, name, got, data)
			}
			if _, reported := changed[name]; !reported && string(before[name]) != string(data) {
				t.Errorf("after replacing doc %d, %s changed but was not reported", e.i, name)
			}
		}
		for name := range l.Files() {
			if _, ok := want.Files()[name]; !ok {
				t.Errorf("after replacing doc %d, stale file %s", e.i, name)
			}
		}
		for name, data := range changed {
			if data == nil {
				if _, still := l.Files()[name]; still {
					t.Errorf("%s reported gone but still there", name)
				}
			}
		}
	}
	return l
}

// TestLiveAppend: an appended document is listed under each of its terms
// with the score a fresh index gives it, every other document keeps its
// terms, and the files the append reports are the ones that changed.
func TestLiveAppend(t *testing.T) {
	docs := []Doc{
		{URL: "/a/", Title: "Payments API canary", Service: "payments-api", Kind: "rollout", Body: "Shift traffic to the canary."},
		{URL: "/b/", Title: "Ledger schema expand", Service: "ledger", Kind: "rollout", Body: "Add the ledger_ref column."},
	}
	l, err := NewLive(t.Context(), docs)
	if err != nil {
		t.Fatal(err)
	}
	before := maps.Clone(l.Files())
	d := Doc{URL: "/c/", Title: "Canary for the ledger", Service: "ledger", Kind: "rollback", Risk: "high", Body: "A brand-new word: zebra."}
	i, changed, err := l.Append(d)
	if err != nil || i != 2 {
		t.Fatalf("Append: %d, %v", i, err)
	}
	want, err := newLive(t.Context(), append(slices.Clone(docs), d), l.avg, nil)
	if err != nil {
		t.Fatal(err)
	}
	for name, data := range want.Files() {
		got, ok := l.Files()[name]
		if !ok {
			t.Errorf("%s missing after Append", name)
			continue
		}
		if _, reported := changed[name]; !reported && string(before[name]) != string(got) {
			t.Errorf("%s changed but was not reported", name)
		}
		if !strings.HasPrefix(name, "t/") {
			if string(got) != string(data) {
				t.Errorf("%s:\n got %s\nwant %s", name, got, data)
			}
			continue
		}
		g, _ := DecodeShard(got)
		w, _ := DecodeShard(data)
		for term, wl := range w {
			docsOf := func(l []Posting) []int {
				var out []int
				for _, p := range l {
					out = append(out, p.Doc)
					if p.Doc == 2 && !slices.Contains(wl, p) {
						t.Errorf("%s: the new document's posting %v is not a fresh index's", term, p)
					}
				}
				slices.Sort(out)
				return out
			}
			if a, b := docsOf(g[term]), docsOf(wl); !slices.Equal(a, b) {
				t.Errorf("%s lists documents %v, want %v", term, a, b)
			}
		}
	}
}

// TestLiveRemove: a removed document leaves every term list and facet,
// its result row is null, the manifest lists it as gone, and only the
// files it was in are reported changed.
func TestLiveRemove(t *testing.T) {
	docs := []Doc{
		{URL: "/a/", Title: "Payments API canary", Service: "payments-api", Kind: "rollout", Body: "Shift traffic to the canary."},
		{URL: "/b/", Title: "Ledger schema expand", Service: "ledger", Kind: "rollout", Risk: "high", Body: "Add the ledger_ref column. Zebra."},
		{URL: "/c/", Title: "Canary for the ledger", Service: "ledger", Kind: "rollback", Body: "Roll the canary back."},
	}
	l, err := NewLive(t.Context(), docs)
	if err != nil {
		t.Fatal(err)
	}
	before := maps.Clone(l.Files())
	changed, err := l.Remove(1)
	if err != nil {
		t.Fatal(err)
	}
	for name, data := range l.Files() {
		if _, reported := changed[name]; !reported && string(before[name]) != string(data) {
			t.Errorf("%s changed but was not reported", name)
		}
		if !strings.HasPrefix(name, "t/") {
			continue
		}
		m, err := DecodeShard(data)
		if err != nil {
			t.Fatal(err)
		}
		for term, list := range m {
			for _, p := range list {
				if p.Doc == 1 {
					t.Errorf("%s still lists the removed document", term)
				}
			}
		}
	}
	for name := range before {
		if _, ok := l.Files()[name]; !ok && changed[name] != nil {
			t.Errorf("%s is gone but reported with content", name)
		}
	}
	if _, ok := before["t/ze.json"]; !ok {
		t.Fatal("no shard for zebra before the removal")
	}
	if _, ok := l.Files()["t/ze.json"]; ok {
		t.Error("the shard of a word only the removed document had is still written")
	}
	var man struct {
		Docs int   `json:"docs"`
		Gone []int `json:"gone"`
	}
	if err := json.Unmarshal(l.Files()["manifest.json"], &man); err != nil || man.Docs != 3 || !slices.Equal(man.Gone, []int{1}) {
		t.Errorf("manifest %s: want 3 documents, 1 gone", l.Files()["manifest.json"])
	}
	var rows []json.RawMessage
	if err := json.Unmarshal(l.Files()["d/0.json"], &rows); err != nil || len(rows) != 3 || string(rows[1]) != "null" || !strings.Contains(string(rows[2]), "/c/") {
		t.Errorf("result rows after the removal: %s", l.Files()["d/0.json"])
	}
	if f := string(l.Files()["f.json"]); strings.Contains(f, `"high"`) {
		t.Errorf("facets still count the removed document: %s", f)
	}
	if _, err := l.Remove(1); err == nil {
		t.Error("removing a document twice is not an error")
	}
	if _, err := l.Replace(1, docs[0]); err == nil {
		t.Error("replacing a removed document is not an error")
	}
}

// encodeShard writes a shard's terms as JSON, sorted, from their postings
// (the index encodes from its cached entries).
func encodeShard(m map[string][]Posting) []byte {
	terms := make([]string, 0, len(m))
	size := 2
	for t, l := range m {
		terms = append(terms, t)
		size += len(t) + 4 + len(l)*16
	}
	sort.Strings(terms)
	b := make([]byte, 0, size)
	b = append(b, '{')
	for i, t := range terms {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendTerm(b, t, m[t])
	}
	return append(b, '}')
}

// TestNewLiveStopsWhenCancelled: indexing a cancelled build's pages stops
// with the context's error instead of finishing the index.
func TestNewLiveStopsWhenCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if l, err := NewLive(ctx, synthetic(200)); !errors.Is(err, context.Canceled) || l != nil {
		t.Errorf("NewLive with a cancelled context = %v, %v; want nil, context.Canceled", l, err)
	}
}

// TestLiveBigTermFilesAfterChanges: after appends, removals and
// replacements the full-list file of every big term is the encoding of
// its current postings, though a change re-encodes only the lists it
// touched, from postings it keeps in document order.
func TestLiveBigTermFilesAfterChanges(t *testing.T) {
	var docs []Doc
	for i := 0; i < BigTerm+3; i++ {
		body := "rollback steps for the canary"
		if i%2 == 0 {
			body += " and the migration guard"
		}
		docs = append(docs, Doc{URL: fmt.Sprintf("/p%d/", i), Title: fmt.Sprintf("plan %d", i), Body: body})
	}
	l, err := NewLive(t.Context(), docs)
	if err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		name string
		do   func() error
	}{
		{"append", func() error {
			_, _, err := l.Append(Doc{URL: "/new1/", Title: "new 1", Body: "rollback rollback canary"})
			return err
		}},
		{"remove", func() error { _, err := l.Remove(5); return err }},
		{"replace", func() error {
			_, err := l.Replace(8, Doc{URL: "/p8/", Title: "plan 8", Body: "rollback only, no other words"})
			return err
		}},
		{"append again", func() error {
			_, _, err := l.Append(Doc{URL: "/new2/", Title: "new 2", Body: "canary migration guard steps"})
			return err
		}},
		// Once more at once: the full lists go on from the last encoding.
		{"append a third", func() error {
			_, _, err := l.Append(Doc{URL: "/new3/", Title: "new 3", Body: "rollback canary steps for the guard"})
			return err
		}},
		{"remove the first append", func() error { _, err := l.Remove(BigTerm + 3); return err }},
		{"append after the removal", func() error {
			_, _, err := l.Append(Doc{URL: "/new4/", Title: "new 4", Body: "rollback steps"})
			return err
		}},
	}
	for _, s := range steps {
		if err := s.do(); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		big := 0
		for term, list := range l.lists {
			if len(list) <= BigTerm {
				continue
			}
			big++
			got, ok := l.Files()[bigName(term)]
			if !ok {
				t.Errorf("after %s: no full-list file for %q (%d postings)", s.name, term, len(list))
				continue
			}
			if want := encodeList(list); string(got) != string(want) {
				t.Errorf("after %s: the full list of %q is not its postings' encoding", s.name, term)
			}
		}
		if big == 0 {
			t.Fatalf("after %s: no big term left to check", s.name)
		}
	}
}

// TestEncodedFromKeepsOnlyAStart: what was encoded of a list is kept
// while a change moves postings after it, and dropped when it moves one
// of those encoded.
func TestEncodedFromKeepsOnlyAStart(t *testing.T) {
	l := &Live{enc: map[string]*listEnc{"a": {n: 3}, "b": {n: 3}, "c": {n: 3}}}
	l.encodedFrom("a", 3)
	l.encodedFrom("b", 2)
	l.encodedFrom("c", 0)
	l.encodedFrom("none", 0)
	if l.enc["a"] == nil || l.enc["b"] != nil || l.enc["c"] != nil {
		t.Errorf("kept: a %v, b %v, c %v; want only a", l.enc["a"] != nil, l.enc["b"] != nil, l.enc["c"] != nil)
	}
}
