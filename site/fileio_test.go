package site

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestWriteAndReadFile(t *testing.T) {
	dir := t.TempDir()
	for _, size := range []int{0, 1, 4095, 4096, 4097, 1 << 20} {
		data := bytes.Repeat([]byte("rollbook "), size/9+1)[:size]
		name := filepath.Join(dir, "f")
		if err := writeFile(name, data); err != nil {
			t.Fatal(err)
		}
		got, err := readFile(name)
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("%d bytes: read back %d, %v", size, len(got), err)
		}
		if st, _ := os.Stat(name); st.Mode().Perm()&^0o022 != 0o644&^0o022 {
			t.Errorf("mode %v", st.Mode())
		}
	}
	// A shorter write truncates what was there.
	name := filepath.Join(dir, "short")
	_ = writeFile(name, []byte("a long first version"))
	_ = writeFile(name, []byte("v2"))
	if got, _ := readFile(name); string(got) != "v2" {
		t.Errorf("after a shorter write: %q", got)
	}
	missing := filepath.Join(dir, "no", "such", "file")
	if err := writeFile(missing, nil); !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), missing) {
		t.Errorf("write into a missing folder: %v", err)
	}
	if _, err := readFile(missing); !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), missing) {
		t.Errorf("read of a missing file: %v", err)
	}
	if _, err := readFile(dir); err == nil {
		t.Errorf("reading a folder gave no error")
	}
}

// TestParseAllTakesWhatWasRead: a source inputKey read is parsed from
// those bytes, not read again.
func TestParseAllTakesWhatWasRead(t *testing.T) {
	dir := t.TempDir()
	abs := filepath.Join(dir, "a.md")
	if err := os.WriteFile(abs, []byte("---\ntitle: On disk\n---\nbody\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	src := []source{{rel: "a.md", abs: abs, size: 40}}
	read := map[string][]byte{abs: []byte("---\ntitle: As read\n---\nbody\n")}
	ps, err := parseAll(context.Background(), src, "content", nil, nil, read)
	if err != nil || ps[0].plan == nil || ps[0].plan.Title != "As read" {
		t.Fatalf("parsed %+v, %v", ps[0].plan, err)
	}
	ps, err = parseAll(context.Background(), src, "content", nil, nil, nil)
	if err != nil || ps[0].plan == nil || ps[0].plan.Title != "On disk" {
		t.Fatalf("parsed %+v, %v", ps[0].plan, err)
	}
}
