// Package search owns the site's client-side search index: runbook-aware
// tokenising, BM25 scores with field weights computed at build time, and
// the split into a small manifest, term shards by two-letter prefix,
// document chunks and facet lists, so a query downloads only what it needs.
package search

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"
)

// Tokens splits text into index terms. Identifiers are kept whole and also
// split into their parts, so "etcdHighFsyncDurations", "payments-api" and
// "kube_pod_status" are found by the whole and by "fsync", "api", "pod".
func Tokens(text string) []string {
	var out []string
	eachToken(text, func(t string) { out = append(out, t) })
	return out
}

// eachToken calls emit with each of text's terms, in Tokens' order. It
// allocates only for words that are not already lower-case: indexing
// ten thousand plans tokenises megabytes.
func eachToken(text string, emit func(string)) {
	i := 0
	for i < len(text) {
		// Skip to the start of a word.
		for i < len(text) {
			c := text[i]
			if c < utf8.RuneSelf {
				if wordByte(c) {
					break
				}
				i++
				continue
			}
			r, n := utf8.DecodeRuneInString(text[i:])
			if unicode.IsLetter(r) || unicode.IsDigit(r) {
				break
			}
			i += n
		}
		start := i
		plain := true // lower-case ASCII letters and digits only
		for i < len(text) {
			c := text[i]
			if c < utf8.RuneSelf {
				if !wordByte(c) {
					break
				}
				if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9') {
					plain = false
				}
				i++
				continue
			}
			r, n := utf8.DecodeRuneInString(text[i:])
			if !(unicode.IsLetter(r) || unicode.IsDigit(r)) {
				break
			}
			plain = false
			i += n
		}
		raw := strings.Trim(text[start:i], "-_.")
		if raw == "" {
			continue
		}
		if plain {
			emit(raw)
			continue
		}
		emit(strings.ToLower(raw))
		if parts := splitIdent(raw); len(parts) > 1 {
			for _, p := range parts {
				emit(strings.ToLower(p))
			}
		}
	}
}

// wordByte reports whether an ASCII byte belongs to a word: letters,
// digits and the identifier joiners '-', '_' and '.'.
func wordByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.'
}

// splitIdent splits at '-', '_', '.' and lower-to-upper case changes.
func splitIdent(s string) []string {
	// Most words are plain lower-case ASCII: nothing to split.
	plain := true
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9') {
			plain = false
			break
		}
	}
	if plain {
		return nil
	}
	var parts []string
	var cur []rune
	rs := []rune(s)
	flush := func() {
		if len(cur) > 0 {
			parts = append(parts, string(cur))
			cur = cur[:0]
		}
	}
	for i, r := range rs {
		switch {
		case r == '-' || r == '_' || r == '.':
			flush()
		case unicode.IsUpper(r) && i > 0 && (unicode.IsLower(rs[i-1]) || i+1 < len(rs) && unicode.IsLower(rs[i+1]) && unicode.IsUpper(rs[i-1])):
			flush()
			cur = append(cur, r)
		default:
			cur = append(cur, r)
		}
	}
	flush()
	return parts
}

// Field weights: a title hit outweighs a service or tag hit, which
// outweighs a heading, which outweighs body text.
const (
	WeightTitle   = 10.0
	WeightService = 5.0
	WeightTags    = 4.0
	WeightHeading = 3.0
	WeightBody    = 1.0
)

// Doc is one page to index.
type Doc struct {
	URL, Title, Service, Kind, Risk string
	Environments, Owners, Tags      []string
	Drill                           string
	Headings                        []Heading
	Body                            string
	Summary                         string
}

// Heading is an anchor a result can link to.
type Heading struct{ ID, Text string }

// Index is what the site writes under _search/.
type Index struct {
	Files map[string][]byte
}

// PrefixLen is how many leading characters choose a term's shard.
const PrefixLen = 2

// ChunkSize is how many documents one metadata file holds.
const ChunkSize = 50

// Build computes BM25 scores (k1 1.2, b 0.75 over the weighted length)
// and splits the index into files.
func Build(docs []Doc) (*Index, error) {
	l, err := NewLive(docs)
	if err != nil {
		return nil, err
	}
	return &Index{Files: l.files}, nil
}

// docTerms is one document's weighted term frequencies.
type docTerms struct {
	idx   map[string]int32 // term -> its entry in stats
	stats []termStat
	len   float64
}

// termStat is a term's weighted frequency in a document and the first
// heading holding it (-1 for none). Counting a token costs one map lookup,
// and scoring every posting of ten thousand documents none.
type termStat struct {
	tf   float64
	head int
}

func analyze(d Doc) docTerms {
	dt := docTerms{idx: map[string]int32{}}
	add := func(text string, w float64, head int) {
		eachToken(text, func(t string) {
			i, ok := dt.idx[t]
			if !ok {
				i = int32(len(dt.stats))
				dt.idx[t] = i
				dt.stats = append(dt.stats, termStat{head: -1})
			}
			st := &dt.stats[i]
			st.tf += w
			if st.head < 0 {
				st.head = head
			}
			dt.len += w
		})
	}
	add(d.Title, WeightTitle, -1)
	add(d.Service, WeightService, -1)
	add(strings.Join(d.Tags, " "), WeightTags, -1)
	for hi, h := range d.Headings {
		add(h.Text, WeightHeading, hi)
	}
	add(d.Body, WeightBody, -1)
	return dt
}

func (dt docTerms) stat(t string) (termStat, bool) {
	if i, ok := dt.idx[t]; ok {
		return dt.stats[i], true
	}
	return termStat{head: -1}, false
}

func (dt docTerms) heading(t string) int {
	st, _ := dt.stat(t)
	return st.head
}

// Live is an index held in memory so that one document can be replaced
// and only the files it touches rewritten (rollbook serve). Scores use
// the average document length of the full build; every other statistic
// is kept exact.
type Live struct {
	docs  []Doc
	terms []docTerms
	avg   float64
	lists map[string][][3]int // term -> [doc, score, heading], best first
	// split holds the two-letter keys whose shard was too large and is
	// split by a third letter.
	split  map[string]bool
	shards map[string]map[string]struct{} // shard key -> its terms
	files  map[string][]byte
	// frag caches each term's encoded entry, so that rewriting a shard
	// re-encodes only the terms that changed.
	frag map[string][]byte
	// bigFiles are the full-list files each shard wrote.
	bigFiles map[string][]string
	// gone are the numbers of removed documents: the ones after them keep
	// theirs, so a removal rewrites only the removed document's files.
	gone []int
}

const bm25K1, bm25B = 1.2, 0.75

func (l *Live) score(t string, doc, df int) int {
	st, _ := l.terms[doc].stat(t)
	return l.scoreOf(l.idf(df), st.tf, doc)
}

func (l *Live) idf(df int) float64 {
	return math.Log(1 + (float64(len(l.docs))-float64(df)+0.5)/(float64(df)+0.5))
}

// scoreOf is BM25 of a term with the given idf and frequency in doc,
// scaled to an integer.
func (l *Live) scoreOf(idf, tf float64, doc int) int {
	s := idf * tf * (bm25K1 + 1) / (tf + bm25K1*(1-bm25B+bm25B*l.terms[doc].len/l.avg))
	return int(math.Round(s * 100))
}

// byRank orders postings best first: by score, then by document.
func byRank(a, b [3]int) int {
	if a[1] != b[1] {
		return b[1] - a[1]
	}
	return a[0] - b[0]
}

func better(a, b [3]int) bool { return byRank(a, b) < 0 }

// NewLive indexes docs.
func NewLive(docs []Doc) (*Live, error) { return newLive(docs, 0) }

// newLive indexes docs; a positive avg fixes the average length that
// scores use instead of computing it (tests compare Replace with it).
func newLive(docs []Doc, avg float64) (*Live, error) {
	l := &Live{docs: append([]Doc(nil), docs...), terms: make([]docTerms, len(docs)), avg: 1,
		lists: map[string][][3]int{}, split: map[string]bool{}, shards: map[string]map[string]struct{}{}, files: map[string][]byte{}, frag: map[string][]byte{}, bigFiles: map[string][]string{}}
	// Tokenising is most of the work and each document is independent.
	workers := min(runtime.GOMAXPROCS(0), max(1, len(docs)/64))
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < len(docs); i += workers {
				l.terms[i] = analyze(docs[i])
			}
		}()
	}
	wg.Wait()
	var total float64
	// Each term's postings, unscored: [doc, -, heading], with the
	// term's frequency beside.
	type occurrence struct {
		doc, head int
		tf        float64
	}
	docsOf := map[string][]occurrence{}
	for i, dt := range l.terms {
		total += dt.len
		for t, k := range dt.idx {
			st := dt.stats[k]
			docsOf[t] = append(docsOf[t], occurrence{i, st.head, st.tf})
		}
	}
	if len(docs) > 0 && total > 0 {
		l.avg = total / float64(len(docs))
	}
	if avg > 0 {
		l.avg = avg
	}
	// Scoring and ranking each term's postings is independent work too.
	terms := make([]string, 0, len(docsOf))
	for t := range docsOf {
		terms = append(terms, t)
	}
	// So is encoding each term's shard entry and, for a big term, its
	// full list, which comes in document order as the postings do here.
	lists := make([][][3]int, len(terms))
	frags := make([][]byte, len(terms))
	bigs := make([][]byte, len(terms))
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := w; k < len(terms); k += workers {
				occs := docsOf[terms[k]]
				list := make([][3]int, len(occs))
				idf := l.idf(len(occs))
				for j, o := range occs {
					list[j] = [3]int{o.doc, l.scoreOf(idf, o.tf, o.doc), o.head}
				}
				if len(list) > BigTerm {
					bigs[k] = encodeDocOrder(list)
				}
				slices.SortFunc(list, byRank)
				lists[k] = list
				frags[k] = entry(nil, terms[k], list)
			}
		}()
	}
	wg.Wait()
	byKey := map[string][]string{}
	bigEnc := map[string][]byte{}
	for k, t := range terms {
		l.lists[t] = lists[k]
		l.frag[t] = frags[k]
		if bigs[k] != nil {
			bigEnc[t] = bigs[k]
		}
		byKey[shardKey(t)] = append(byKey[shardKey(t)], t)
	}
	for k, ts := range byKey {
		if len(l.encode(ts)) > MaxShard {
			// A large shard is split by a third character, so a query for
			// "payments" does not download every "pa…" term.
			l.split[k] = true
		}
		for _, t := range ts {
			l.addTerm(t)
		}
	}
	// Every shard at once: building one only reads the index.
	keys := make([]string, 0, len(l.shards))
	for k := range l.shards {
		keys = append(keys, k)
	}
	shards := make([]shardFiles, len(keys))
	errs := make([]error, len(keys))
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < len(keys); i += workers {
				shards[i], errs[i] = l.buildShard(keys[i], bigEnc)
			}
		}()
	}
	wg.Wait()
	for i, k := range keys {
		if errs[i] != nil {
			return nil, errs[i]
		}
		l.storeShard(k, shards[i])
	}
	for c := 0; c*ChunkSize < len(docs); c++ {
		if err := l.writeChunk(c); err != nil {
			return nil, err
		}
	}
	if err := l.writeFacets(); err != nil {
		return nil, err
	}
	return l, l.writeManifest()
}

// Files returns the index's files by name; the map is the index's own.
func (l *Live) Files() map[string][]byte { return l.files }

func (l *Live) shardOf(t string) string {
	if k := shardKey(t); !l.split[k] {
		return k
	}
	return shardKeyN(t, PrefixLen+1)
}

func (l *Live) addTerm(t string) {
	k := l.shardOf(t)
	if l.shards[k] == nil {
		l.shards[k] = map[string]struct{}{}
	}
	l.shards[k][t] = struct{}{}
}

// encode writes the shard holding terms; the result is the same as
// encodeShard's, built from the cached entry of each term.
func (l *Live) encode(terms []string) []byte {
	sort.Strings(terms)
	size := 2
	for _, t := range terms {
		f, ok := l.frag[t]
		if !ok {
			f = l.appendEntry(nil, t)
			l.frag[t] = f
		}
		size += len(f) + 1
	}
	b := make([]byte, 0, size)
	b = append(b, '{')
	for i, t := range terms {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, l.frag[t]...)
	}
	return append(b, '}')
}

// BigTerm is the number of postings above which a term's full list is
// a file of its own, fetched only when a query uses the whole word: the
// shard keeps its best TopPostings, enough for results as you type. A
// word in most plans ("rollback") would otherwise make its prefix's
// shard hundreds of kilobytes.
const (
	BigTerm     = 1000
	TopPostings = 300
)

// bigName is the file holding a big term's full list.
func bigName(t string) string { return "l/" + shardKeyN(t, len(t)) + ".json" }

// appendEntry writes a term's shard entry: its list, or for a big term
// {"top": best postings, "n": how many, "f": file of the full list}.
func (l *Live) appendEntry(b []byte, t string) []byte { return entry(b, t, l.lists[t]) }

// entry encodes a term's shard entry from its postings, best first.
func entry(b []byte, t string, list [][3]int) []byte {
	if len(list) <= BigTerm {
		return appendTerm(b, t, list)
	}
	b = append(b, '"')
	b = append(b, t...)
	b = append(b, `":{"top":`...)
	top := appendTerm(nil, "", list[:TopPostings])
	b = append(b, top[len(`"":`):]...)
	b = append(b, `,"n":`...)
	b = strconv.AppendInt(b, int64(len(list)), 10)
	b = append(b, `,"f":"`...)
	b = append(b, bigName(t)...)
	return append(b, `"}`...)
}

// encodeList writes a big term's full list in document order, which a
// query reads whole: {"d": document numbers as gaps, "s": their scores,
// "h": [document, heading, …] for the postings in a heading}. Gaps are
// one or two digits where document numbers are four or five: half the
// bytes, and a fraction once compressed.
func encodeList(list [][3]int) []byte {
	byDoc := slices.Clone(list)
	slices.SortFunc(byDoc, func(a, b [3]int) int { return a[0] - b[0] })
	return encodeDocOrder(byDoc)
}

// encodeDocOrder is encodeList of postings already in document order.
func encodeDocOrder(byDoc [][3]int) []byte {
	b := make([]byte, 0, len(byDoc)*8+32)
	b = append(b, `{"d":[`...)
	prev := 0
	for i, p := range byDoc {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendInt(b, int64(p[0]-prev), 10)
		prev = p[0]
	}
	b = append(b, `],"s":[`...)
	for i, p := range byDoc {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendInt(b, int64(p[1]), 10)
	}
	b = append(b, `],"h":[`...)
	first := true
	for _, p := range byDoc {
		if p[2] < 0 {
			continue
		}
		if !first {
			b = append(b, ',')
		}
		first = false
		b = strconv.AppendInt(b, int64(p[0]), 10)
		b = append(b, ',')
		b = strconv.AppendInt(b, int64(p[2]), 10)
	}
	return append(b, `]}`...)
}

// DecodeList reads a big term's list file back, best first.
func DecodeList(data []byte) ([][3]int, error) {
	var v struct{ D, S, H []int }
	if err := json.Unmarshal(data, &v); err != nil {
		return nil, err
	}
	if len(v.D) != len(v.S) || len(v.H)%2 != 0 {
		return nil, fmt.Errorf("search: malformed list")
	}
	heads := map[int]int{}
	for i := 0; i < len(v.H); i += 2 {
		heads[v.H[i]] = v.H[i+1]
	}
	out := make([][3]int, len(v.D))
	doc := 0
	for i, gap := range v.D {
		doc += gap
		h, ok := heads[doc]
		if !ok {
			h = -1
		}
		out[i] = [3]int{doc, v.S[i], h}
	}
	slices.SortFunc(out, byRank)
	return out, nil
}

// writeShard writes a shard, {"t": its terms, "r": result rows}, and the
// full lists of its big terms, or removes them all when the shard has no
// term left.
func (l *Live) writeShard(k string) error {
	sf, err := l.buildShard(k, nil)
	if err != nil {
		return err
	}
	l.storeShard(k, sf)
	return nil
}

// shardFiles are a shard's file and its big terms' full lists; no data
// means the shard has no terms left.
type shardFiles struct {
	data    []byte
	big     []string
	bigData [][]byte
	nothing bool
}

// buildShard encodes shard k. It only reads the index (every term's
// entry must be in frag, as newLive leaves it, or the shard is encoded
// by one goroutine); encoded holds full lists already made.
func (l *Live) buildShard(k string, encoded map[string][]byte) (shardFiles, error) {
	if len(l.shards[k]) == 0 {
		return shardFiles{nothing: true}, nil
	}
	var sf shardFiles
	terms := make([]string, 0, len(l.shards[k]))
	for t := range l.shards[k] {
		terms = append(terms, t)
		if list := l.lists[t]; len(list) > BigTerm {
			data, ok := encoded[t]
			if !ok {
				data = encodeList(list)
			}
			sf.big = append(sf.big, bigName(t))
			sf.bigData = append(sf.bigData, data)
		}
	}
	rows, err := l.results(terms)
	if err != nil {
		return sf, err
	}
	b := append([]byte(`{"t":`), l.encode(terms)...)
	b = append(b, `,"r":`...)
	b = append(b, rows...)
	sf.data = append(b, '}')
	return sf, nil
}

// storeShard puts a built shard's files in the index, in place of the
// ones it had.
func (l *Live) storeShard(k string, sf shardFiles) {
	name := "t/" + k + ".json"
	for _, f := range l.bigFiles[k] {
		delete(l.files, f)
	}
	delete(l.bigFiles, k)
	if sf.nothing {
		delete(l.shards, k)
		delete(l.files, name)
		return
	}
	for i, f := range sf.big {
		l.files[f] = sf.bigData[i]
		l.bigFiles[k] = append(l.bigFiles[k], f)
	}
	l.files[name] = sf.data
}

// ResultsPerTerm is how many of each term's best documents have their
// result row in the term's shard: a one-word query then shows its results
// after one round trip, instead of a second one fanning out to a chunk
// per result.
const ResultsPerTerm = 10

// results encodes {doc: [url, title, service, kind, risk, summary,
// {heading index: [id, text]}]} for the best documents of every term, with
// the headings those postings point to.
func (l *Live) results(terms []string) ([]byte, error) {
	heads := map[int]map[int]bool{}
	for _, t := range terms {
		list := l.lists[t]
		for _, p := range list[:min(len(list), ResultsPerTerm)] {
			if heads[p[0]] == nil {
				heads[p[0]] = map[int]bool{}
			}
			if p[2] >= 0 {
				heads[p[0]][p[2]] = true
			}
		}
	}
	rows := make(map[int][]any, len(heads))
	for doc, hs := range heads {
		d := l.docs[doc]
		hm := map[int][2]string{}
		for h := range hs {
			if h < len(d.Headings) {
				hm[h] = [2]string{d.Headings[h].ID, d.Headings[h].Text}
			}
		}
		rows[doc] = []any{d.URL, d.Title, d.Service, d.Kind, d.Risk, d.Summary, hm}
	}
	return json.Marshal(rows)
}

func (l *Live) writeChunk(c int) error {
	var chunk [][]any
	for i := c * ChunkSize; i < min(len(l.docs), (c+1)*ChunkSize); i++ {
		d := l.docs[i]
		var hs [][2]string
		for _, h := range d.Headings {
			hs = append(hs, [2]string{h.ID, h.Text})
		}
		if slices.Contains(l.gone, i) {
			chunk = append(chunk, nil)
			continue
		}
		chunk = append(chunk, []any{d.URL, d.Title, d.Service, d.Kind, d.Risk, d.Summary, hs})
	}
	b, err := json.Marshal(chunk)
	if err != nil {
		return err
	}
	l.files[fmt.Sprintf("d/%d.json", c)] = b
	return nil
}

func (l *Live) writeFacets() error {
	facets := map[string]map[string][]int{"service": {}, "kind": {}, "risk": {}, "environment": {}, "owner": {}, "drill": {}}
	for i, d := range l.docs {
		addF := func(f, v string) {
			if v != "" {
				facets[f][v] = append(facets[f][v], i)
			}
		}
		addF("service", d.Service)
		addF("kind", d.Kind)
		addF("risk", d.Risk)
		addF("drill", d.Drill)
		for _, e := range d.Environments {
			addF("environment", e)
		}
		for _, o := range d.Owners {
			addF("owner", o)
		}
	}
	// Doc ids delta-encoded: small numbers compress and parse fast.
	enc := map[string]map[string][]int{}
	for f, vals := range facets {
		enc[f] = map[string][]int{}
		for v, ids := range vals {
			d := make([]int, len(ids))
			prev := 0
			for i, id := range ids {
				d[i] = id - prev
				prev = id
			}
			enc[f][v] = d
		}
	}
	fb, err := json.Marshal(enc)
	if err != nil {
		return err
	}
	l.files["f.json"] = fb
	return nil
}

func (l *Live) writeManifest() error {
	keys := make([]string, 0, len(l.shards))
	for k := range l.shards {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	manifest := map[string]any{"version": 2, "top": TopPostings, "docs": len(l.docs), "chunk": ChunkSize, "prefix": PrefixLen, "shards": keys}
	if len(l.gone) > 0 {
		manifest["gone"] = l.gone // never listed, not even by an empty query
	}
	mb, err := json.Marshal(manifest)
	if err != nil {
		return err
	}
	l.files["manifest.json"] = mb
	return nil
}

// Append adds d as the last document and returns its number and the
// files that changed.
func (l *Live) Append(d Doc) (int, map[string][]byte, error) {
	l.docs = append(l.docs, Doc{})
	l.terms = append(l.terms, docTerms{idx: map[string]int32{}})
	i := len(l.docs) - 1
	changed, err := l.replace(i, d, false)
	return i, changed, err
}

// Remove takes document i out of the index and returns the files that
// changed. Its number stays taken, listed as gone in the manifest, until
// the index is next built whole; like Append, it leaves the other
// documents' scores as they were.
func (l *Live) Remove(i int) (map[string][]byte, error) {
	if i < 0 || i >= len(l.docs) || slices.Contains(l.gone, i) {
		return nil, fmt.Errorf("search: no document %d", i)
	}
	l.gone = append(l.gone, i)
	slices.Sort(l.gone)
	return l.replace(i, Doc{}, false)
}

// Replace puts d in the place of document i and returns the files that
// changed: new content, or nil for a file that is gone.
func (l *Live) Replace(i int, d Doc) (map[string][]byte, error) { return l.replace(i, d, true) }

// replace is Replace; with rescore false, a term whose document count
// changed keeps the other documents' scores (Append and Remove: a new or
// removed document changes the count of every one of its terms, and
// rescoring their lists, thousands of postings for common words, would
// cost a second; their idf moves by one document in the site's count,
// like the average length that scores already keep from the full build).
func (l *Live) replace(i int, d Doc, rescore bool) (map[string][]byte, error) {
	if i < 0 || i >= len(l.docs) {
		return nil, fmt.Errorf("search: no document %d", i)
	}
	if d.URL != "" && slices.Contains(l.gone, i) {
		return nil, fmt.Errorf("search: document %d was removed", i)
	}
	old, cur := l.terms[i], analyze(d)
	old0 := l.docs[i]
	facetsMoved := !sameFacets(old0, d)
	l.docs[i], l.terms[i] = d, cur
	dirty := map[string]bool{}
	touch := func(t string) {
		_, was := old.idx[t]
		_, is := cur.idx[t]
		list := l.lists[t]
		at := -1
		for j := range list {
			if list[j][0] == i {
				at = j
				break
			}
		}
		if was && is && list[at] == [3]int{i, l.score(t, i, len(list)), cur.heading(t)} {
			return // the document's entry for the term did not move
		}
		if at >= 0 {
			list = append(list[:at], list[at+1:]...)
		}
		delete(l.frag, t)
		if was != is && rescore {
			// The term's document frequency changed, and with it every
			// score in its list.
			df := len(list)
			if is {
				df++
			}
			for j := range list {
				list[j][1] = l.score(t, list[j][0], df)
			}
			slices.SortFunc(list, byRank)
		}
		if is {
			p := [3]int{i, l.score(t, i, len(list)+1), cur.heading(t)}
			at = sort.Search(len(list), func(j int) bool { return better(p, list[j]) })
			list = append(list, [3]int{})
			copy(list[at+1:], list[at:])
			list[at] = p
		}
		k := l.shardOf(t)
		dirty[k] = true
		if len(list) == 0 {
			delete(l.lists, t)
			delete(l.shards[k], t)
			return
		}
		l.lists[t] = list
		l.addTerm(t)
	}
	for t := range old.idx {
		touch(t)
	}
	for t := range cur.idx {
		if _, done := old.idx[t]; !done {
			touch(t)
		}
	}
	if !sameRow(old0, d) {
		// The document's result row changed: rewrite every shard that
		// carries it among a term's best documents.
		for t, list := range l.lists {
			for _, p := range list[:min(len(list), ResultsPerTerm)] {
				if p[0] == i {
					dirty[l.shardOf(t)] = true
					break
				}
			}
		}
	}
	changed := map[string][]byte{}
	for k := range dirty {
		for _, f := range l.bigFiles[k] {
			changed[f] = nil // unless written again below
		}
		if err := l.writeShard(k); err != nil {
			return nil, err
		}
		for _, f := range append(l.bigFiles[k], "t/"+k+".json") {
			changed[f] = l.files[f]
		}
	}
	if err := l.writeChunk(i / ChunkSize); err != nil {
		return nil, err
	}
	changed[fmt.Sprintf("d/%d.json", i/ChunkSize)] = l.files[fmt.Sprintf("d/%d.json", i/ChunkSize)]
	if facetsMoved {
		if err := l.writeFacets(); err != nil {
			return nil, err
		}
		changed["f.json"] = l.files["f.json"]
	}
	manifest := l.files["manifest.json"]
	if err := l.writeManifest(); err != nil {
		return nil, err
	}
	if !bytes.Equal(manifest, l.files["manifest.json"]) {
		changed["manifest.json"] = l.files["manifest.json"]
	}
	return changed, nil
}

func sameRow(a, b Doc) bool {
	return a.URL == b.URL && a.Title == b.Title && a.Service == b.Service && a.Kind == b.Kind && a.Risk == b.Risk &&
		a.Summary == b.Summary && slices.Equal(a.Headings, b.Headings)
}

func sameFacets(a, b Doc) bool {
	return a.Service == b.Service && a.Kind == b.Kind && a.Risk == b.Risk && a.Drill == b.Drill &&
		slices.Equal(a.Environments, b.Environments) && slices.Equal(a.Owners, b.Owners)
}

// encodeShard writes a shard as JSON, terms sorted. Written by hand: it
// is most of the index's bytes, and reflection made it a third of a large
// site's build. Terms come from Tokens, so they hold no character JSON
// needs to escape.
func encodeShard(m map[string][][3]int) []byte {
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

// DecodeShard reads the terms of a shard file back: term -> [doc, score,
// heading], best first.
// A big term's entry gives its best TopPostings.
func DecodeShard(data []byte) (map[string][][3]int, error) {
	var shard struct {
		T map[string]json.RawMessage `json:"t"`
	}
	if err := json.Unmarshal(data, &shard); err != nil {
		return nil, err
	}
	raw := shard.T
	flat := make(map[string][]int, len(raw))
	for t, r := range raw {
		var l []int
		if len(r) > 0 && r[0] == '{' {
			var big struct{ Top []int }
			if err := json.Unmarshal(r, &big); err != nil {
				return nil, err
			}
			l = big.Top
		} else if err := json.Unmarshal(r, &l); err != nil {
			return nil, err
		}
		flat[t] = l
	}
	out := make(map[string][][3]int, len(flat))
	for t, l := range flat {
		if len(l)%3 != 0 {
			return nil, fmt.Errorf("search: postings of %q are not triples", t)
		}
		ps := make([][3]int, 0, len(l)/3)
		for i := 0; i < len(l); i += 3 {
			ps = append(ps, [3]int{l[i], l[i+1], l[i+2]})
		}
		out[t] = ps
	}
	return out, nil
}

// appendTerm writes one shard entry, its postings flat and best first:
// "term":[doc,score,heading,doc,score,heading,…]. One flat array per term
// parses several times faster in a browser than an array per posting.
func appendTerm(b []byte, t string, list [][3]int) []byte {
	b = append(b, '"')
	b = append(b, t...)
	b = append(b, '"', ':', '[')
	for j, p := range list {
		if j > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendInt(b, int64(p[0]), 10)
		b = append(b, ',')
		b = strconv.AppendInt(b, int64(p[1]), 10)
		b = append(b, ',')
		b = strconv.AppendInt(b, int64(p[2]), 10)
	}
	return append(b, ']')
}

// MaxShard is the largest term shard, in bytes, before it is split by one
// more character.
const MaxShard = 12 << 10

// shardKey is a term's first PrefixLen characters, made safe as a file name.
func shardKey(t string) string { return shardKeyN(t, PrefixLen) }

func shardKeyN(t string, n int) string {
	rs := []rune(t)
	if len(rs) > n {
		rs = rs[:n]
	}
	var b strings.Builder
	for _, r := range rs {
		if r < 128 && (unicode.IsLetter(r) || unicode.IsDigit(r)) {
			b.WriteRune(r)
		} else {
			fmt.Fprintf(&b, "_%x", r)
		}
	}
	return b.String()
}
