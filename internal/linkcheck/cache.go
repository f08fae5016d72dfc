package linkcheck

import (
	"time"

	"github.com/rollbook/rollbook/internal/buildcache"
)

// CacheVersion is the build cache version link results are stored under:
// they depend on the network, not on the binary, so a new rollbook keeps
// them (buildcache keys of other entries carry the binary's version).
const CacheVersion = "linkcheck/1"

// BuildCache keeps results in the build cache (internal/buildcache),
// each with the time it was checked. Open the cache with CacheVersion.
type BuildCache struct{ C *buildcache.Cache }

func (b BuildCache) key(u string) buildcache.Key { return b.C.Key("linkcheck", []byte(u)) }

// Get returns the result last stored for u.
func (b BuildCache) Get(u string) (Result, bool) {
	data, ok := b.C.Get(b.key(u))
	if !ok {
		return Result{}, false
	}
	d := buildcache.NewDecoder(data)
	r := Result{URL: u}
	r.Checked = time.Unix(0, int64(d.Int())).UTC()
	r.State = State(d.Int())
	r.Code = d.Int()
	r.Final = d.String()
	r.Problem = d.String()
	if d.Err() != nil || r.State != OK && r.State != Dead {
		return Result{}, false
	}
	return r, true
}

// Put stores r.
func (b BuildCache) Put(r Result) {
	var e buildcache.Encoder
	e.Int(int(r.Checked.UnixNano()))
	e.Int(int(r.State))
	e.Int(r.Code)
	e.String(r.Final)
	e.String(r.Problem)
	b.C.Put(b.key(r.URL), e.Bytes())
}
