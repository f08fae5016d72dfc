package sitewrite

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/cespare/xxhash/v2"

	"github.com/rollbook/rollbook/internal/content"
)

// StampFile is the file in the output folder that holds the stamp: the
// hash of the inputs the site was built from.
const StampFile = ".rollbook-build"

// Inputs is everything a build reads, for its stamp.
type Inputs struct {
	// Salt is what else decides the output: the binary's version, the
	// day (review ages change with it) and the build's options.
	Salt string
	// Config is the configuration file, "" for none.
	Config string
	// Content is the content folder. Its files are read for the hash
	// and handed back, so the build parses them without reading again.
	Content string
	// Others are the other folders read whole (theme overrides, drill
	// reports); "" or a folder that does not exist is left out.
	Others []string
}

// InputKey hashes in: equal keys mean equal sites. read holds the bytes
// of every content file, by path on disk, for content.Reader.Read.
func InputKey(ctx context.Context, in Inputs) (key string, read map[string][]byte, err error) {
	read = map[string][]byte{}
	h := xxhash.New()
	h.WriteString(in.Salt)
	if in.Config != "" {
		data, err := os.ReadFile(in.Config)
		if err != nil {
			return "", nil, err
		}
		h.Write(data)
	}
	for i, dir := range append([]string{in.Content}, in.Others...) {
		if dir == "" {
			continue
		}
		var keep map[string][]byte
		if i == 0 {
			keep = read
		}
		err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				if errors.Is(err, fs.ErrNotExist) && p == dir {
					return filepath.SkipDir
				}
				return err
			}
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if !d.Type().IsRegular() {
				return nil
			}
			data, err := content.ReadFile(p)
			if err != nil {
				return err
			}
			if keep != nil {
				keep[p] = data
			}
			rel, _ := filepath.Rel(dir, p)
			fmt.Fprintf(h, "%s\x00%d\x00", filepath.ToSlash(rel), len(data))
			h.Write(data)
			return nil
		})
		if err != nil {
			return "", nil, err
		}
	}
	return hex.EncodeToString(h.Sum(nil)), read, nil
}

// Stamp records key in the build, for ReadStamp once it is published; a
// build into memory and an empty key leave no stamp.
func (w *Writer) Stamp(key string) error {
	if key == "" || w.mem != nil {
		return nil
	}
	return writeFile(filepath.Join(w.tmp, StampFile), []byte(key+"\n"))
}

// ReadStamp is the key of the site published in out, "" for none.
func ReadStamp(out string) string {
	b, err := os.ReadFile(filepath.Join(out, StampFile))
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}
