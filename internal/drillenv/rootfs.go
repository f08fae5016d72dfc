package drillenv

// The images built from host packages (PostgreSQL, Prometheus) share one
// way of finding what a binary loads and of packing it into a root file
// system, so a fix to either (a symlink chain, a static binary) serves both.

import (
	"archive/tar"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
)

// addSharedLibraries adds to set every shared library ldd names for elfs
// (the dynamic loader included), with the symlinks leading to each. what
// names the install in errors, and fix says how to repair a missing
// library on the host.
func addSharedLibraries(set map[string]bool, elfs []string, what, fix string) error {
	out, err := exec.Command("ldd", elfs...).Output()
	if err != nil && len(out) == 0 {
		// ldd exits 1 for a static binary: it loads nothing.
		var exit *exec.ExitError
		if !errors.As(err, &exit) || exit.ExitCode() != 1 {
			return fmt.Errorf("listing %s's shared libraries with ldd: %w", what, err)
		}
	}
	for _, line := range strings.Split(string(out), "\n") {
		if strings.Contains(line, "not found") {
			return fmt.Errorf("a shared library %s needs is missing on this host: %s (%s)", what, strings.TrimSpace(line), fix)
		}
		for _, field := range strings.Fields(line) {
			if strings.HasPrefix(field, "/") && !strings.HasSuffix(field, ":") {
				addWithLinks(set, field)
			}
		}
	}
	return nil
}

// addWithLinks adds a library path and, when it is a symlink, the chain of
// targets behind it.
func addWithLinks(set map[string]bool, p string) {
	for i := 0; i < 8; i++ {
		set[p] = true
		target, err := os.Readlink(p)
		if err != nil {
			return
		}
		if !filepath.IsAbs(target) {
			target = filepath.Join(filepath.Dir(p), target)
		}
		p = target
	}
}

// contentTag names an image repo:<sha12> by its recipe and the size and
// time of every host file packed into it, so a reinstalled package gives a
// new tag and an existing tag is current.
func contentTag(repo, recipe string, files []string) string {
	h := sha256.New()
	io.WriteString(h, recipe)
	for _, f := range files {
		if st, err := os.Lstat(f); err == nil {
			fmt.Fprintf(h, "%s %d %d\n", f, st.Size(), st.ModTime().UnixNano())
		}
	}
	return repo + ":" + hex.EncodeToString(h.Sum(nil))[:12]
}

func sorted(set map[string]bool) []string {
	list := make([]string, 0, len(set))
	for f := range set {
		list = append(list, f)
	}
	sort.Strings(list)
	return list
}

// rootfs writes an image's file system as a tar stream, each folder once.
type rootfs struct {
	tw   *tar.Writer
	dirs map[string]bool
}

func newRootfs(w io.Writer) *rootfs {
	return &rootfs{tw: tar.NewWriter(w), dirs: map[string]bool{}}
}

func (r *rootfs) dir(name string, mode int64, uid, gid int) error {
	if r.dirs[name] {
		return nil
	}
	r.dirs[name] = true
	return r.tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: name + "/", Mode: mode, Uid: uid, Gid: gid})
}

// parents writes the folders above name, root-owned.
func (r *rootfs) parents(name string) error {
	parts := strings.Split(name, "/")
	for i := 1; i < len(parts); i++ {
		if err := r.dir(strings.Join(parts[:i], "/"), 0o755, 0, 0); err != nil {
			return err
		}
	}
	return nil
}

// hostFiles copies host files at their own paths, keeping symlinks as
// symlinks (the libraries' version links), root-owned.
func (r *rootfs) hostFiles(files []string, image string) error {
	for _, f := range files {
		st, err := os.Lstat(f)
		if err != nil {
			return fmt.Errorf("reading %s for %s: %w", f, image, err)
		}
		name := strings.TrimPrefix(f, "/")
		if err := r.parents(name); err != nil {
			return err
		}
		if st.Mode()&fs.ModeSymlink != 0 {
			target, err := os.Readlink(f)
			if err != nil {
				return err
			}
			if err := r.tw.WriteHeader(&tar.Header{Typeflag: tar.TypeSymlink, Name: name, Linkname: target, Mode: 0o777}); err != nil {
				return err
			}
			continue
		}
		if err := copyFile(r.tw, f, name, int64(st.Mode().Perm()), st.Size(), 0, 0); err != nil {
			return err
		}
	}
	return nil
}

// etc writes /etc/passwd and /etc/group.
func (r *rootfs) etc(passwd, group string) error {
	if err := r.dir("etc", 0o755, 0, 0); err != nil {
		return err
	}
	if err := writeFile(r.tw, "etc/passwd", 0o644, []byte(passwd), 0); err != nil {
		return err
	}
	return writeFile(r.tw, "etc/group", 0o644, []byte(group), 0)
}

func (r *rootfs) Close() error { return r.tw.Close() }
