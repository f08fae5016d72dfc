// Package contentpath owns the content folder's boundary: whether a file
// named under it stays inside once symlinks are followed. Pages, assets
// and migration SQL all ask it, so a symlink that leaves the folder is
// refused the same way for each.
package contentpath

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
)

// OutsideError says a path under the content folder leads outside it.
type OutsideError struct {
	Rel    string // the path as written, relative to the content folder
	Target string // where it leads
}

func (e *OutsideError) Error() string {
	return fmt.Sprintf("%s is a symlink to %s, outside the content folder; rollbook reads nothing outside it", e.Rel, e.Target)
}

// Fix is what to write instead, for findings.
const Fix = "copy the file into the content folder instead of linking to it"

// Check returns nil when rel (slash path) names a file under dir that
// stays inside dir with every symlink followed, an *OutsideError when it
// leaves, and the file system's error (fs.ErrNotExist, …) otherwise.
func Check(dir, rel string) error {
	root, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return err
	}
	real, err := filepath.EvalSymlinks(filepath.Join(dir, filepath.FromSlash(rel)))
	if err != nil {
		return err
	}
	if r, err := filepath.Rel(root, real); err != nil || r == ".." || strings.HasPrefix(r, ".."+string(filepath.Separator)) {
		return &OutsideError{Rel: rel, Target: real}
	}
	return nil
}

// IsOutside reports whether err is an *OutsideError.
func IsOutside(err error) bool {
	var oe *OutsideError
	return errors.As(err, &oe)
}
