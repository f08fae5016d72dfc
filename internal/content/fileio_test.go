package content

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

func TestReadFile(t *testing.T) {
	dir := t.TempDir()
	for _, size := range []int{0, 1, 4095, 4096, 4097, 1 << 20} {
		data := bytes.Repeat([]byte("rollbook "), size/9+1)[:size]
		name := filepath.Join(dir, "f")
		if err := os.WriteFile(name, data, 0o644); err != nil {
			t.Fatal(err)
		}
		got, err := ReadFile(name)
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("%d bytes: read back %d, %v", size, len(got), err)
		}
	}
	missing := filepath.Join(dir, "no", "such", "file")
	if _, err := ReadFile(missing); !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), missing) {
		t.Errorf("read of a missing file: %v", err)
	}
	if _, err := ReadFile(dir); err == nil {
		t.Errorf("reading a folder gave no error")
	}
}

// TestReadAllTakesWhatWasRead: a source the build's input hash read is
// parsed from those bytes, not read again; a file over the size limit is
// a finding, not read.
func TestReadAllTakesWhatWasRead(t *testing.T) {
	dir := t.TempDir()
	abs := filepath.Join(dir, "a.md")
	if err := os.WriteFile(abs, []byte("---\ntitle: On disk\n---\nbody\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	src := []Source{{Rel: "a.md", Abs: abs, Size: 40}}
	r := &Reader{Display: "content", Read: map[string][]byte{abs: []byte("---\ntitle: As read\n---\nbody\n")}}
	fs, err := r.ReadAll(context.Background(), src)
	if err != nil || fs[0].Plan == nil || fs[0].Plan.Title != "As read" {
		t.Fatalf("parsed %+v, %v", fs[0].Plan, err)
	}
	fs, err = (&Reader{Display: "content"}).ReadAll(context.Background(), src)
	if err != nil || fs[0].Plan == nil || fs[0].Plan.Title != "On disk" || string(fs[0].Data) != "---\ntitle: On disk\n---\nbody\n" {
		t.Fatalf("parsed %+v, %v", fs[0].Plan, err)
	}
	big := []Source{{Rel: "big.md", Abs: filepath.Join(dir, "not-there.md"), Size: 1 << 40}}
	fs, err = (&Reader{Display: "content"}).ReadAll(context.Background(), big)
	if err != nil || fs[0].Plan != nil || len(fs[0].Findings.Errors()) != 1 || fs[0].Findings[0].File != "content/big.md" {
		t.Fatalf("a file over the limit: %+v, %v", fs[0], err)
	}
	if _, err := (&Reader{}).ReadAll(context.Background(), []Source{{Rel: "gone.md", Abs: filepath.Join(dir, "gone.md")}}); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a file gone since the scan: %v", err)
	}
}
