package search

// The wire format: the files written under _search/ that search.js reads
// (manifest, term shards, big terms' full lists, document chunks, facets),
// encoded from the index and, for tests, decoded back.

import (
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"unicode"
)

// PrefixLen is how many leading characters choose a term's shard.
const PrefixLen = 2

// ChunkSize is how many documents one metadata file holds.
const ChunkSize = 50

// BigTerm is the number of postings above which a term's full list is
// a file of its own, fetched only when a query uses the whole word: the
// shard keeps its best TopPostings, enough for results as you type. A
// word in most plans ("rollback") would otherwise make its prefix's
// shard hundreds of kilobytes.
const (
	BigTerm     = 1000
	TopPostings = 300
)

// encode writes the shard holding terms, sorted, from the cached entry of
// each term.
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

// bigName is the file holding a big term's full list.
func bigName(t string) string { return "l/" + shardKeyN(t, len(t)) + ".json" }

// appendEntry writes a term's shard entry: its list, or for a big term
// {"top": best postings, "n": how many, "f": file of the full list}.
func (l *Live) appendEntry(b []byte, t string) []byte { return entry(b, t, l.lists[t]) }

// entry encodes a term's shard entry from its postings, best first.
func entry(b []byte, t string, list []Posting) []byte {
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
func encodeList(list []Posting) []byte {
	byDoc := slices.Clone(list)
	slices.SortFunc(byDoc, func(a, b Posting) int { return a.Doc - b.Doc })
	return encodeDocOrder(byDoc)
}

func byDocNumber(p Posting, doc int) int { return p.Doc - doc }

// docOrder returns term t's postings in document order, kept in byDoc
// from then on (only a change, encoding one shard at a time, calls it).
func (l *Live) docOrder(t string) []Posting {
	if bd, ok := l.byDoc[t]; ok {
		return bd
	}
	bd := slices.Clone(l.lists[t])
	slices.SortFunc(bd, func(a, b Posting) int { return a.Doc - b.Doc })
	l.byDoc[t] = bd
	return bd
}

// listEnc is a big term's full list encoded up to its first n postings
// in document order: the three arrays of encodeDocOrder without their
// brackets, and the last document number (the gaps go on from it).
type listEnc struct {
	n       int
	last    int
	d, s, h []byte
}

// encodedFrom forgets what was encoded of t's list from its j-th posting
// on, which a change moved: the encoding is kept only while it is the
// start of the list.
func (l *Live) encodedFrom(t string, j int) {
	if e := l.enc[t]; e != nil && j < e.n {
		delete(l.enc, t)
	}
}

// encodeBig is encodeDocOrder of t's postings in document order, going
// on from what an earlier change encoded of them.
func (l *Live) encodeBig(t string) []byte {
	bd := l.docOrder(t)
	e := l.enc[t]
	if e == nil || e.n > len(bd) {
		e = &listEnc{}
		l.enc[t] = e
	}
	e.extend(bd[e.n:])
	return e.bytes()
}

// extend encodes ps after what e holds; they come after its postings in
// document order.
func (e *listEnc) extend(ps []Posting) {
	for _, p := range ps {
		if e.n > 0 {
			e.d = append(e.d, ',')
			e.s = append(e.s, ',')
		}
		e.d = strconv.AppendInt(e.d, int64(p.Doc-e.last), 10)
		e.last = p.Doc
		e.s = strconv.AppendInt(e.s, int64(p.Score), 10)
		if p.Heading >= 0 {
			if len(e.h) > 0 {
				e.h = append(e.h, ',')
			}
			e.h = strconv.AppendInt(e.h, int64(p.Doc), 10)
			e.h = append(e.h, ',')
			e.h = strconv.AppendInt(e.h, int64(p.Heading), 10)
		}
		e.n++
	}
}

// bytes is the full-list file of what e holds.
func (e *listEnc) bytes() []byte {
	b := make([]byte, 0, len(e.d)+len(e.s)+len(e.h)+len(`{"d":[],"s":[],"h":[]}`))
	b = append(b, `{"d":[`...)
	b = append(b, e.d...)
	b = append(b, `],"s":[`...)
	b = append(b, e.s...)
	b = append(b, `],"h":[`...)
	b = append(b, e.h...)
	return append(b, `]}`...)
}

// encodeDocOrder is encodeList of postings already in document order.
func encodeDocOrder(byDoc []Posting) []byte {
	var e listEnc
	e.extend(byDoc)
	return e.bytes()
}

// DecodeList reads a big term's list file back, best first.
func DecodeList(data []byte) ([]Posting, error) {
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
	out := make([]Posting, len(v.D))
	doc := 0
	for i, gap := range v.D {
		doc += gap
		h, ok := heads[doc]
		if !ok {
			h = -1
		}
		out[i] = Posting{Doc: doc, Score: v.S[i], Heading: h}
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
			if _, fresh := l.frag[t]; !ok && fresh {
				// The list has not changed since its file was written
				// (a change drops the term's entry from frag): a new
				// plan touches a shard of common words, and encoding
				// each of their lists again would cost most of a save.
				data, ok = l.files[bigName(t)]
			}
			if !ok && encoded == nil {
				data = l.encodeBig(t)
			} else if !ok {
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
			if heads[p.Doc] == nil {
				heads[p.Doc] = map[int]bool{}
			}
			if p.Heading >= 0 {
				heads[p.Doc][p.Heading] = true
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
	facets := map[string]map[string][]int{"service": {}, "kind": {}, "risk": {}, "environment": {}, "owner": {}, "drill": {}, "severity": {}}
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
		addF("severity", d.Severity)
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

// manifestVersion is the index layout search.js reads.
const manifestVersion = 2

// manifest is the one file every query reads first. Its fields are in
// their keys' order, so the file's bytes do not depend on the struct.
type manifest struct {
	Chunk  int      `json:"chunk"` // documents per d/ file
	Docs   int      `json:"docs"`
	Gone   []int    `json:"gone,omitempty"` // never listed, not even by an empty query
	Prefix int      `json:"prefix"`         // characters of a term that choose its shard
	Shards []string `json:"shards"`
	Top    int      `json:"top"` // postings a big term's shard entry keeps
	// Version is manifestVersion.
	Version int `json:"version"`
}

func (l *Live) writeManifest() error {
	keys := make([]string, 0, len(l.shards))
	for k := range l.shards {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	mb, err := json.Marshal(manifest{Version: manifestVersion, Top: TopPostings, Docs: len(l.docs), Chunk: ChunkSize, Prefix: PrefixLen, Shards: keys, Gone: l.gone})
	if err != nil {
		return err
	}
	l.files["manifest.json"] = mb
	return nil
}

// DecodeShard reads the terms of a shard file back: each term's postings,
// best first. A big term's entry gives its best TopPostings.
func DecodeShard(data []byte) (map[string][]Posting, error) {
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
	out := make(map[string][]Posting, len(flat))
	for t, l := range flat {
		if len(l)%3 != 0 {
			return nil, fmt.Errorf("search: postings of %q are not triples", t)
		}
		ps := make([]Posting, 0, len(l)/3)
		for i := 0; i < len(l); i += 3 {
			ps = append(ps, Posting{Doc: l[i], Score: l[i+1], Heading: l[i+2]})
		}
		out[t] = ps
	}
	return out, nil
}

// appendTerm writes one shard entry, its postings flat and best first:
// "term":[doc,score,heading,doc,score,heading,…]. One flat array per term
// parses several times faster in a browser than an array per posting.
// Written by hand: shards are most of the index's bytes, and reflection
// made them a third of a large site's build. Terms come from Tokens, so
// they hold no character JSON needs to escape.
func appendTerm(b []byte, t string, list []Posting) []byte {
	b = append(b, '"')
	b = append(b, t...)
	b = append(b, '"', ':', '[')
	for j, p := range list {
		if j > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendInt(b, int64(p.Doc), 10)
		b = append(b, ',')
		b = strconv.AppendInt(b, int64(p.Score), 10)
		b = append(b, ',')
		b = strconv.AppendInt(b, int64(p.Heading), 10)
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
