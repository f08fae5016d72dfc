// Package search owns the site's client-side search index: runbook-aware
// tokenising, BM25 scores with field weights computed at build time, and
// the split into a small manifest, term shards by two-letter prefix,
// document chunks and facet lists, so a query downloads only what it needs.
package search

import (
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"unicode"
)

// Tokens splits text into index terms. Identifiers are kept whole and also
// split into their parts, so "etcdHighFsyncDurations", "payments-api" and
// "kube_pod_status" are found by the whole and by "fsync", "api", "pod".
func Tokens(text string) []string {
	var out []string
	for _, raw := range strings.FieldsFunc(text, func(r rune) bool {
		return !(unicode.IsLetter(r) || unicode.IsDigit(r) || r == '-' || r == '_' || r == '.')
	}) {
		raw = strings.Trim(raw, "-_.")
		if raw == "" {
			continue
		}
		whole := strings.ToLower(raw)
		out = append(out, whole)
		parts := splitIdent(raw)
		if len(parts) > 1 {
			for _, p := range parts {
				out = append(out, strings.ToLower(p))
			}
		}
	}
	return out
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
	type posting struct {
		doc     int
		tf      float64
		heading int
	}
	postings := map[string][]posting{}
	lengths := make([]float64, len(docs))
	var total float64
	for i, d := range docs {
		tf := map[string]float64{}
		head := map[string]int{}
		add := func(text string, w float64) {
			for _, t := range Tokens(text) {
				tf[t] += w
				lengths[i] += w
			}
		}
		add(d.Title, WeightTitle)
		add(d.Service, WeightService)
		add(strings.Join(d.Tags, " "), WeightTags)
		for hi, h := range d.Headings {
			for _, t := range Tokens(h.Text) {
				if _, ok := head[t]; !ok {
					head[t] = hi
				}
			}
			add(h.Text, WeightHeading)
		}
		add(d.Body, WeightBody)
		total += lengths[i]
		for t, f := range tf {
			h, ok := head[t]
			if !ok {
				h = -1
			}
			postings[t] = append(postings[t], posting{doc: i, tf: f, heading: h})
		}
	}
	avg := 1.0
	if len(docs) > 0 {
		avg = total / float64(len(docs))
	}
	const k1, b = 1.2, 0.75
	shards := map[string]map[string][][3]int{}
	for t, ps := range postings {
		idf := math.Log(1 + (float64(len(docs))-float64(len(ps))+0.5)/(float64(len(ps))+0.5))
		key := shardKey(t)
		if shards[key] == nil {
			shards[key] = map[string][][3]int{}
		}
		list := make([][3]int, 0, len(ps))
		for _, p := range ps {
			score := idf * p.tf * (k1 + 1) / (p.tf + k1*(1-b+b*lengths[p.doc]/avg))
			list = append(list, [3]int{p.doc, int(math.Round(score * 100)), p.heading})
		}
		sort.Slice(list, func(i, j int) bool {
			return list[i][1] > list[j][1] || list[i][1] == list[j][1] && list[i][0] < list[j][0]
		})
		shards[key][t] = list
	}
	idx := &Index{Files: map[string][]byte{}}
	keys := make([]string, 0, len(shards))
	for k := range shards {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var written []string
	for _, k := range keys {
		b := encodeShard(shards[k])
		if len(b) <= MaxShard {
			idx.Files["t/"+k+".json"] = b
			written = append(written, k)
			continue
		}
		// A large shard is split by a third character, so a query for
		// "payments" does not download every "pa…" term.
		sub := map[string]map[string][][3]int{}
		for t, list := range shards[k] {
			sk := shardKeyN(t, PrefixLen+1)
			if sub[sk] == nil {
				sub[sk] = map[string][][3]int{}
			}
			sub[sk][t] = list
		}
		subKeys := make([]string, 0, len(sub))
		for sk := range sub {
			subKeys = append(subKeys, sk)
		}
		sort.Strings(subKeys)
		for _, sk := range subKeys {
			idx.Files["t/"+sk+".json"] = encodeShard(sub[sk])
			written = append(written, sk)
		}
	}
	keys = written
	for c := 0; c*ChunkSize < len(docs); c++ {
		var chunk [][]any
		for i := c * ChunkSize; i < min(len(docs), (c+1)*ChunkSize); i++ {
			d := docs[i]
			var hs [][2]string
			for _, h := range d.Headings {
				hs = append(hs, [2]string{h.ID, h.Text})
			}
			chunk = append(chunk, []any{d.URL, d.Title, d.Service, d.Kind, d.Risk, d.Summary, hs})
		}
		b, err := json.Marshal(chunk)
		if err != nil {
			return nil, err
		}
		idx.Files[fmt.Sprintf("d/%d.json", c)] = b
	}
	facets := map[string]map[string][]int{"service": {}, "kind": {}, "risk": {}, "environment": {}, "owner": {}, "drill": {}}
	for i, d := range docs {
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
		return nil, err
	}
	idx.Files["f.json"] = fb
	manifest := map[string]any{"version": 1, "docs": len(docs), "chunk": ChunkSize, "prefix": PrefixLen, "shards": keys}
	mb, err := json.Marshal(manifest)
	if err != nil {
		return nil, err
	}
	idx.Files["manifest.json"] = mb
	return idx, nil
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
		b = append(b, '"')
		b = append(b, t...)
		b = append(b, '"', ':', '[')
		for j, p := range m[t] {
			if j > 0 {
				b = append(b, ',')
			}
			b = append(b, '[')
			b = strconv.AppendInt(b, int64(p[0]), 10)
			b = append(b, ',')
			b = strconv.AppendInt(b, int64(p[1]), 10)
			b = append(b, ',')
			b = strconv.AppendInt(b, int64(p[2]), 10)
			b = append(b, ']')
		}
		b = append(b, ']')
	}
	return append(b, '}')
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
