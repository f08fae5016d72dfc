package search

import (
	"encoding/json"
	"io/fs"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/chromedp/chromedp"

	"github.com/rollbook/rollbook/internal/browsertest"
	"github.com/rollbook/rollbook/themes"
)

// TestQueryMatchesIndexInBrowser runs the search client's query parser
// (tokens and shardKey in search.js) in headless Chromium on the fuzz
// seeds, the fuzz corpus and thousands of random strings of letters,
// digits and marks from many scripts, and checks each word and shard
// name against the index's own rules: a query word the index spells
// differently is never found.
func TestQueryMatchesIndexInBrowser(t *testing.T) {
	path := browsertest.Chromium(t)
	static, err := fs.Sub(themes.Default, "default/static")
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/static/", http.StripPrefix("/static/", http.FileServerFS(static)))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write([]byte("<!doctype html><title>query parser</title>"))
	})
	hs := httptest.NewServer(mux)
	defer hs.Close()

	inputs := []string{
		"etcdHighFsyncDurations payments-api kube_pod_status 5xx p99",
		"ΣΊΣΥΦΟΣ İSTANBUL straße ẞ ǅemal x² Ⅻ ½ ٣٤ 日本語-text a.b_c",
		"\"exact phrase\" -_. .. --flag v1.2.3 10.0.0.1:8080/path?q=1",
		"𝐀𝐁 🚀canary e\u0301tude",
	}
	corpus, _ := filepath.Glob(filepath.Join("testdata", "fuzz", "FuzzTokens", "*"))
	for _, f := range corpus {
		if data, err := os.ReadFile(f); err == nil {
			inputs = append(inputs, corpusString(string(data))...)
		}
	}
	alphabet := []rune("aZ09 -_.,;:/\t\nİıΣσςßẞǅ²Ⅻ½٣日本éÄЖж𝐀🚀\u0301\u200bـ")
	rng := rand.New(rand.NewPCG(1, 2))
	for range 3000 {
		var b strings.Builder
		for range 1 + rng.IntN(24) {
			b.WriteRune(alphabet[rng.IntN(len(alphabet))])
		}
		inputs = append(inputs, b.String())
	}

	ctx, cancel := browsertest.Start(path, time.Minute)
	defer cancel()
	in, _ := json.Marshal(inputs)
	type parsed struct {
		Words  []string `json:"words"`
		Shards []string `json:"shards"`
	}
	if err := chromedp.Do(ctx, chromedp.Navigate(hs.URL+"/")); err != nil {
		t.Fatal(err)
	}
	got, err := chromedp.Run(ctx, chromedp.Evaluate[[]parsed](`(async () => {
		const m = await import("/static/search.js");
		return `+string(in)+`.map((s) => {
			const words = m.tokens(s);
			return { words, shards: words.flatMap((w) => [m.shardKey(w, 2), m.shardKey(w, 3)]) };
		});
	})()`, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(inputs) {
		t.Fatalf("the client parsed %d of %d queries", len(got), len(inputs))
	}
	bad := 0
	for i, s := range inputs {
		want := queryWords(s)
		var shards []string
		for _, w := range want {
			shards = append(shards, shardKeyN(w, 2), shardKeyN(w, 3))
		}
		if strings.Join(got[i].Words, "\x00") != strings.Join(want, "\x00") || strings.Join(got[i].Shards, "\x00") != strings.Join(shards, "\x00") {
			if bad++; bad <= 10 {
				t.Errorf("query %q: the client reads words %q in shards %q, the index %q in %q", s, got[i].Words, got[i].Shards, want, shards)
			}
		}
	}
	if bad > 10 {
		t.Errorf("… and %d more queries", bad-10)
	}
}

// queryWords are the whole words of text as the index has them: Tokens
// without the identifier parts, which the index adds beside each word.
func queryWords(text string) []string {
	var out []string
	for _, raw := range strings.FieldsFunc(text, func(r rune) bool {
		return !(unicode.IsLetter(r) || unicode.IsDigit(r) || r == '-' || r == '_' || r == '.')
	}) {
		if raw = strings.Trim(raw, "-_."); raw != "" {
			out = append(out, strings.ToLower(raw))
		}
	}
	return out
}

// corpusString reads the string values of a Go fuzz corpus file.
func corpusString(file string) []string {
	var out []string
	for _, line := range strings.Split(file, "\n") {
		if v, ok := strings.CutPrefix(line, "string("); ok {
			if s, err := strconv.Unquote(strings.TrimSuffix(v, ")")); err == nil && utf8.ValidString(s) {
				out = append(out, s)
			}
		}
	}
	return out
}
