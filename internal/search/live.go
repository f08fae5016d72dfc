package search

import (
	"bytes"
	"fmt"
	"slices"
	"sort"
)

// Append adds d as the last document and returns its number and the
// files that changed.
func (l *Live) Append(d Doc) (int, map[string][]byte, error) {
	l.docs = append(l.docs, Doc{})
	l.terms = append(l.terms, docTerms{})
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
		was, is := old.has(t), cur.has(t)
		list := l.lists[t]
		at := -1
		for j := range list {
			if list[j].Doc == i {
				at = j
				break
			}
		}
		if was && is && list[at] == (Posting{Doc: i, Score: l.score(t, i, len(list)), Heading: cur.heading(t)}) {
			return // the document's entry for the term did not move
		}
		if at >= 0 {
			list = append(list[:at], list[at+1:]...)
		}
		delete(l.frag, t)
		bd, ordered := l.byDoc[t]
		if ordered {
			if j, found := slices.BinarySearchFunc(bd, i, byDocNumber); found {
				bd = slices.Delete(bd, j, j+1)
				l.encodedFrom(t, j)
			}
		}
		if was != is && rescore {
			ordered = false
			delete(l.byDoc, t)
			delete(l.enc, t)
			// The term's document frequency changed, and with it every
			// score in its list.
			df := len(list)
			if is {
				df++
			}
			for j := range list {
				list[j].Score = l.score(t, list[j].Doc, df)
			}
			slices.SortFunc(list, byRank)
		}
		if is {
			p := Posting{Doc: i, Score: l.score(t, i, len(list)+1), Heading: cur.heading(t)}
			at = sort.Search(len(list), func(j int) bool { return better(p, list[j]) })
			list = append(list, Posting{})
			copy(list[at+1:], list[at:])
			list[at] = p
			if ordered {
				j, _ := slices.BinarySearchFunc(bd, i, byDocNumber)
				bd = slices.Insert(bd, j, p)
				l.encodedFrom(t, j)
			}
		}
		if ordered {
			l.byDoc[t] = bd
		}
		k := l.shardOf(t)
		dirty[k] = true
		if len(list) == 0 {
			delete(l.byDoc, t)
			delete(l.enc, t)
			delete(l.lists, t)
			delete(l.shards[k], t)
			return
		}
		l.lists[t] = list
		l.addTerm(t)
	}
	for _, st := range old.stats {
		touch(st.term)
	}
	for _, st := range cur.stats {
		if !old.has(st.term) {
			touch(st.term)
		}
	}
	if !sameRow(old0, d) {
		// The document's result row changed: rewrite every shard that
		// carries it among a term's best documents.
		for t, list := range l.lists {
			for _, p := range list[:min(len(list), ResultsPerTerm)] {
				if p.Doc == i {
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
	return a.Service == b.Service && a.Kind == b.Kind && a.Risk == b.Risk && a.Drill == b.Drill && a.Severity == b.Severity &&
		slices.Equal(a.Environments, b.Environments) && slices.Equal(a.Owners, b.Owners)
}
