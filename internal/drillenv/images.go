// Package drillenv owns the containers of one game-day drill: it builds the
// images without a registry (a scratch image holding the static agent, and
// a PostgreSQL image assembled from the host's Debian packages), starts the
// database, both releases, the fault injector, the router, the pager and
// the load generator on a private network, and removes every one of them
// afterwards, found by label.
package drillenv

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
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

// Labels every drill object carries.
const (
	LabelManaged = "rollbook.managed"
	LabelDrill   = "rollbook.drill"
)

// dockerClient connects to the local engine and says plainly when it cannot.
func dockerClient(ctx context.Context) (*client.Client, error) {
	c, err := client.New(client.FromEnv, client.WithAPIVersionNegotiation())
	if err != nil {
		return nil, fmt.Errorf("cannot configure the Docker client: %w", err)
	}
	if _, err := c.Ping(ctx, client.PingOptions{}); err != nil {
		host := os.Getenv("DOCKER_HOST")
		if host == "" {
			host = "unix:///var/run/docker.sock"
		}
		c.Close()
		return nil, fmt.Errorf("cannot reach the Docker engine at %s: start dockerd or set DOCKER_HOST (%v)", host, err)
	}
	return c, nil
}

// CheckDocker reports whether a Docker engine is reachable.
func CheckDocker(ctx context.Context) error {
	c, err := dockerClient(ctx)
	if err != nil {
		return err
	}
	return c.Close()
}

// BuildAgentBinary compiles the static drill agent from the module at moduleDir.
func BuildAgentBinary(ctx context.Context, moduleDir, out string) error {
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-o", out, "./cmd/rollbook-agent")
	cmd.Dir = moduleDir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("building the drill agent (CGO_ENABLED=0 go build ./cmd/rollbook-agent): %v\n%s", err, b)
	}
	return nil
}

// tarBuilder writes an in-memory build context.
type tarBuilder struct {
	buf bytes.Buffer
	tw  *tar.Writer
}

func newTar() *tarBuilder {
	t := &tarBuilder{}
	t.tw = tar.NewWriter(&t.buf)
	return t
}

func (t *tarBuilder) file(name string, mode int64, data []byte) error {
	if err := t.tw.WriteHeader(&tar.Header{Name: name, Mode: mode, Size: int64(len(data)), Format: tar.FormatPAX}); err != nil {
		return err
	}
	_, err := t.tw.Write(data)
	return err
}

func (t *tarBuilder) bytes() ([]byte, error) {
	if err := t.tw.Close(); err != nil {
		return nil, err
	}
	return t.buf.Bytes(), nil
}

func imageExists(ctx context.Context, c *client.Client, ref string) bool {
	_, err := c.ImageInspect(ctx, ref)
	return err == nil
}

// buildImage builds ref from a tar build context, streaming the engine's
// output so a failure shows its last lines.
func buildImage(ctx context.Context, c *client.Client, ref string, buildCtx []byte) error {
	res, err := c.ImageBuild(ctx, bytes.NewReader(buildCtx), client.ImageBuildOptions{
		Tags: []string{ref}, Remove: true, ForceRemove: true, Labels: map[string]string{LabelManaged: "true"},
	})
	if err != nil {
		return fmt.Errorf("building image %s: %w", ref, err)
	}
	defer res.Body.Close()
	var tail []string
	sc := bufio.NewScanner(res.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var msg struct {
			Stream string `json:"stream"`
			Error  string `json:"error"`
		}
		if json.Unmarshal(sc.Bytes(), &msg) != nil {
			continue
		}
		if msg.Error != "" {
			return fmt.Errorf("building image %s: %s\n%s", ref, msg.Error, strings.Join(tail, ""))
		}
		if msg.Stream != "" {
			tail = append(tail, msg.Stream)
			if len(tail) > 20 {
				tail = tail[1:]
			}
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("building image %s: %w", ref, err)
	}
	if !imageExists(ctx, c, ref) {
		return fmt.Errorf("building image %s: the engine reported no error but the image is missing\n%s", ref, strings.Join(tail, ""))
	}
	return nil
}

// AgentImage builds (once per binary) a scratch image holding the agent.
func AgentImage(ctx context.Context, binary string) (string, error) {
	data, err := os.ReadFile(binary)
	if err != nil {
		return "", fmt.Errorf("reading the drill agent: %w", err)
	}
	if err := checkStatic(binary); err != nil {
		return "", err
	}
	sum := sha256.Sum256(data)
	ref := "rollbook-agent:" + hex.EncodeToString(sum[:])[:12]
	c, err := dockerClient(ctx)
	if err != nil {
		return "", err
	}
	defer c.Close()
	if imageExists(ctx, c, ref) {
		return ref, nil
	}
	t := newTar()
	// The empty folders give copied migrations and temp files a place to land.
	if err := t.file("Dockerfile", 0o644, []byte("FROM scratch\nCOPY rollbook-agent /rollbook-agent\nCOPY migrations /migrations\nCOPY tmp /tmp\nENTRYPOINT [\"/rollbook-agent\"]\n")); err != nil {
		return "", err
	}
	for _, d := range []string{"migrations/", "tmp/"} {
		if err := t.tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: d, Mode: 0o777}); err != nil {
			return "", err
		}
	}
	if err := t.file("rollbook-agent", 0o755, data); err != nil {
		return "", err
	}
	b, err := t.bytes()
	if err != nil {
		return "", err
	}
	return ref, buildImage(ctx, c, ref, b)
}

// checkStatic refuses a dynamically linked agent: a scratch image has no
// C library to load it with.
func checkStatic(binary string) error {
	out, err := exec.Command("file", "-b", binary).Output()
	if err != nil {
		return nil // no file(1): the container start will tell
	}
	if strings.Contains(string(out), "dynamically linked") {
		return fmt.Errorf("the drill agent %s is dynamically linked; rebuild it with CGO_ENABLED=0", binary)
	}
	return nil
}

// Postgres install on the host the database image is assembled from.
const (
	pgBin   = "/usr/lib/postgresql/15/bin"
	pgLib   = "/usr/lib/postgresql/15/lib"
	pgShare = "/usr/share/postgresql/15"
)

const pgConf = `listen_addresses = '*'
unix_socket_directories = '/tmp'
max_connections = 200
shared_buffers = 32MB
fsync = off
synchronous_commit = off
full_page_writes = off
log_min_messages = warning
`

// PostgresImage builds a PostgreSQL image from the host's Debian packages:
// the server binaries with the shared libraries they load, and a data
// folder made by initdb at build time, so the container starts in a second.
func PostgresImage(ctx context.Context) (string, error) {
	if _, err := os.Stat(filepath.Join(pgBin, "postgres")); err != nil {
		return "", fmt.Errorf("no PostgreSQL server at %s to build the drill database from: install postgresql-15 (apt-get install -y postgresql-15), or pass a database image with --db-image", pgBin)
	}
	files, err := postgresFiles()
	if err != nil {
		return "", err
	}
	h := sha256.New()
	ver, _ := exec.Command(filepath.Join(pgBin, "postgres"), "--version").Output()
	h.Write(ver)
	h.Write([]byte(pgConf))
	for _, f := range files {
		h.Write([]byte(f + "\x00"))
	}
	ref := "rollbook-postgres:" + hex.EncodeToString(h.Sum(nil))[:12]
	c, err := dockerClient(ctx)
	if err != nil {
		return "", err
	}
	defer c.Close()
	if imageExists(ctx, c, ref) {
		return ref, nil
	}
	pgUser, err := user.Lookup("postgres")
	if err != nil {
		return "", fmt.Errorf("no postgres user to run initdb as (installing postgresql-15 creates it): %w", err)
	}
	uid, _ := strconv.Atoi(pgUser.Uid)
	gid, _ := strconv.Atoi(pgUser.Gid)
	tmp, err := os.MkdirTemp("", "rollbook-pgdata-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	data := filepath.Join(tmp, "data")
	if err := os.Mkdir(data, 0o700); err != nil {
		return "", err
	}
	if err := os.Chown(tmp, uid, gid); err != nil {
		return "", err
	}
	if err := os.Chown(data, uid, gid); err != nil {
		return "", err
	}
	initdb := exec.CommandContext(ctx, filepath.Join(pgBin, "initdb"), "-D", data, "-U", "postgres", "--auth=trust", "--encoding=UTF8", "--locale=C", "--no-sync")
	initdb.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}}
	initdb.Env = []string{"TZ=UTC", "LANG=C"}
	initdb.Dir = tmp
	if out, err := initdb.CombinedOutput(); err != nil {
		return "", fmt.Errorf("initdb for the drill database: %v\n%s", err, out)
	}
	if err := appendFile(filepath.Join(data, "postgresql.conf"), pgConf); err != nil {
		return "", err
	}
	if err := appendFile(filepath.Join(data, "pg_hba.conf"), "host all all 0.0.0.0/0 trust\n"); err != nil {
		return "", err
	}

	var rootfs bytes.Buffer
	tw := tar.NewWriter(&rootfs)
	dirs := map[string]bool{}
	addDir := func(name string, mode int64, owner int) error {
		if dirs[name] {
			return nil
		}
		dirs[name] = true
		return tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: name + "/", Mode: mode, Uid: owner, Gid: owner})
	}
	addParents := func(p string) error {
		parts := strings.Split(strings.Trim(filepath.Dir(p), "/"), "/")
		for i := range parts {
			if parts[0] == "" || parts[0] == "." {
				break
			}
			if err := addDir(strings.Join(parts[:i+1], "/"), 0o755, 0); err != nil {
				return err
			}
		}
		return nil
	}
	for _, f := range files {
		st, err := os.Lstat(f)
		if err != nil {
			continue
		}
		name := strings.TrimPrefix(f, "/")
		if err := addParents(name); err != nil {
			return "", err
		}
		if st.Mode()&fs.ModeSymlink != 0 {
			target, err := os.Readlink(f)
			if err != nil {
				return "", err
			}
			if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeSymlink, Name: name, Linkname: target, Mode: 0o777}); err != nil {
				return "", err
			}
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			return "", err
		}
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: int64(st.Mode().Perm()), Size: int64(len(b))}); err != nil {
			return "", err
		}
		if _, err := tw.Write(b); err != nil {
			return "", err
		}
	}
	for _, d := range []string{"tmp", "var", "var/run", "var/run/postgresql"} {
		if err := addDir(d, 0o1777, 0); err != nil {
			return "", err
		}
	}
	etc := map[string]string{
		"etc/passwd": fmt.Sprintf("root:x:0:0:root:/root:/nonexistent\npostgres:x:%d:%d:PostgreSQL:/data:/nonexistent\n", uid, gid),
		"etc/group":  fmt.Sprintf("root:x:0:\npostgres:x:%d:\n", gid),
	}
	if err := addDir("etc", 0o755, 0); err != nil {
		return "", err
	}
	for _, name := range []string{"etc/group", "etc/passwd"} {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(etc[name]))}); err != nil {
			return "", err
		}
		if _, err := tw.Write([]byte(etc[name])); err != nil {
			return "", err
		}
	}
	err = filepath.WalkDir(data, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(tmp, p)
		if d.IsDir() {
			return tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: rel + "/", Mode: 0o700, Uid: uid, Gid: gid})
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if err := tw.WriteHeader(&tar.Header{Name: rel, Mode: 0o600, Size: int64(len(b)), Uid: uid, Gid: gid}); err != nil {
			return err
		}
		_, err = tw.Write(b)
		return err
	})
	if err != nil {
		return "", err
	}
	if err := tw.Close(); err != nil {
		return "", err
	}
	t := newTar()
	dockerfile := fmt.Sprintf("FROM scratch\nADD rootfs.tar /\nENV TZ=UTC LANG=C PGDATA=/data\nUSER %d:%d\nEXPOSE 5432\nCMD [\"%s/postgres\", \"-D\", \"/data\"]\n", uid, gid, pgBin)
	if err := t.file("Dockerfile", 0o644, []byte(dockerfile)); err != nil {
		return "", err
	}
	if err := t.file("rootfs.tar", 0o644, rootfs.Bytes()); err != nil {
		return "", err
	}
	b, err := t.bytes()
	if err != nil {
		return "", err
	}
	return ref, buildImage(ctx, c, ref, b)
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

// postgresFiles lists what the server needs: its binaries, extension
// libraries, share files, time zones, and every shared library ldd names
// (with the symlinks that lead to them).
func postgresFiles() ([]string, error) {
	set := map[string]bool{}
	var walk = func(root string) error {
		return filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				if errors.Is(err, fs.ErrNotExist) {
					return nil
				}
				return err
			}
			if !d.IsDir() {
				set[p] = true
			}
			return nil
		})
	}
	for _, b := range []string{"postgres", "initdb", "pg_ctl"} {
		set[filepath.Join(pgBin, b)] = true
	}
	for _, root := range []string{pgLib, pgShare, "/usr/share/zoneinfo/UTC", "/usr/share/zoneinfo/Etc"} {
		if err := walk(root); err != nil {
			return nil, err
		}
	}
	var elfs []string
	for f := range set {
		if strings.HasPrefix(f, pgBin) || strings.HasSuffix(f, ".so") {
			elfs = append(elfs, f)
		}
	}
	sort.Strings(elfs)
	out, err := exec.Command("ldd", elfs...).Output()
	if err != nil && len(out) == 0 {
		return nil, fmt.Errorf("ldd on the PostgreSQL binaries: %w", err)
	}
	for _, line := range strings.Split(string(out), "\n") {
		for _, field := range strings.Fields(line) {
			if strings.HasPrefix(field, "/") && !strings.HasSuffix(field, ":") {
				addWithLinks(set, field)
			}
		}
	}
	list := make([]string, 0, len(set))
	for f := range set {
		list = append(list, f)
	}
	sort.Strings(list)
	return list, nil
}

// addWithLinks adds a library path and, when it is a symlink, its target.
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
