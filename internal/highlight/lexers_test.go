package highlight

import (
	"reflect"
	"testing"
	"time"

	"github.com/alecthomas/chroma/v2"
	"github.com/alecthomas/chroma/v2/lexers"
)

// TestLimitedLexersLexAlike: the copies with the longer match limit give
// the tokens chroma's own lexers give (a mutator left in a rule, or a
// rule lost, would show), and every compiled expression has the limit.
func TestLimitedLexersLexAlike(t *testing.T) {
	samples := map[string]string{
		"bash":       "set -euo pipefail\nfor pod in $(kubectl get pods -o name); do\n  kubectl logs \"$pod\" --since=5m | grep -c ERROR || true\ndone\n",
		"sql":        "-- count\nSELECT date_trunc('minute', created_at), count(*) FILTER (WHERE status = 'failed')\nFROM orders WHERE created_at > now() - interval '5 minutes' GROUP BY 1;\n",
		"postgresql": "ALTER TABLE orders ADD COLUMN note text;\nCREATE INDEX CONCURRENTLY ON orders (note);\n",
		"yaml":       "apiVersion: apps/v1\nkind: Deployment\nspec:\n  replicas: 3 # more\n  template: {metadata: {labels: {app: x}}}\n",
		"json":       "{\"service\": \"ledger\", \"weight\": 95, \"checks\": [{\"ok\": true}, null]}\n",
		"go":         "package main\n\nfunc main() { println(\"hi\", 1+2) }\n",
		"python":     "def f(x):\n    return [i ** 2 for i in range(x)]  # squares\n",
		"promql":     "sum(rate(http_requests_total{code=~\"5..\"}[5m])) by (service) > 0.05\n",
		"docker":     "FROM scratch\nCOPY app /app\nENTRYPOINT [\"/app\"]\n",
		"toml":       "[server]\nport = 8080\nhosts = [\"a\", \"b\"]\n",
		"console":    "$ kubectl get pods\nNAME READY\napi-1 1/1\n",
	}
	for lang, code := range samples {
		l := lexers.Get(lang)
		if l == nil {
			t.Fatalf("no lexer for %s", lang)
		}
		want, err := chroma.Tokenise(l, nil, code)
		if err != nil {
			t.Fatal(err)
		}
		c := limited(l)
		got, err := chroma.Tokenise(c, nil, code)
		if err != nil {
			t.Fatalf("%s: %v", lang, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: the copy lexes differently:\n got %v\nwant %v", lang, got, want)
		}
		if _, regex := l.(*chroma.RegexLexer); regex {
			f, ok := c.(*firstLexer)
			if !ok {
				t.Errorf("%s: %T, not a firstLexer", lang, c)
				continue
			}
			if f.RegexLexer == l {
				t.Errorf("%s: not copied", lang)
			}
			if n, short := limits(f.RegexLexer); n == 0 || short > 0 {
				t.Errorf("%s: %d compiled rules, %d with another limit", lang, n, short)
			}
		}
	}
}

// limits counts a lexer's compiled rules and those whose match limit is
// not matchLimit (chroma's compiled rules, read by reflection: chroma
// does not show them).
func limits(l *chroma.RegexLexer) (n, other int) {
	rules := reflect.ValueOf(l).Elem().FieldByName("rules")
	for it := rules.MapRange(); it.Next(); {
		rs := it.Value()
		for i := 0; i < rs.Len(); i++ {
			re := rs.Index(i).Elem().FieldByName("Regexp")
			if re.IsNil() {
				continue
			}
			n++
			if time.Duration(re.Elem().FieldByName("MatchTimeout").Int()) != matchLimit {
				other++
			}
		}
	}
	return n, other
}
