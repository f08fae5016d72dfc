// Package drillenv owns the containers of one game-day drill: it builds the
// images without a registry (a scratch image holding the static drill
// agent, a PostgreSQL image assembled from the host's Debian packages, and
// the team's release images from their Dockerfiles), starts the database,
// both releases (the demo app, or the team's own service with its
// dependencies, schema, migrations and smoke checks), the fault injector,
// the router, the pager and the load generator on a private network, and
// removes every one of them afterwards, found by label.
package drillenv

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"debug/elf"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"

	"github.com/moby/moby/client"
)

// BuildAgentBinary compiles the static drill agent (CGO_ENABLED=0 go build
// ./cmd/rollbook-agent) from the module at moduleDir into out.
func BuildAgentBinary(ctx context.Context, moduleDir, out string) error {
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-buildvcs=false", "-ldflags=-s -w", "-o", out, "./cmd/rollbook-agent")
	cmd.Dir = moduleDir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("building the drill agent (CGO_ENABLED=0 go build ./cmd/rollbook-agent in %s): %w\n%s", moduleDir, err, tail(string(b), 2000))
	}
	return nil
}

// One COPY makes one layer: each layer costs a commit on the engine.
const agentDockerfile = `FROM scratch
COPY rootfs/ /
ENTRYPOINT ["/rollbook-agent"]
`

// AgentImage builds a scratch image holding the static agent binary at
// path and returns its reference, rollbook-agent:<sha12> by content; an
// image already built from the same binary is reused.
func AgentImage(ctx context.Context, binary string) (string, error) {
	data, err := os.ReadFile(binary)
	if err != nil {
		return "", fmt.Errorf("reading the drill agent: %w", err)
	}
	if err := checkStatic(binary); err != nil {
		return "", err
	}
	h := sha256.New()
	h.Write([]byte(agentDockerfile))
	h.Write(data)
	ref := "rollbook-agent:" + hex.EncodeToString(h.Sum(nil))[:12]
	c, built, err := openImage(ctx, ref)
	if err != nil {
		return "", err
	}
	defer c.Close()
	if built {
		return ref, nil
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	// The empty folders give copied migrations and temp files a place to land.
	for _, d := range []string{"rootfs/", "rootfs/migrations/", "rootfs/tmp/"} {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: d, Mode: 0o1777}); err != nil {
			return "", err
		}
	}
	if err := writeFile(tw, "Dockerfile", 0o644, []byte(agentDockerfile), 0); err != nil {
		return "", err
	}
	if err := writeFile(tw, "rootfs/rollbook-agent", 0o755, data, 0); err != nil {
		return "", err
	}
	if err := tw.Close(); err != nil {
		return "", err
	}
	return ref, buildImage(ctx, c, ref, &buf)
}

// checkStatic refuses a dynamically linked agent: a scratch image has no
// loader or C library to run it with.
func checkStatic(binary string) error {
	f, err := elf.Open(binary)
	if err != nil {
		return fmt.Errorf("the drill agent %s is not a Linux executable (build it with GOOS=linux CGO_ENABLED=0): %w", binary, err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return fmt.Errorf("the drill agent %s is dynamically linked; rebuild it with CGO_ENABLED=0", binary)
		}
	}
	return nil
}

// buildImage builds ref from a tar build context and, on failure, reports
// the last lines of the build output.
func buildImage(ctx context.Context, c *client.Client, ref string, buildCtx io.Reader) error {
	res, err := c.ImageBuild(ctx, buildCtx, client.ImageBuildOptions{
		Tags: []string{ref}, Remove: true, ForceRemove: true, Labels: map[string]string{labelManaged: "true"},
	})
	if err != nil {
		return fmt.Errorf("building image %s: %w", ref, err)
	}
	defer res.Body.Close()
	return readProgress(ctx, c, "building", ref, res.Body)
}

// readProgress drains the engine's JSON message stream, returning its
// error (with the output tail) if it reports one.
func readProgress(ctx context.Context, c *client.Client, verb, ref string, r io.Reader) error {
	var lines []string
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var msg struct {
			Stream string `json:"stream"`
			Status string `json:"status"`
			Error  string `json:"error"`
		}
		if json.Unmarshal(sc.Bytes(), &msg) != nil {
			continue
		}
		if msg.Error != "" {
			return fmt.Errorf("%s image %s: %s\n%s", verb, ref, msg.Error, strings.Join(lines, ""))
		}
		if s := msg.Stream + msg.Status; s != "" {
			if !strings.HasSuffix(s, "\n") {
				s += "\n"
			}
			lines = append(lines, s)
			if len(lines) > 20 {
				lines = lines[1:]
			}
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("%s image %s: %w", verb, ref, err)
	}
	if !imageExists(ctx, c, ref) {
		return fmt.Errorf("%s image %s: the engine reported no error but the image is missing\n%s", verb, ref, strings.Join(lines, ""))
	}
	return nil
}

// The host's PostgreSQL install the database image is assembled from.
const (
	pgBin   = "/usr/lib/postgresql/15/bin"
	pgLib   = "/usr/lib/postgresql/15/lib"
	pgShare = "/usr/share/postgresql/15"
)

// pgRecipe changes whenever the image layout below does, so a stale image
// is not reused.
const pgRecipe = "rollbook-postgres/2"

const pgConf = `
# rollbook drill settings
listen_addresses = '*'
unix_socket_directories = '/var/run/postgresql'
max_connections = 200
shared_buffers = 32MB
fsync = off
synchronous_commit = off
full_page_writes = off
jit = off
log_min_messages = warning
`

// PostgresImage builds a PostgreSQL image from the host's Debian
// postgresql-15 install and returns its reference,
// rollbook-postgres:<sha12> over its inputs; an existing one is reused.
// The image holds the server binaries with every shared library they load,
// and a data folder made by initdb at build time (trust authentication from
// any address), so a container accepts connections about a second after
// it starts.
func PostgresImage(ctx context.Context) (string, error) {
	if _, err := os.Stat(filepath.Join(pgBin, "postgres")); err != nil {
		return "", fmt.Errorf("no PostgreSQL server at %s to build the drill database image from: install postgresql-15 (apt-get install -y postgresql-15), or name a database image (for example postgres:16)", pgBin)
	}
	pgUser, err := user.Lookup("postgres")
	if err != nil {
		return "", fmt.Errorf("no postgres user to run initdb as (installing postgresql-15 creates it: apt-get install -y postgresql-15): %w", err)
	}
	uid, _ := strconv.Atoi(pgUser.Uid)
	gid, _ := strconv.Atoi(pgUser.Gid)
	files, err := postgresFiles()
	if err != nil {
		return "", err
	}
	ref := contentTag("rollbook-postgres", fmt.Sprintf("%s\n%s\n%d:%d\n", pgRecipe, pgConf, uid, gid), files)
	c, built, err := openImage(ctx, ref)
	if err != nil {
		return "", err
	}
	defer c.Close()
	if built {
		return ref, nil
	}

	tmp, err := os.MkdirTemp("", "rollbook-pgdata-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	data := filepath.Join(tmp, "data")
	if err := initdb(ctx, tmp, data, uid, gid); err != nil {
		return "", err
	}

	// The root file system streams straight into the engine.
	pr, pw := io.Pipe()
	go func() {
		pw.CloseWithError(writeRootfs(pw, files, tmp, data, uid, gid))
	}()
	res, err := c.ImageImport(ctx, client.ImageImportSource{Source: pr, SourceName: "-"}, ref, client.ImageImportOptions{
		Message: "rollbook drill database from the host's postgresql-15",
		Changes: []string{
			fmt.Sprintf("USER %d:%d", uid, gid),
			"ENV TZ=UTC LANG=C PGDATA=/data",
			"EXPOSE 5432",
			"LABEL " + labelManaged + "=true",
			fmt.Sprintf(`CMD ["%s/postgres", "-D", "/data"]`, pgBin),
		},
	})
	if err != nil {
		pr.CloseWithError(err)
		return "", fmt.Errorf("importing the drill database image %s: %w", ref, err)
	}
	defer res.Close()
	if err := readProgress(ctx, c, "importing", ref, res); err != nil {
		return "", err
	}
	return ref, nil
}

// initdb makes a data folder as the postgres user (initdb refuses root).
func initdb(ctx context.Context, tmp, data string, uid, gid int) error {
	if err := os.Mkdir(data, 0o700); err != nil {
		return err
	}
	for _, d := range []string{tmp, data} {
		if err := os.Chown(d, uid, gid); err != nil {
			return fmt.Errorf("handing %s to the postgres user for initdb: %w", d, err)
		}
	}
	cmd := exec.CommandContext(ctx, filepath.Join(pgBin, "initdb"), "-D", data, "-U", "postgres", "--auth=trust", "--encoding=UTF8", "--locale=C", "--no-sync")
	if os.Geteuid() == 0 {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}}
	}
	cmd.Env = []string{"TZ=UTC", "LANG=C", "PATH=/usr/bin:/bin"}
	cmd.Dir = tmp
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("initdb for the drill database image: %w\n%s", err, tail(string(out), 2000))
	}
	if err := appendFile(filepath.Join(data, "postgresql.conf"), pgConf); err != nil {
		return err
	}
	return appendFile(filepath.Join(data, "pg_hba.conf"), "host all all 0.0.0.0/0 trust\nhost all all ::/0 trust\n")
}

// writeRootfs writes the image's file system as a tar stream: the host
// files (keeping symlinks), /etc/passwd and /etc/group with the postgres
// user, /tmp, /var/run/postgresql and the data folder as /data.
func writeRootfs(w io.Writer, files []string, tmp, data string, uid, gid int) error {
	r := newRootfs(w)
	tw := r.tw
	for _, d := range []string{"tmp", "var/run/postgresql"} {
		if err := r.parents(d); err != nil {
			return err
		}
		if err := r.dir(d, 0o1777, 0, 0); err != nil {
			return err
		}
	}
	if err := r.hostFiles(files, "the database image"); err != nil {
		return err
	}
	if err := r.etc(fmt.Sprintf("root:x:0:0:root:/root:/nonexistent\npostgres:x:%d:%d:PostgreSQL:/data:/nonexistent\n", uid, gid), fmt.Sprintf("root:x:0:\npostgres:x:%d:\n", gid)); err != nil {
		return err
	}
	err := filepath.WalkDir(data, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(tmp, p)
		if err != nil {
			return err
		}
		if d.IsDir() {
			return tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: rel + "/", Mode: 0o700, Uid: uid, Gid: gid})
		}
		st, err := d.Info()
		if err != nil {
			return err
		}
		if !st.Mode().IsRegular() {
			return nil
		}
		return copyFile(tw, p, rel, 0o600, st.Size(), uid, gid)
	})
	if err != nil {
		return fmt.Errorf("packing the initdb data folder: %w", err)
	}
	return tw.Close()
}

func copyFile(tw *tar.Writer, src, name string, mode, size int64, uid, gid int) error {
	f, err := os.Open(src)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := tw.WriteHeader(&tar.Header{Name: name, Mode: mode, Size: size, Uid: uid, Gid: gid}); err != nil {
		return err
	}
	if _, err := io.CopyN(tw, f, size); err != nil {
		return fmt.Errorf("packing %s: %w", src, err)
	}
	return nil
}

func writeFile(tw *tar.Writer, name string, mode int64, data []byte, owner int) error {
	if err := tw.WriteHeader(&tar.Header{Name: name, Mode: mode, Size: int64(len(data)), Uid: owner, Gid: owner}); err != nil {
		return err
	}
	_, err := tw.Write(data)
	return err
}

func appendFile(name, text string) error {
	f, err := os.OpenFile(name, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	if _, err := io.WriteString(f, text); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// postgresFiles lists what the server needs: its binaries, its extension
// libraries and share files, the UTC time zone, and every shared library
// ldd names for them (the dynamic loader included), with the symlinks that
// lead to each. The JIT provider is left out: it pulls in LLVM (over
// 100 MB) and the image runs with jit = off.
func postgresFiles() ([]string, error) {
	set := map[string]bool{}
	walk := func(root string) error {
		return filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				if errors.Is(err, fs.ErrNotExist) {
					return nil
				}
				return err
			}
			if d.IsDir() && d.Name() == "bitcode" {
				return filepath.SkipDir
			}
			if !d.IsDir() && !strings.HasPrefix(d.Name(), "llvmjit") {
				set[p] = true
			}
			return nil
		})
	}
	for _, b := range []string{"postgres", "initdb", "pg_ctl"} {
		set[filepath.Join(pgBin, b)] = true
	}
	for _, root := range []string{pgLib, pgShare, "/usr/share/zoneinfo/UTC", "/usr/share/zoneinfo/Etc/UTC"} {
		if err := walk(root); err != nil {
			return nil, fmt.Errorf("listing the PostgreSQL install: %w", err)
		}
	}
	var elfs []string
	for f := range set {
		if strings.HasPrefix(f, pgBin) || strings.HasSuffix(f, ".so") {
			elfs = append(elfs, f)
		}
	}
	sort.Strings(elfs)
	if err := addSharedLibraries(set, elfs, "PostgreSQL", "reinstall postgresql-15"); err != nil {
		return nil, err
	}
	return sorted(set), nil
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

// openImage connects to the engine and reports whether ref is built
// already: images are tagged by content hash, so an existing tag is current.
func openImage(ctx context.Context, ref string) (*client.Client, bool, error) {
	c, err := dockerClient(ctx)
	if err != nil {
		return nil, false, err
	}
	return c, imageExists(ctx, c, ref), nil
}
