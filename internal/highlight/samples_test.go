package highlight

import (
	"go/build"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"

	"github.com/alecthomas/chroma/v2"
	"github.com/alecthomas/chroma/v2/lexers"
)

// chromaSamples reads the sample of every language in chroma's own test
// data, by the name of a lexer chroma has for it. The samples are those of
// the chroma this test is built with: its source is where the binary says
// chroma's code was compiled from (in the module cache, or the module
// path and version under GOMODCACHE when built with -trimpath). No go
// command runs, so the test needs no network and no module resolution.
func chromaSamples(t *testing.T) map[string][]byte {
	t.Helper()
	dir, err := chromaDir()
	if err != nil {
		t.Fatal(err)
	}
	files, err := filepath.Glob(filepath.Join(dir, "lexers", "testdata", "*.actual"))
	if err != nil || len(files) < 100 {
		t.Fatalf("chroma's samples in %s: %d files, %v", dir, len(files), err)
	}
	samples := map[string][]byte{}
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".actual")
		if lexers.Get(name) == nil {
			continue
		}
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		samples[name] = src
	}
	return samples
}

// chromaDir is the root of the chroma module compiled into the test:
// chroma.Tokenise is in its root package, so the folder of its source
// file is the module's.
func chromaDir() (string, error) {
	pc := reflect.ValueOf(chroma.Tokenise).Pointer()
	fn := runtime.FuncForPC(pc)
	if fn == nil {
		return "", os.ErrNotExist
	}
	file, _ := fn.FileLine(pc)
	dir := filepath.Dir(filepath.FromSlash(file))
	if !filepath.IsAbs(dir) {
		// -trimpath leaves module@version: the module cache holds it.
		dir = filepath.Join(modCache(), dir)
	}
	if _, err := os.Stat(filepath.Join(dir, "lexers", "testdata")); err != nil {
		return "", err
	}
	return dir, nil
}

// modCache is the module cache as the go command finds it by default:
// GOMODCACHE, else pkg/mod in the first GOPATH entry.
func modCache() string {
	if d := os.Getenv("GOMODCACHE"); d != "" {
		return d
	}
	return filepath.Join(filepath.SplitList(build.Default.GOPATH)[0], "pkg", "mod")
}
