package search

import (
	"context"
	"encoding/binary"
	"errors"
	"math"
	"math/bits"
	"unsafe"
)

// AnalysisCache keeps documents' analyses (their weighted term
// frequencies) between builds, so that indexing a site where one page
// changed tokenises that page only. An analysis is stored under the kind
// "search" and one input naming the document's analysed content and the
// encoding's version; a cache that also keys by the program's version
// (as rollbook's build cache does) never returns an analysis made by
// other tokenising code. It is the shape of check.Memo, so one store
// serves both. Both methods are called from several goroutines at once.
type AnalysisCache interface {
	// Get returns what Put stored under kind and inputs; data it returns
	// is not kept.
	Get(kind string, inputs ...[]byte) (data []byte, ok bool)
	Put(data []byte, kind string, inputs ...[]byte)
}

// analysisKind is the kind analyses are stored under.
const analysisKind = "search"

// NewLiveCached is NewLive reading each document's analysis from cache
// when the same content was analysed before, and storing the analyses it
// makes. An entry that does not decode is analysed again: the index is
// the one NewLive builds either way.
func NewLiveCached(ctx context.Context, docs []Doc, cache AnalysisCache) (*Live, error) {
	return newLive(ctx, docs, 0, cache)
}

// analysisVersion starts every key: change it when the encoding, the
// tokeniser or the field weights change, for caches that do not key by
// the program's version.
const analysisVersion = "search-terms-1"

// analyzeCached is analyze(d) through cache, when there is one.
func analyzeCached(d Doc, cache AnalysisCache) docTerms {
	if cache == nil {
		return analyze(d)
	}
	key := analysisKey(d)
	if data, ok := cache.Get(analysisKind, key...); ok {
		if dt, err := decodeTerms(data, len(d.Headings)); err == nil {
			return dt
		}
	}
	dt := analyze(d)
	cache.Put(encodeTerms(dt), analysisKind, key...)
	return dt
}

// analysisKey is every field of d that analyze reads, each prefixed by
// its length, so that no two documents with different text share a key:
// two inputs, the fields and the body (the cache tells its inputs apart),
// and the body as it is, not copied beside the rest (it is most of it).
func analysisKey(d Doc) [][]byte {
	n := len(analysisVersion) + len(d.Title) + len(d.Service) + 16*(5+len(d.Tags)+len(d.Alerts)+len(d.Headings))
	for _, s := range d.Tags {
		n += len(s)
	}
	for _, s := range d.Alerts {
		n += len(s)
	}
	for _, h := range d.Headings {
		n += len(h.Text)
	}
	k := make([]byte, 0, n)
	str := func(s string) []byte {
		k = binary.AppendUvarint(k, uint64(len(s)))
		return append(k, s...)
	}
	k = str(analysisVersion)
	k = str(d.Title)
	k = str(d.Service)
	for _, list := range [][]string{d.Tags, d.Alerts} {
		k = binary.AppendUvarint(k, uint64(len(list)))
		for _, s := range list {
			k = str(s)
		}
	}
	k = binary.AppendUvarint(k, uint64(len(d.Headings)))
	for _, h := range d.Headings {
		k = str(h.Text)
	}
	return [][]byte{k, unsafe.Slice(unsafe.StringData(d.Body), len(d.Body))}
}

// encodeTerms writes dt compactly: the term count, then each term's
// length, bytes, frequency and heading (-1 as 0, heading h as h+1), then
// the document's length. Frequencies keep their exact bits, byte-reversed
// as gob does, so that the small whole numbers field weights add up to
// take a byte or two.
func encodeTerms(dt docTerms) []byte {
	n := binary.MaxVarintLen64 * 2
	for _, st := range dt.stats {
		n += len(st.term) + 6
	}
	b := make([]byte, 0, n)
	b = binary.AppendUvarint(b, uint64(len(dt.stats)))
	for _, st := range dt.stats {
		b = binary.AppendUvarint(b, uint64(len(st.term)))
		b = append(b, st.term...)
		b = binary.AppendUvarint(b, floatBits(st.tf))
		b = binary.AppendUvarint(b, uint64(st.head+1))
	}
	return binary.AppendUvarint(b, floatBits(dt.len))
}

func floatBits(f float64) uint64 { return bits.ReverseBytes64(math.Float64bits(f)) }

var errBadTerms = errors.New("search: damaged cached analysis")

// decodeTerms reads what encodeTerms wrote for a document of headings
// headings. Anything analyze could not have made (terms out of order, a
// heading the document lacks, a frequency that is not positive, bytes
// left over) is an error, so a damaged entry is analysed again rather
// than indexed. The terms share data, which the cache gave away (Get's
// data is not kept), and which must not change.
func decodeTerms(data []byte, headings int) (docTerms, error) {
	s := unsafe.String(unsafe.SliceData(data), len(data))
	at := 0
	next := func() (uint64, bool) {
		v, n := binary.Uvarint(data[at:])
		if n <= 0 {
			return 0, false
		}
		at += n
		return v, true
	}
	count, ok := next()
	// Each term takes at least four bytes.
	if !ok || count > uint64(len(data)-at)/4 {
		return docTerms{}, errBadTerms
	}
	var dt docTerms
	if count > 0 { // an empty document's stats are nil, as analyze leaves them
		dt.stats = make([]termStat, count)
	}
	for i := range dt.stats {
		l, ok := next()
		if !ok || l == 0 || l > uint64(len(data)-at) {
			return docTerms{}, errBadTerms
		}
		term := s[at : at+int(l)]
		at += int(l)
		tf, ok1 := next()
		head, ok2 := next()
		f := math.Float64frombits(bits.ReverseBytes64(tf))
		if !ok1 || !ok2 || head > uint64(headings) || !(f > 0) || math.IsInf(f, 0) ||
			i > 0 && dt.stats[i-1].term >= term {
			return docTerms{}, errBadTerms
		}
		dt.stats[i] = termStat{term: term, tf: f, head: int(head) - 1}
	}
	l, ok := next()
	dt.len = math.Float64frombits(bits.ReverseBytes64(l))
	if !ok || at != len(data) || dt.len < 0 || math.IsNaN(dt.len) || math.IsInf(dt.len, 0) || count > 0 && dt.len == 0 {
		return docTerms{}, errBadTerms
	}
	return dt, nil
}
