package schemas

import (
	"encoding/binary"
	"regexp"
)

// pkind is what a property decodes as.
type pkind uint8

const (
	pStr   pkind = iota // a string
	pInt                // an integer
	pFloat              // a floating-point number
	pDec                // an exact decimal, from a JSON number or a decimal string
	pBool               // a boolean
	pTime               // an RFC 3339 string or Unix epoch integer
	pMap                // an object of strings
	pArr                // an array of scalars
	pObj                // an object with declared properties (flattened)
)

// storeKind is the Go column a property's values are kept in.
type storeKind uint8

const (
	sString storeKind = iota // StringColumn
	sDict                    // DictColumn
	sInt8
	sInt16
	sInt32
	sInt64
	sUInt8
	sUInt16
	sUInt32
	sUInt64
	sFloat32
	sFloat64
	sBool
	sMillis  // MillisColumn
	sDecimal // DecimalColumn
	sMap     // MapColumn
	sArray   // ArrayColumn
	sNone    // an object: its properties have the columns
)

// prop is one compiled property.
type prop struct {
	name   string // member name
	path   string // dotted path from the event, for Invalid.Field
	column string // raw column name ("" for pObj)
	ptr    string // JSON pointer in the document
	kind   pkind
	store  storeKind
	chType string
	// required: in its object's required list; checked only when the object is there.
	required bool
	parent   *prop // enclosing object property, nil at the top level
	index    int   // slot index in a recordDecoder
	col      int   // raw column index, -1 for pObj

	// Strings (and map values, array elements): limits in UTF-8 bytes; maxLen 0 is
	// Limits.MaxStringBytes.
	minLen, maxLen int
	enum           []string
	pattern        *regexp.Regexp
	match          func(string) bool // pattern's fast matcher when it has one
	// Integers, after the column type's own range is applied.
	imin, imax int64
	// Floating-point bounds.
	fmin, fmax         float64
	hasFMin, hasFMax   bool
	fminExcl, fmaxExcl bool
	// Decimals: Decimal(prec, scale); bounds scaled by 10^scale.
	prec, scale          int
	dmin, dmax           int64
	hasDMin, hasDMax     bool
	dminExcl, dmaxExcl   bool
	decNumber, decString bool // accepted JSON forms
	// Times: epoch is nanoseconds per unit of an epoch integer (0: none); rfc3339
	// accepts RFC 3339 strings.
	epoch   int64
	rfc3339 bool
	// Maps: maxEntries 0 is Limits.MaxMetadataEntries; maxKey 0 is MaxStringBytes.
	maxEntries, maxKey int
	// Arrays.
	item     *prop
	maxItems int
	// Objects.
	children []*prop
	lookup   *fieldTable

	desc Property // as declared, for Properties
}

func (p *prop) describe() Property { return p.desc }

// fieldTable finds the property of a member name without a map: an open-addressing
// table keyed on a hash of the name's length and first eight bytes, sized and
// seeded at compile time so that (almost always) every name has its own slot, and
// confirmed by comparing the length, the first eight bytes as one word and the
// rest.
type fieldTable struct {
	seed    uint64
	shift   uint8
	mask    uint32
	entries []fieldEntry
}

type fieldEntry struct {
	n    int    // name length; -1 for an empty slot
	head uint64 // the first eight bytes of the name, zero-padded
	name string
	p    *prop
}

// headWord returns the first eight bytes of b, zero-padded, as one word.
func headWord(b []byte) uint64 {
	if cap(b) >= 8 && len(b) < 8 {
		w := binary.LittleEndian.Uint64(b[:8])
		return w & (1<<(8*uint(len(b))) - 1)
	}
	if len(b) >= 8 {
		return binary.LittleEndian.Uint64(b)
	}
	var w uint64
	for i, c := range b {
		w |= uint64(c) << (8 * i)
	}
	return w
}

func (t *fieldTable) slot(n int, head uint64) uint32 {
	return uint32(((head ^ uint64(n)) * t.seed) >> t.shift)
}

func newFieldTable(props []*prop) *fieldTable {
	bits := uint8(3)
	for 1<<bits < 2*len(props) {
		bits++
	}
	var best *fieldTable
	bestCollisions := -1
	for ; bits <= 12; bits++ {
		for seed := uint64(0x9e3779b97f4a7c15); seed < 0x9e3779b97f4a7c15+64*2; seed += 2 {
			t := &fieldTable{seed: seed, shift: 64 - bits, mask: 1<<bits - 1, entries: make([]fieldEntry, 1<<bits)}
			for i := range t.entries {
				t.entries[i].n = -1
			}
			collisions := 0
			for _, p := range props {
				head := headWord([]byte(p.name))
				h := t.slot(len(p.name), head)
				for t.entries[h].n >= 0 {
					collisions++
					h = (h + 1) & t.mask
				}
				t.entries[h] = fieldEntry{n: len(p.name), head: head, name: p.name, p: p}
			}
			if bestCollisions < 0 || collisions < bestCollisions {
				best, bestCollisions = t, collisions
			}
			if collisions == 0 {
				return t
			}
		}
		if bits >= 8 && 1<<bits >= 16*len(props) {
			break
		}
	}
	return best
}

// find returns the property named key, or nil.
func (t *fieldTable) find(key []byte) *prop {
	n, head := len(key), headWord(key)
	for h := t.slot(n, head); ; h = (h + 1) & t.mask {
		e := &t.entries[h]
		if e.n < 0 {
			return nil
		}
		if e.n == n && e.head == head && (n <= 8 || e.name[8:] == string(key[8:])) {
			return e.p
		}
	}
}

// aggFn is a measure's aggregate function.
type aggFn uint8

const (
	aCount aggFn = iota
	aSum
	aMin
	aMax
)

// accKind is how a measure accumulates.
type accKind uint8

const (
	accU64 accKind = iota // uint64, wrapping
	accI64                // int64 (integers, decimals, milliseconds)
	accF64                // float64
)

// measureSpec is one compiled measure.
type measureSpec struct {
	fn    aggFn
	field *prop // nil for count
	acc   accKind
	// out is the Go column of the measure: sUInt64, sInt64, sFloat64, sDecimal or
	// sMillis.
	out storeKind
}

// rollupSpec is one compiled rollup.
type rollupSpec struct {
	dims []*prop
	meas []measureSpec
}
