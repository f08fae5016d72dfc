package alertrule

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
)

// CheckGlob says what is wrong with an alert_rules pattern, or nil: it must
// be a slash pattern inside the project (no absolute path, no ..).
func CheckGlob(g string) error {
	if g == "" {
		return errors.New("empty pattern")
	}
	if path.IsAbs(g) || filepath.IsAbs(g) || g == ".." || strings.HasPrefix(g, "../") || strings.Contains(g, "/../") || strings.HasSuffix(g, "/..") {
		return fmt.Errorf("pattern %q leaves the project folder", g)
	}
	for _, seg := range strings.Split(g, "/") {
		if seg == "**" {
			continue
		}
		if _, err := path.Match(seg, ""); err != nil {
			return fmt.Errorf("pattern %q: %w", g, err)
		}
	}
	return nil
}

// Expand lists the regular files under root each pattern matches, as
// slash paths relative to root, sorted. "**" matches any number of
// folders. Symlinks are not followed and dot folders are skipped, so a
// pattern reads nothing outside the project.
func Expand(root string, globs []string) ([][]string, error) {
	out := make([][]string, len(globs))
	for i, g := range globs {
		if err := CheckGlob(g); err != nil {
			return nil, err
		}
		start := staticPrefix(g)
		dir := filepath.Join(root, filepath.FromSlash(start))
		st, err := os.Lstat(dir)
		if errors.Is(err, fs.ErrNotExist) || err == nil && !st.IsDir() {
			continue
		} else if err != nil {
			return nil, err
		}
		err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if p != dir && strings.HasPrefix(d.Name(), ".") {
				if d.IsDir() {
					return filepath.SkipDir
				}
				return nil
			}
			if !d.Type().IsRegular() {
				return nil
			}
			rel, err := filepath.Rel(root, p)
			if err != nil {
				return err
			}
			rel = filepath.ToSlash(rel)
			if Match(g, rel) {
				out[i] = append(out[i], rel)
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("alert_rules %q: %w", g, err)
		}
		sort.Strings(out[i])
	}
	return out, nil
}

// staticPrefix is the folder part of a pattern before its first wildcard.
func staticPrefix(g string) string {
	segs := strings.Split(g, "/")
	var keep []string
	for _, s := range segs[:len(segs)-1] {
		if strings.ContainsAny(s, `*?[\`) {
			break
		}
		keep = append(keep, s)
	}
	return strings.Join(keep, "/")
}

// Match reports whether slash path p matches pattern g, where a "**"
// segment matches zero or more folders.
func Match(g, p string) bool {
	return matchSegs(strings.Split(g, "/"), strings.Split(p, "/"))
}

func matchSegs(g, p []string) bool {
	for len(g) > 0 {
		if g[0] == "**" {
			for i := 0; i <= len(p); i++ {
				if matchSegs(g[1:], p[i:]) {
					return true
				}
			}
			return false
		}
		if len(p) == 0 {
			return false
		}
		if ok, _ := path.Match(g[0], p[0]); !ok {
			return false
		}
		g, p = g[1:], p[1:]
	}
	return len(p) == 0
}
