package check

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/rollbook/rollbook/internal/plan"
)

// mapMemo is a Memo in memory that counts what it served.
type mapMemo struct {
	m    map[string][]byte
	hits int
	// byKind counts the hits of each kind.
	byKind map[string]int
}

func memoKey(kind string, inputs [][]byte) string {
	return kind + "\x00" + string(bytes.Join(inputs, []byte{0}))
}

func (m *mapMemo) Get(kind string, inputs ...[]byte) ([]byte, bool) {
	d, ok := m.m[memoKey(kind, inputs)]
	if ok {
		m.hits++
		if m.byKind == nil {
			m.byKind = map[string]int{}
		}
		m.byKind[kind]++
	}
	return bytes.Clone(d), ok // the caller's, as Memo says
}

func (m *mapMemo) Put(data []byte, kind string, inputs ...[]byte) {
	m.m[memoKey(kind, inputs)] = data
}

// TestMemoOutline: every example plan and rule case gives the same
// findings whether its outline is parsed, read from a memo an earlier
// check filled, or read from a damaged entry (parsed again).
func TestMemoOutline(t *testing.T) {
	var files []string
	_ = filepath.WalkDir("../../content", func(p string, d os.DirEntry, err error) error {
		if err == nil && strings.HasSuffix(p, ".md") {
			files = append(files, p)
		}
		return nil
	})
	if len(files) < 5 {
		t.Fatalf("%d example plans found", len(files))
	}
	memo := &mapMemo{m: map[string][]byte{}}
	plans, withPlaceholders := 0, 0
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		p, _ := plan.Parse(f, filepath.Base(f), data)
		if p == nil || !p.IsPlan() {
			continue
		}
		plans++
		if bytes.Contains(p.Body, []byte("{{")) {
			withPlaceholders++
		}
		o := parseOutline(p.Body, p.BodyLine)
		enc := encodeOutline(o)
		if back, err := decodeOutline(enc); err != nil || !reflect.DeepEqual(back, o) {
			t.Errorf("%s: the outline does not read back equal (%v)", f, err)
		}
		for n := range enc {
			if _, err := decodeOutline(enc[:n]); err == nil {
				t.Fatalf("%s: the outline cut to %d of %d bytes reads without an error", f, n, len(enc))
			}
		}
		opts := Options{Now: now, ContentDir: "../../content"}
		want := Plan(p, f, opts)
		opts.Memo = memo
		if got := Plan(p, f, opts); !reflect.DeepEqual(got, want) {
			t.Errorf("%s: filling the memo changed the findings:\n got %v\nwant %v", f, got, want)
		}
		if got := Plan(p, f, opts); !reflect.DeepEqual(got, want) {
			t.Errorf("%s: findings from the memo differ:\n got %v\nwant %v", f, got, want)
		}
	}
	if memo.byKind[outlineKind] != plans || memo.byKind[placeholdersKind] != withPlaceholders || withPlaceholders == 0 {
		t.Errorf("the memo served %v for %d plans checked again, %d of them with placeholders", memo.byKind, plans, withPlaceholders)
	}
	p, _ := plan.Parse("content/x.md", "x.md", []byte(base+"## Notes\nTODO: fill in\n"))
	want := Plan(p, "content/x.md", Options{Now: now})
	memo.Put([]byte(`{"Headings":[{"Text":"oops"`), outlineKind, []byte(strconv.Itoa(p.BodyLine)), p.Body)
	hits := memo.hits
	if got := Plan(p, "content/x.md", Options{Now: now, Memo: memo}); !reflect.DeepEqual(got, want) {
		t.Errorf("a damaged entry changed the findings:\n got %v\nwant %v", got, want)
	}
	if memo.hits != hits+1 {
		t.Error("the damaged entry was not read")
	}
	// A damaged placeholder entry is found again, not trusted.
	body := []byte("```sh\nkubectl -n {{ .ns }} get pods\n```\n")
	want2 := memoPlaceholders(nil, body)
	memo.Put([]byte{5, 1}, placeholdersKind, body)
	if got := memoPlaceholders(memo, body); !reflect.DeepEqual(got, want2) || len(want2) != 1 {
		t.Errorf("placeholders from a damaged entry: %v, want %v", got, want2)
	}
}
