// Package buildcache owns rollbook's persistent build cache: results that
// depend only on their inputs (highlighted code blocks, rendered page
// bodies, migration analyses) stored under a key hashed from those inputs
// and the binary's version, as Go's build cache does, so that a CI job with
// the cache restored, or a second start of the live preview, computes only
// what changed.
//
// Entries live in pack files: a build appends what it computed to one new
// pack, published by a rename when the build ends, so a build never sees
// another's half-written pack and two builds at once each add their own.
// (One file per entry would cost a file creation each, as slow as writing
// the site again on many disks.) A build marks the packs it read as used;
// past the size bound the least recently used packs are removed, and when
// packs pile up a build copies what it used into its own pack and removes
// the packs it copied from. An entry whose bytes do not match its checksum
// is ignored, so it is computed again. Entries are stored compressed (S2):
// whole rendered pages are most of a cache, and a CI job restores and
// saves it on every run. Failing to write the cache never
// fails a build: it is only slower next time.
package buildcache

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/cespare/xxhash/v2"
	"github.com/klauspost/compress/s2"
)

// Env names the environment variable that sets the cache folder; "off"
// turns the cache off.
const Env = "ROLLBOOK_CACHE"

// DefaultMaxBytes bounds the cache folder unless Options say otherwise.
const DefaultMaxBytes = 1 << 30

// Dir returns the cache folder to use: flag if set, else $ROLLBOOK_CACHE,
// else rollbook/build in the user's cache folder. "" means no cache.
func Dir(flag string) string {
	d := flag
	if d == "" {
		d = os.Getenv(Env)
	}
	if d == "off" {
		return ""
	}
	if d == "" {
		uc, err := os.UserCacheDir()
		if err != nil {
			return ""
		}
		d = filepath.Join(uc, "rollbook", "build")
	}
	return d
}

// Options configures a Cache.
type Options struct {
	// Dir is the cache folder; it is created if missing.
	Dir string
	// Version identifies the binary: entries of another version are never
	// read (their keys differ).
	Version string
	// MaxBytes bounds the folder's size; 0 means DefaultMaxBytes.
	MaxBytes int64
	// Logger receives why the cache could not be read or written.
	Logger *slog.Logger

	// wrap lets tests make the pack being written fail (a full disk).
	wrap func(io.Writer) io.Writer
}

// Key names an entry: a hash of its kind, its inputs and the version.
type Key [sha256.Size]byte

// Cache is one build's view of the cache folder: the packs published when
// it opened, and the pack it writes. A nil *Cache is a cache that is off:
// it finds nothing and stores nothing.
type Cache struct {
	opts  Options
	dir   string // packs folder
	log   *slog.Logger
	packs []*pack
	index map[Key]loc

	mu sync.Mutex
	// reading is held by each Get while it reads a pack, and by Close
	// while it unmaps them.
	reading sync.RWMutex
	out     *os.File
	w       *bufio.Writer
	off     int64
	entries []entry
	written map[Key]bool
	werr    error
	closed  atomic.Bool
}

type pack struct {
	name string
	f    *os.File
	size int64
	// mapped is the file mapped into memory, nil when it could not be.
	mapped []byte
	used   atomic.Bool // an entry was read: the pack is recently used
	bad    atomic.Bool // an entry was damaged: the pack is dropped
}

type loc struct {
	p   *pack
	off int64
	n   uint32
	sum uint64
}

type entry struct {
	key Key
	off int64
	n   uint32
	sum uint64
}

const (
	// formatDir holds the packs of this format; an older format's folder
	// is left to the user (its packs are never read).
	formatDir  = "v2"
	packMagic  = "RBCPACK2"
	indexMagic = "RBCINDX2"
	entrySize  = sha256.Size + 8 + 4 + 8
	footerSize = 4 + 8 + 8 // entries, index offset, indexMagic
	// maxPacks is how many packs may pile up before a build merges what
	// it used into its own.
	maxPacks = 16
)

// Open reads the indexes of the published packs. A folder that cannot be
// made or read gives a cache that is off (and says why in the log), never
// an error: the build goes on without it.
func Open(opts Options) *Cache {
	if opts.Dir == "" {
		return nil
	}
	if opts.MaxBytes == 0 {
		opts.MaxBytes = DefaultMaxBytes
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	c := &Cache{opts: opts, dir: filepath.Join(opts.Dir, formatDir), log: log, index: map[Key]loc{}, written: map[Key]bool{}}
	if err := os.MkdirAll(c.dir, 0o755); err != nil {
		log.Warn("build cache off", "err", err)
		return nil
	}
	names, err := filepath.Glob(filepath.Join(c.dir, "*.pack"))
	if err != nil {
		log.Warn("build cache off", "err", err)
		return nil
	}
	// Names start with the time they were published: later packs win.
	slices.Sort(names)
	for _, name := range names {
		p, err := c.readPack(name)
		if err != nil {
			log.Warn("build cache: ignoring a damaged pack", "pack", name, "err", err)
			continue
		}
		c.packs = append(c.packs, p)
	}
	return c
}

func (c *Cache) readPack(name string) (*pack, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	p, err := c.readIndex(f)
	if err != nil {
		f.Close()
		return nil, err
	}
	p.name = name
	return p, nil
}

func (c *Cache) readIndex(f *os.File) (*pack, error) {
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	size := st.Size()
	if size < int64(len(packMagic)+footerSize) {
		return nil, errors.New("too short")
	}
	var foot [footerSize]byte
	if _, err := f.ReadAt(foot[:], size-footerSize); err != nil {
		return nil, err
	}
	if string(foot[12:]) != indexMagic {
		return nil, errors.New("no index")
	}
	n := int64(binary.LittleEndian.Uint32(foot[0:4]))
	at := int64(binary.LittleEndian.Uint64(foot[4:12]))
	if at < int64(len(packMagic)) || at+n*entrySize != size-footerSize {
		return nil, errors.New("index out of bounds")
	}
	idx := make([]byte, n*entrySize)
	if _, err := f.ReadAt(idx, at); err != nil {
		return nil, err
	}
	p := &pack{f: f, size: size, mapped: mapPack(f, size)}
	for i := int64(0); i < n; i++ {
		e := idx[i*entrySize:]
		var k Key
		copy(k[:], e)
		l := loc{p: p, off: int64(binary.LittleEndian.Uint64(e[32:40])), n: binary.LittleEndian.Uint32(e[40:44]), sum: binary.LittleEndian.Uint64(e[44:52])}
		if l.off < int64(len(packMagic)) || l.off+int64(l.n) > at {
			return nil, errors.New("entry out of bounds")
		}
		c.index[k] = l
	}
	return p, nil
}

// Key hashes an entry's kind and inputs with the binary's version.
func (c *Cache) Key(kind string, parts ...[]byte) Key {
	h := sha256.New()
	var n [8]byte
	for _, p := range append([][]byte{[]byte(c.version()), []byte(kind)}, parts...) {
		binary.LittleEndian.PutUint64(n[:], uint64(len(p)))
		h.Write(n[:])
		h.Write(p)
	}
	var k Key
	h.Sum(k[:0])
	return k
}

func (c *Cache) version() string {
	if c == nil {
		return ""
	}
	return c.opts.Version
}

// Get returns an entry's bytes; a missing or damaged entry is a miss.
func (c *Cache) Get(k Key) ([]byte, bool) { return c.GetInto(k, nil) }

// GetInto is Get decoding into buf when it is large enough (the result
// then shares buf's memory): a caller that writes an entry out and drops
// it can use one buffer for many.
func (c *Cache) GetInto(k Key, buf []byte) ([]byte, bool) {
	if c == nil || c.closed.Load() {
		return nil, false
	}
	l, ok := c.index[k]
	if !ok || l.p.bad.Load() {
		return nil, false
	}
	c.reading.RLock()
	defer c.reading.RUnlock()
	if c.closed.Load() {
		return nil, false
	}
	out, err := l.decode(buf)
	if err != nil {
		l.p.bad.Store(true) // its entries are computed again, into this build's pack
		c.log.Warn("build cache: ignoring a damaged entry", "pack", l.p.name, "err", err)
		return nil, false
	}
	l.p.used.Store(true)
	return out, true
}

// Put stores an entry in this build's pack. A write that fails turns
// storing off for the rest of the build; the build goes on.
func (c *Cache) Put(k Key, data []byte) {
	if c == nil {
		return
	}
	// Entries are compressed (S2, a gigabyte a second): rendered pages
	// are most of the cache, and they shrink several times, which is as
	// much less for a CI job to restore and save.
	z := s2.Encode(nil, data)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.putLocked(k, z)
}

func (c *Cache) putLocked(k Key, data []byte) {
	if c.werr != nil || c.written[k] || c.closed.Load() {
		return
	}
	if c.w == nil {
		f, err := os.CreateTemp(c.dir, "tmp-*")
		if err != nil {
			c.fail(err)
			return
		}
		c.out = f
		_ = f.Chmod(0o644) // CreateTemp makes it private; a CI cache is shared
		var w io.Writer = f
		if c.opts.wrap != nil {
			w = c.opts.wrap(f)
		}
		c.w = bufio.NewWriterSize(w, 1<<16)
		if _, err := c.w.WriteString(packMagic); err != nil {
			c.fail(err)
			return
		}
		c.off = int64(len(packMagic))
	}
	if _, err := c.w.Write(data); err != nil {
		c.fail(err)
		return
	}
	c.entries = append(c.entries, entry{key: k, off: c.off, n: uint32(len(data)), sum: xxhash.Sum64(data)})
	c.written[k] = true
	c.off += int64(len(data))
}

func (c *Cache) fail(err error) {
	if c.werr == nil {
		c.werr = err
		c.log.Warn("build cache: not storing this build's results", "err", err)
	}
}

// Close publishes this build's pack, marks the packs it read as recently
// used and trims the folder to its bound. Its error says why the cache
// could not be written; it is never a reason to fail the build.
func (c *Cache) Close() error {
	if c == nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed.Load() {
		return nil
	}
	defer func() {
		// No Get is reading a mapping once closed is set under the lock.
		c.reading.Lock()
		c.closed.Store(true)
		c.reading.Unlock()
		for _, p := range c.packs {
			unmapPack(p.mapped)
			p.mapped = nil
			p.f.Close()
		}
	}()
	// Too many packs: copy what this build used into its own pack, so
	// the packs it came from can go.
	var merged []*pack
	if len(c.packs)+1 > maxPacks && c.werr == nil {
		used := map[*pack]bool{}
		for _, p := range c.packs {
			if p.used.Load() && !p.bad.Load() {
				used[p] = true
			}
		}
		for k, l := range c.index {
			if used[l.p] && !c.written[k] {
				if data, err := l.raw(); err == nil {
					c.putLocked(k, data)
				}
			}
		}
		for p := range used {
			merged = append(merged, p)
		}
	}
	published, err := c.publish()
	if err != nil {
		c.cleanup()
		c.trim("")
		return err
	}
	now := time.Now()
	for _, p := range merged {
		_ = os.Remove(p.name)
	}
	for _, p := range c.packs {
		switch {
		case p.bad.Load():
			_ = os.Remove(p.name)
		case p.used.Load() && !slices.Contains(merged, p):
			_ = os.Chtimes(p.name, now, now)
		}
	}
	c.trim(published)
	return nil
}

// publish writes the index and renames the pack into place.
func (c *Cache) publish() (string, error) {
	if c.werr != nil {
		return "", c.werr
	}
	if c.w == nil {
		return "", nil
	}
	idx := make([]byte, 0, len(c.entries)*entrySize+footerSize)
	for _, e := range c.entries {
		idx = append(idx, e.key[:]...)
		idx = binary.LittleEndian.AppendUint64(idx, uint64(e.off))
		idx = binary.LittleEndian.AppendUint32(idx, e.n)
		idx = binary.LittleEndian.AppendUint64(idx, e.sum)
	}
	idx = binary.LittleEndian.AppendUint32(idx, uint32(len(c.entries)))
	idx = binary.LittleEndian.AppendUint64(idx, uint64(c.off))
	idx = append(idx, indexMagic...)
	if _, err := c.w.Write(idx); err != nil {
		return "", err
	}
	if err := c.w.Flush(); err != nil {
		return "", err
	}
	if err := c.out.Close(); err != nil {
		return "", err
	}
	name := filepath.Join(c.dir, fmt.Sprintf("%020d-%s.pack", time.Now().UnixNano(), strings.TrimPrefix(filepath.Base(c.out.Name()), "tmp-")))
	if err := os.Rename(c.out.Name(), name); err != nil {
		return "", err
	}
	c.out = nil
	return name, nil
}

func (c *Cache) cleanup() {
	if c.out != nil {
		c.out.Close()
		_ = os.Remove(c.out.Name())
		c.out = nil
	}
}

// trim removes the least recently used packs (by modification time)
// until the folder is within its bound, keeping the pack just published,
// and temporary files a crashed build left behind a day ago.
func (c *Cache) trim(keep string) {
	ents, err := os.ReadDir(c.dir)
	if err != nil {
		return
	}
	type file struct {
		name string
		size int64
		mod  time.Time
	}
	var packs []file
	var total int64
	for _, e := range ents {
		info, err := e.Info()
		if err != nil {
			continue
		}
		name := filepath.Join(c.dir, e.Name())
		if strings.HasPrefix(e.Name(), "tmp-") {
			if time.Since(info.ModTime()) > 24*time.Hour {
				_ = os.Remove(name)
			}
			continue
		}
		if strings.HasSuffix(e.Name(), ".pack") {
			packs = append(packs, file{name, info.Size(), info.ModTime()})
			total += info.Size()
		}
	}
	if total <= c.opts.MaxBytes {
		return
	}
	slices.SortFunc(packs, func(a, b file) int { return a.mod.Compare(b.mod) })
	for _, p := range packs {
		if total <= c.opts.MaxBytes {
			break
		}
		if p.name == keep {
			continue
		}
		if os.Remove(p.name) == nil {
			total -= p.size
			c.log.Debug("build cache: trimmed", "pack", filepath.Base(p.name), "bytes", p.size)
		}
	}
}

// Stats reports what the cache holds, for logs and tests.
func (c *Cache) Stats() (packs, entries int) {
	if c == nil {
		return 0, 0
	}
	return len(c.packs), len(c.index)
}

// An Encoder and a Decoder turn cached values into bytes and back: a
// length-prefixed string or integer at a time, so a damaged entry that
// passed the checksum still cannot be read past its end.
type Encoder struct{ buf bytes.Buffer }

// String appends a string.
func (e *Encoder) String(s string) {
	e.Int(len(s))
	e.buf.WriteString(s)
}

// Int appends an integer.
func (e *Encoder) Int(n int) {
	var b [binary.MaxVarintLen64]byte
	e.buf.Write(b[:binary.PutVarint(b[:], int64(n))])
}

// Bytes returns what was appended.
func (e *Encoder) Bytes() []byte { return e.buf.Bytes() }

// Decoder reads what an Encoder wrote; after the first error every read
// gives zero values and Err reports it.
type Decoder struct {
	data []byte
	err  error
}

// NewDecoder reads data, which the strings it reads share instead of
// copying it: data must be the caller's to give away, as what Get
// returns is, and must not change afterwards (a rendered body is most of
// its entry, and copying it out doubled what a cached build allocates).
func NewDecoder(data []byte) *Decoder { return &Decoder{data: data} }

// Int reads an integer.
func (d *Decoder) Int() int {
	if d.err != nil {
		return 0
	}
	n, k := binary.Varint(d.data)
	if k <= 0 {
		d.err = errors.New("buildcache: truncated integer")
		return 0
	}
	d.data = d.data[k:]
	return int(n)
}

// String reads a string.
func (d *Decoder) String() string {
	n := d.Int()
	if d.err != nil {
		return ""
	}
	if n < 0 || n > len(d.data) {
		d.err = errors.New("buildcache: truncated string of " + strconv.Itoa(n) + " bytes")
		return ""
	}
	s := unsafe.String(unsafe.SliceData(d.data), n)
	d.data = d.data[n:]
	return s
}

// Err reports the first read past the end; a value read whole has none
// and no bytes left over.
func (d *Decoder) Err() error {
	if d.err == nil && len(d.data) > 0 {
		return errors.New("buildcache: bytes left over")
	}
	return d.err
}

// errDamaged is an entry whose bytes are not what was stored.
var errDamaged = errors.New("damaged entry")

// raw returns an entry's stored (compressed) bytes, checked against
// their sum: a copy when the pack is read with ReadAt, the mapping's own
// bytes when it is mapped (valid until Close).
func (l loc) raw() (data []byte, err error) {
	if m := l.p.mapped; m != nil {
		if l.off < 0 || l.off+int64(l.n) > int64(len(m)) {
			return nil, errDamaged
		}
		defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
		defer faultIsDamage(&err)
		data = m[l.off : l.off+int64(l.n)]
		if xxhash.Sum64(data) != l.sum {
			return nil, errDamaged
		}
		return data, nil
	}
	data = make([]byte, l.n)
	if _, err := l.p.f.ReadAt(data, l.off); err != nil || xxhash.Sum64(data) != l.sum {
		return nil, errDamaged
	}
	return data, nil
}

// decode returns an entry's bytes, decompressed into buf when it is
// large enough, else into a new slice.
func (l loc) decode(buf []byte) (out []byte, err error) {
	data, err := l.raw()
	if err != nil {
		return nil, err
	}
	if l.p.mapped != nil {
		defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
		defer faultIsDamage(&err)
	}
	return s2.Decode(buf[:cap(buf)], data)
}

// faultIsDamage, deferred where a mapping is read with faults turned into
// panics, makes a fault (a file cut short under the mapping) the error
// errDamaged: a damaged entry, not a crash. The caller drops what it read.
func faultIsDamage(err *error) {
	if recover() != nil {
		*err = errDamaged
	}
}
