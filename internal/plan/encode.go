package plan

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"reflect"
	"sync"
	"time"
	"unsafe"

	"github.com/rollbook/rollbook/internal/diag"
)

// The persistent build cache keeps parsed plans so that a CI build with
// the cache restored decodes no YAML for files whose bytes did not change.
// A decoded plan must be the plan Parse gives (reflect.DeepEqual), down to
// nil against empty lists and the unexported pos and quoted maps, so the
// encoding walks the types by reflection: a field added to Plan is kept
// without touching this file, and a value it cannot rebuild exactly is an
// error (the caller parses that file again next time) instead of a plan
// that differs. encoding/gob would lose nil against empty, and sends its
// type descriptions with every entry, which costs about as much as parsing.

// cacheMagic starts an encoded plan; the cache key already names the
// binary, so this only guards against reading another kind of entry.
const cacheMagic = 0xB1

var (
	timeType = reflect.TypeFor[time.Time]()
	cronType = reflect.TypeFor[Cron]()
	planType = reflect.TypeFor[Plan]()
)

// Types a front-matter value of a key rollbook does not know (Params) can
// have, as goccy/go-yaml decodes it into any; by their tag in the encoding.
var dynamicTypes = []reflect.Type{
	nil, // the nil value
	reflect.TypeFor[string](),
	reflect.TypeFor[bool](),
	reflect.TypeFor[int](),
	reflect.TypeFor[int64](),
	reflect.TypeFor[uint64](),
	reflect.TypeFor[float64](),
	reflect.TypeFor[[]any](),
	reflect.TypeFor[map[string]any](),
	timeType,
	reflect.TypeFor[[]byte](),
}

var dynamicTags = func() map[reflect.Type]uint64 {
	m := map[reflect.Type]uint64{}
	for i, t := range dynamicTypes[1:] {
		m[t] = uint64(i + 1)
	}
	return m
}()

// MarshalCache encodes a plan and the findings Parse gave with it (p may
// be nil, as Parse returns for a file that is not text). An error means
// the plan holds a value that would not decode to an equal one: do not
// cache it.
func MarshalCache(p *Plan, ds diag.List) ([]byte, error) {
	e := cacheEncoder{b: make([]byte, 0, 1024)}
	e.b = append(e.b, cacheMagic)
	if p == nil {
		e.uint(0)
	} else {
		e.uint(1)
		e.value(reflect.ValueOf(p).Elem())
		e.value(reflect.ValueOf(p.pos))
		e.value(reflect.ValueOf(p.quoted))
	}
	e.value(reflect.ValueOf(ds))
	if e.err != nil {
		return nil, fmt.Errorf("encoding plan %s: %w", planPath(p), e.err)
	}
	return e.b, nil
}

// UnmarshalCache decodes what MarshalCache encoded. Damaged bytes give an
// error, never a panic or a partly filled plan. data becomes the plan's:
// its strings and body share it (a build decodes ten thousand plans, and
// copying each out again doubled what that allocates), so it must not
// change afterwards.
func UnmarshalCache(data []byte) (p *Plan, ds diag.List, err error) {
	defer func() {
		// The walk checks every length and tag it reads; this is only
		// so that a case it missed costs a parse, not the build.
		if r := recover(); r != nil {
			p, ds, err = nil, nil, fmt.Errorf("decoding a cached plan: %v", r)
		}
	}()
	if len(data) == 0 || data[0] != cacheMagic {
		return nil, nil, errors.New("decoding a cached plan: not a plan entry")
	}
	d := cacheDecoder{b: data[1:]}
	switch d.uint() {
	case 0:
	case 1:
		p = &Plan{}
		d.value(reflect.ValueOf(p).Elem())
		d.value(reflect.ValueOf(&p.pos).Elem())
		d.value(reflect.ValueOf(&p.quoted).Elem())
	default:
		d.fail("bad plan flag")
	}
	d.value(reflect.ValueOf(&ds).Elem())
	if d.err == nil && len(d.b) > 0 {
		d.fail("bytes left over")
	}
	if d.err != nil {
		return nil, nil, fmt.Errorf("decoding a cached plan: %w", d.err)
	}
	return p, ds, nil
}

func planPath(p *Plan) string {
	if p == nil {
		return "(none)"
	}
	return p.Path
}

type cacheEncoder struct {
	b   []byte
	err error
}

func (e *cacheEncoder) uint(u uint64) { e.b = binary.AppendUvarint(e.b, u) }

func (e *cacheEncoder) str(s string) {
	e.uint(uint64(len(s)))
	e.b = append(e.b, s...)
}

func (e *cacheEncoder) fail(format string, args ...any) {
	if e.err == nil {
		e.err = fmt.Errorf(format, args...)
	}
}

func (e *cacheEncoder) value(v reflect.Value) {
	if e.err != nil {
		return
	}
	switch t := v.Type(); t {
	case timeType:
		e.time(v.Interface().(time.Time))
		return
	case cronType:
		// A schedule is an interface of robfig/cron's own types: it is
		// parsed again from its text, as Parse did.
		c := v.Interface().(Cron)
		if c.Schedule == nil {
			e.uint(0)
			e.str(c.Spec)
			return
		}
		if again, err := ParseCron(c.Spec); err != nil || !reflect.DeepEqual(again, c) {
			e.fail("cron schedule %q does not parse again to itself", c.Spec)
			return
		}
		e.uint(1)
		e.str(c.Spec)
		return
	}
	switch v.Kind() {
	case reflect.String:
		e.str(v.String())
	case reflect.Bool:
		if v.Bool() {
			e.uint(1)
		} else {
			e.uint(0)
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		e.b = binary.AppendVarint(e.b, v.Int())
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		e.uint(v.Uint())
	case reflect.Float32, reflect.Float64:
		f := v.Float()
		if math.IsNaN(f) {
			// It would decode to itself, but no NaN is DeepEqual to
			// another: the promise of an equal plan could not be checked.
			e.fail("NaN value")
			return
		}
		e.b = binary.LittleEndian.AppendUint64(e.b, math.Float64bits(f))
	case reflect.Slice:
		if v.IsNil() {
			e.uint(0)
			return
		}
		e.uint(uint64(v.Len()) + 1)
		if v.Type().Elem().Kind() == reflect.Uint8 {
			e.b = append(e.b, v.Bytes()...)
			return
		}
		for i := range v.Len() {
			e.value(v.Index(i))
		}
	case reflect.Map:
		if v.Type().Key().Kind() != reflect.String {
			e.fail("map with %s keys", v.Type().Key())
			return
		}
		if v.IsNil() {
			e.uint(0)
			return
		}
		e.uint(uint64(v.Len()) + 1)
		for it := v.MapRange(); it.Next(); {
			e.str(it.Key().String())
			e.value(it.Value())
		}
	case reflect.Struct:
		t := v.Type()
		for i := range t.NumField() {
			if !t.Field(i).IsExported() {
				if t == planType {
					continue // pos and quoted, which MarshalCache encodes
				}
				e.fail("unexported field %s.%s", t, t.Field(i).Name)
				return
			}
			e.value(v.Field(i))
		}
	case reflect.Interface:
		if v.IsNil() {
			e.uint(0)
			return
		}
		x := v.Elem()
		tag, ok := dynamicTags[x.Type()]
		if !ok {
			e.fail("value of type %s", x.Type())
			return
		}
		e.uint(tag)
		e.value(x)
	default:
		e.fail("value of kind %s", v.Kind())
	}
}

// time keeps an instant with its zone as Time.MarshalBinary does; an
// instant it cannot rebuild equal (a zone with a name) is an error.
func (e *cacheEncoder) time(t time.Time) {
	b, err := t.MarshalBinary()
	if err != nil {
		e.fail("time %s: %w", t, err)
		return
	}
	var again time.Time
	if err := again.UnmarshalBinary(b); err != nil || !reflect.DeepEqual(again, t) {
		e.fail("time %s does not decode to itself", t)
		return
	}
	e.uint(uint64(len(b)))
	e.b = append(e.b, b...)
}

type cacheDecoder struct {
	b   []byte
	err error
}

func (d *cacheDecoder) fail(msg string) {
	if d.err == nil {
		d.err = errors.New(msg)
	}
	d.b = nil
}

func (d *cacheDecoder) uint() uint64 {
	u, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail("bad number")
		return 0
	}
	d.b = d.b[n:]
	return u
}

// length reads a count of items that each take at least one byte, so a
// damaged count cannot make a huge allocation.
func (d *cacheDecoder) length() int {
	n := d.uint()
	if n > uint64(len(d.b)) {
		d.fail("length out of bounds")
		return 0
	}
	return int(n)
}

func (d *cacheDecoder) bytes(n int) []byte {
	if n > len(d.b) {
		d.fail("bytes out of bounds")
		return nil
	}
	b := d.b[:n:n]
	d.b = d.b[n:]
	return b
}

func (d *cacheDecoder) str() string {
	b := d.bytes(d.length())
	return unsafe.String(unsafe.SliceData(b), len(b))
}

// nilOrLen reads a nil list or map (0) or its length plus one.
func (d *cacheDecoder) nilOrLen() (int, bool) {
	n := d.uint()
	if n == 0 {
		return 0, false
	}
	if n-1 > uint64(len(d.b)) {
		d.fail("length out of bounds")
		return 0, false
	}
	return int(n - 1), true
}

// exportedFields are the indexes of t's exported fields (the unexported
// are only Plan's, which UnmarshalCache decodes itself), read once per
// type: reflect builds a whole StructField to say whether one is.
func exportedFields(t reflect.Type) []int {
	if f, ok := fieldsOf.Load(t); ok {
		return f.([]int)
	}
	var f []int
	for i := range t.NumField() {
		if t.Field(i).IsExported() {
			f = append(f, i)
		}
	}
	fieldsOf.Store(t, f)
	return f
}

var fieldsOf sync.Map // reflect.Type → []int

func (d *cacheDecoder) value(v reflect.Value) {
	if d.err != nil {
		return
	}
	switch t := v.Type(); t {
	case timeType:
		var tm time.Time
		if err := tm.UnmarshalBinary(d.bytes(d.length())); err != nil {
			d.fail("bad time")
			return
		}
		v.Set(reflect.ValueOf(tm))
		return
	case cronType:
		set, spec := d.uint(), d.str()
		switch {
		case d.err != nil:
		case set == 0:
			v.Set(reflect.ValueOf(Cron{Spec: spec}))
		case set == 1:
			c, err := ParseCron(spec)
			if err != nil {
				d.fail("bad cron schedule")
				return
			}
			v.Set(reflect.ValueOf(c))
		default:
			d.fail("bad cron flag")
		}
		return
	}
	switch v.Kind() {
	case reflect.String:
		v.SetString(d.str())
	case reflect.Bool:
		switch d.uint() {
		case 0:
			v.SetBool(false)
		case 1:
			v.SetBool(true)
		default:
			d.fail("bad bool")
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		i, n := binary.Varint(d.b)
		if n <= 0 || v.OverflowInt(i) {
			d.fail("bad integer")
			return
		}
		d.b = d.b[n:]
		v.SetInt(i)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		u := d.uint()
		if v.OverflowUint(u) {
			d.fail("bad integer")
			return
		}
		v.SetUint(u)
	case reflect.Float32, reflect.Float64:
		b := d.bytes(8)
		if d.err != nil {
			return
		}
		v.SetFloat(math.Float64frombits(binary.LittleEndian.Uint64(b)))
	case reflect.Slice:
		n, ok := d.nilOrLen()
		if !ok {
			return
		}
		if v.Type().Elem().Kind() == reflect.Uint8 {
			v.SetBytes(d.bytes(n))
			return
		}
		s := reflect.MakeSlice(v.Type(), n, n)
		for i := range n {
			d.value(s.Index(i))
		}
		v.Set(s)
	case reflect.Map:
		n, ok := d.nilOrLen()
		if !ok {
			return
		}
		t := v.Type()
		m := reflect.MakeMapWithSize(t, n)
		for range n {
			k := reflect.New(t.Key()).Elem()
			k.SetString(d.str())
			val := reflect.New(t.Elem()).Elem()
			d.value(val)
			if d.err != nil {
				return
			}
			m.SetMapIndex(k, val)
		}
		if m.Len() != n {
			d.fail("repeated map key")
			return
		}
		v.Set(m)
	case reflect.Struct:
		for _, i := range exportedFields(v.Type()) {
			d.value(v.Field(i))
		}
	case reflect.Interface:
		tag := d.uint()
		if tag == 0 || d.err != nil {
			return
		}
		if tag >= uint64(len(dynamicTypes)) {
			d.fail("bad value type")
			return
		}
		x := reflect.New(dynamicTypes[tag]).Elem()
		d.value(x)
		v.Set(x)
	default:
		d.fail("bad value kind")
	}
}
