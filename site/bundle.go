package site

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strings"
	"time"
)

// The offline copy (rollbook bundle) is a zip of the whole site, built
// for opening from disk: the laptop of whoever is on call, when the
// published site, the VPN or the single sign-on is down. A zip rather than
// one HTML file: every page keeps its own address, so links, the state of
// a page's checklists and a runbook_url's page all work as on the site,
// and the migrations' SQL and exported manifests stay files to open. A
// browser opening file:// pages may neither fetch nor load a module
// script, so the bundle's pages read the search index from one classic
// script (_search/index.js) and load search.js as a classic script.

// BundleDir is the folder the archive holds the site in, so unzipping it
// makes one folder.
const BundleDir = "runbooks"

// bundleEpoch is every entry's time: the same site gives the same archive.
var bundleEpoch = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

// Bundle builds the site for opening from disk and writes it to w as a zip
// archive. opts.OutDir, Bundle and Force are set by Bundle.
func Bundle(ctx context.Context, opts Options, w io.Writer) (*Result, error) {
	tmp, err := os.MkdirTemp("", "rollbook-bundle-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	opts.OutDir, opts.Bundle, opts.Force, opts.Dev, opts.Memory = filepath.Join(tmp, "public"), true, true, false, false
	res, err := Build(ctx, opts)
	if err != nil {
		return res, err
	}
	if err := bundleScripts(opts.OutDir); err != nil {
		return res, err
	}
	if err := zipDir(ctx, opts.OutDir, w); err != nil {
		return res, fmt.Errorf("writing the bundle: %w", err)
	}
	return res, nil
}

// bundleScripts writes the two scripts the bundle's pages load instead of
// fetching: the search index as one script, and search.js as a classic one.
func bundleScripts(dir string) error {
	files := map[string]json.RawMessage{}
	searchDir := filepath.Join(dir, "_search")
	err := filepath.WalkDir(searchDir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".json") {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(searchDir, p)
		files[filepath.ToSlash(rel)] = data
		return nil
	})
	if err != nil && !os.IsNotExist(err) {
		return fmt.Errorf("reading the search index: %w", err)
	}
	var index bytes.Buffer
	index.WriteString("self.rollbookSearchFiles=")
	if err := json.NewEncoder(&index).Encode(files); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(searchDir, "index.js"), index.Bytes(), 0o644); err != nil {
		return err
	}
	src, err := os.ReadFile(filepath.Join(dir, "search.js"))
	if err != nil {
		return fmt.Errorf("the theme has no search.js: %w", err)
	}
	classic, err := classicScript(string(src))
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "search-classic.js"), []byte(classic), 0o644)
}

var (
	exportDecl = regexp.MustCompile(`\bexport\s+((?:async\s+)?function\b|const\b|let\b|class\b)`)
	moduleOnly = regexp.MustCompile(`(^|[;}\n])\s*(import\s*[\w{*"'(]|export\s)`)
)

// classicScript turns a module that only exports declarations into a
// classic script: the exports become the declarations they export, in a
// function scope so nothing leaks onto window. A module that imports, or
// exports otherwise, is refused rather than broken.
func classicScript(src string) (string, error) {
	out := exportDecl.ReplaceAllString(src, "$1")
	if loc := moduleOnly.FindStringIndex(out); loc != nil {
		line := strings.Count(out[:loc[1]], "\n") + 1
		return "", fmt.Errorf("search.js line %d: imports or exports that a script opened from disk cannot run; the bundle needs a search.js whose only module syntax is export on declarations", line)
	}
	return "(function(){\"use strict\";\n" + out + "\n})();\n", nil
}

// zipDir writes every file under dir into a zip under BundleDir, in
// lexical order with one fixed time, so the same site gives the same bytes.
func zipDir(ctx context.Context, dir string, w io.Writer) error {
	zw := zip.NewWriter(w)
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		rel, _ := filepath.Rel(dir, p)
		hdr := &zip.FileHeader{Name: path.Join(BundleDir, filepath.ToSlash(rel)), Method: zip.Deflate, Modified: bundleEpoch}
		hdr.SetMode(0o644)
		f, err := zw.CreateHeader(hdr)
		if err != nil {
			return err
		}
		in, err := os.Open(p)
		if err != nil {
			return err
		}
		defer in.Close()
		_, err = io.Copy(f, in)
		return err
	})
	if err != nil {
		return err
	}
	return zw.Close()
}
