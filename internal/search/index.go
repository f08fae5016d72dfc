// Package search owns the site's client-side search index: runbook-aware
// tokenising, BM25 scores with field weights computed at build time, and
// the split into a small manifest, term shards by two-letter prefix,
// document chunks and facet lists, so a query downloads only what it needs.
package search

import (
	"context"
	"math"
	"runtime"
	"slices"
	"strings"
	"sync"

	"golang.org/x/sync/errgroup"
)

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
	// Alerts are the alert names an alert runbook explains, found like
	// its title; Severity is their severity, a facet.
	Alerts   []string
	Severity string
	Headings []Heading
	Body     string
	Summary  string
}

// Heading is an anchor a result can link to.
type Heading struct{ ID, Text string }

// Posting is one document's entry in a term's list.
type Posting struct {
	Doc   int // the document's number
	Score int // the term's BM25 score in the document, times 100
	// Heading is the index of the document's first heading holding the
	// term, -1 for none.
	Heading int
}

// docTerms is one document's weighted term frequencies, sorted by term:
// looking a term up is a binary search, and a document read back from an
// AnalysisCache needs no map built for it.
type docTerms struct {
	stats []termStat
	len   float64
}

// termStat is a term's weighted frequency in a document and the first
// heading holding it (-1 for none). Counting a token costs one map lookup,
// and scoring every posting of ten thousand documents none.
type termStat struct {
	term string
	tf   float64
	head int
}

func analyze(d Doc) docTerms {
	var dt docTerms
	idx := map[string]int32{} // term -> its entry in dt.stats
	add := func(text string, w float64, head int) {
		eachToken(text, func(t string) {
			i, ok := idx[t]
			if !ok {
				i = int32(len(dt.stats))
				idx[t] = i
				dt.stats = append(dt.stats, termStat{term: t, head: -1})
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
	add(strings.Join(d.Alerts, " "), WeightTitle, -1)
	for hi, h := range d.Headings {
		add(h.Text, WeightHeading, hi)
	}
	add(d.Body, WeightBody, -1)
	slices.SortFunc(dt.stats, func(a, b termStat) int { return strings.Compare(a.term, b.term) })
	return dt
}

func (dt docTerms) stat(t string) (termStat, bool) {
	if i, ok := slices.BinarySearchFunc(dt.stats, t, func(st termStat, t string) int { return strings.Compare(st.term, t) }); ok {
		return dt.stats[i], true
	}
	return termStat{term: t, head: -1}, false
}

func (dt docTerms) has(t string) bool {
	_, ok := dt.stat(t)
	return ok
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
	lists map[string][]Posting // term -> its postings, best first
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
	// byDoc holds, for the big terms a change has touched, their postings
	// in document order, as their full-list files are written: sorting
	// ten thousand postings again for every common word of a new plan
	// would cost most of the save. Only changes fill it.
	byDoc map[string][]Posting
	// enc holds, for a term of byDoc, its full list encoded so far (see
	// listEnc): a new plan is the last document, so its posting comes
	// last and the rest of the file is as it was.
	enc map[string]*listEnc
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
func byRank(a, b Posting) int {
	if a.Score != b.Score {
		return b.Score - a.Score
	}
	return a.Doc - b.Doc
}

func better(a, b Posting) bool { return byRank(a, b) < 0 }

// NewLive indexes docs, computing BM25 scores (k1 1.2, b 0.75 over the
// weighted length) and the files the site serves; it stops when ctx is
// done.
func NewLive(ctx context.Context, docs []Doc) (*Live, error) { return newLive(ctx, docs, 0, nil) }

// newLive indexes docs, reading and storing their analyses in cache if it
// is not nil; a positive avg fixes the average length that scores use
// instead of computing it (tests compare Replace with it).
func newLive(ctx context.Context, docs []Doc, avg float64, cache AnalysisCache) (*Live, error) {
	l := &Live{docs: append([]Doc(nil), docs...), terms: make([]docTerms, len(docs)), avg: 1,
		lists: map[string][]Posting{}, split: map[string]bool{}, shards: map[string]map[string]struct{}{}, files: map[string][]byte{}, frag: map[string][]byte{}, bigFiles: map[string][]string{}, byDoc: map[string][]Posting{}, enc: map[string]*listEnc{}}
	// Tokenising is most of the work and each document is independent.
	err := inParallel(ctx, len(docs), func(i int) error {
		l.terms[i] = analyzeCached(docs[i], cache)
		return nil
	})
	if err != nil {
		return nil, err
	}
	var total float64
	for _, dt := range l.terms {
		total += dt.len
	}
	terms, occsOf := gatherTerms(l.terms)
	if len(docs) > 0 && total > 0 {
		l.avg = total / float64(len(docs))
	}
	if avg > 0 {
		l.avg = avg
	}
	// Scoring and ranking each term's postings is independent work too.
	// So is encoding each term's shard entry and, for a big term, its
	// full list, which comes in document order as the postings do here.
	lists := make([][]Posting, len(terms))
	frags := make([][]byte, len(terms))
	bigs := make([][]byte, len(terms))
	err = inParallel(ctx, len(terms), func(k int) error {
		occs := occsOf[k]
		list := make([]Posting, len(occs))
		idf := l.idf(len(occs))
		for j, o := range occs {
			list[j] = Posting{Doc: o.doc, Score: l.scoreOf(idf, o.tf, o.doc), Heading: o.head}
		}
		if len(list) > BigTerm {
			bigs[k] = encodeDocOrder(list)
		}
		slices.SortFunc(list, byRank)
		lists[k] = list
		frags[k] = entry(nil, terms[k], list)
		return nil
	})
	if err != nil {
		return nil, err
	}
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
	err = inParallel(ctx, len(keys), func(i int) (err error) {
		shards[i], err = l.buildShard(keys[i], bigEnc)
		return err
	})
	if err != nil {
		return nil, err
	}
	for i, k := range keys {
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

// occurrence is a term in a document: a posting before it is scored.
type occurrence struct {
	doc, head int
	tf        float64
}

// gatherTerms lists every term of the documents with its occurrences, in
// document order. A document's terms are sorted, so the terms are split
// by their first byte into one range per core, each gathered on its own
// (ten thousand plans hold two million occurrences).
func gatherTerms(docs []docTerms) (terms []string, occs [][]occurrence) {
	parts := runtime.GOMAXPROCS(0)
	// Where the ranges start: first bytes split as evenly as they occur.
	var count [256]int
	n := 0
	for _, dt := range docs {
		for _, st := range dt.stats {
			count[firstByte(st.term)]++
		}
		n += len(dt.stats)
	}
	starts := []int{0} // first bytes, ascending; a range ends where the next starts
	for c, seen := 0, 0; c < 256 && len(starts) < parts; c++ {
		seen += count[c]
		if seen >= n*len(starts)/parts {
			starts = append(starts, c+1)
		}
	}
	starts = append(starts, 256)
	type part struct {
		terms []string
		occs  [][]occurrence
	}
	out := make([]part, len(starts)-1)
	var wg sync.WaitGroup
	for p := range out {
		wg.Go(func() {
			lo, hi := starts[p], starts[p+1]
			at := map[string]int{}
			var pt part
			for doc, dt := range docs {
				from, _ := slices.BinarySearchFunc(dt.stats, lo, firstByteFrom)
				for _, st := range dt.stats[from:] {
					if firstByte(st.term) >= hi {
						break
					}
					k, ok := at[st.term]
					if !ok {
						k = len(pt.terms)
						at[st.term] = k
						pt.terms = append(pt.terms, st.term)
						pt.occs = append(pt.occs, nil)
					}
					pt.occs[k] = append(pt.occs[k], occurrence{doc, st.head, st.tf})
				}
			}
			out[p] = pt
		})
	}
	wg.Wait()
	for _, pt := range out {
		terms = append(terms, pt.terms...)
		occs = append(occs, pt.occs...)
	}
	return terms, occs
}

// firstByteFrom orders a term against a first byte, for the search of a
// sorted list's first term starting with that byte or a later one.
func firstByteFrom(st termStat, b int) int { return firstByte(st.term) - b }

func firstByte(t string) int {
	if t == "" {
		return 0
	}
	return int(t[0])
}

// batch is how many items one goroutine of inParallel takes at a time: a
// document or a term is microseconds of work, less than a goroutine's
// start-up would be worth.
const batch = 64

// inParallel calls fn for 0..n-1 on every core, in batches, and returns
// the first error, or ctx's once it is done.
func inParallel(ctx context.Context, n int, fn func(i int) error) error {
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(runtime.GOMAXPROCS(0))
	for lo := 0; lo < n; lo += batch {
		g.Go(func() error {
			if err := gctx.Err(); err != nil {
				return err
			}
			for i := lo; i < min(n, lo+batch); i++ {
				if err := fn(i); err != nil {
					return err
				}
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	return ctx.Err()
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
