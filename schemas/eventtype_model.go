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

// prop is one compiled property. The fields the decoder reads for every value
// come first, in one cache line.
type prop struct {
	kind  pkind
	store storeKind
	// required: in its object's required list; checked only when the object is there.
	required     bool
	presenceOnly bool  // a required string with no other rule (present means non-empty)
	rfc3339      bool  // a time: RFC 3339 strings are accepted
	isEventID    bool  // x-sluice.event_id: its maxLength alone bounds it
	index        int   // slot index in a recordDecoder
	maxLen       int   // strings: limit in UTF-8 bytes; 0 is Limits.MaxStringBytes
	parent       *prop // enclosing object property, nil at the top level
	// Integers, after the column type's own range is applied.
	imin, imax int64
	// Times: epoch is nanoseconds per unit of an epoch integer (0: none).
	epoch int64

	name   string // member name
	path   string // dotted path from the event, for Invalid.Field
	column string // raw column name ("" for pObj)
	ptr    string // JSON pointer in the document
	chType string
	col    int // raw column index, -1 for pObj

	// Strings (and map values, array elements).
	minLen  int
	enum    []string
	pattern *regexp.Regexp
	match   func(string) bool // pattern's fast matcher when it has one
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
// confirmed by comparing the first sixteen bytes as two words, the length and any
// rest.
type fieldTable struct {
	seed    uint64
	shift   uint8
	mask    uint32
	entries []fieldEntry
}

type fieldEntry struct {
	head, tail uint64 // bytes 0-7 and 8-15 of the name, zero-padded
	n          int    // name length; -1 for an empty slot
	name       string
	p          *prop
	// verbatim: the name needs no escape in JSON (no '"', '\\' or control
	// character), so a member name whose bytes are the name's is the name
	// (decoder.quickKey).
	verbatim bool
	// compact is the member as a record without whitespace writes it (a
	// verbatim name in quotes and a colon), in words of 8 bytes masked by
	// compactMask, when those compactN bytes are at most 24 (0 otherwise).
	compact, compactMask [3]uint64
	compactN             int
}

// setCompact fills e's compact form of its name.
func (e *fieldEntry) setCompact() {
	m := `"` + e.name + `":`
	if !e.verbatim || len(m) > 8*len(e.compact) {
		return
	}
	e.compactN = len(m)
	for i := range len(m) {
		e.compact[i/8] |= uint64(m[i]) << (8 * (i % 8))
		e.compactMask[i/8] |= 0xff << (8 * (i % 8))
	}
}

// byteMask[n] keeps the low n bytes of a word.
var byteMask = [...]uint64{0, 0xff, 0xffff, 0xffffff, 0xffffffff, 0xffffffffff, 0xffffffffffff, 0xffffffffffffff, ^uint64(0)}

// words returns bytes 0-7 and 8-15 of b, zero-padded, as two words.
func words(b []byte) (head, tail uint64) {
	n := len(b)
	if cap(b) >= 16 { // the usual case: the key inside its record
		w := b[:16]
		head, tail = binary.LittleEndian.Uint64(w), binary.LittleEndian.Uint64(w[8:])
		switch {
		case n <= 8:
			return head & byteMask[n], 0
		case n < 16:
			return head, tail & byteMask[n-8]
		}
		return head, tail
	}
	for i := 0; i < n && i < 16; i++ {
		if i < 8 {
			head |= uint64(b[i]) << (8 * i)
		} else {
			tail |= uint64(b[i]) << (8 * (i - 8))
		}
	}
	return head, tail
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
				head, tail := words([]byte(p.name)[:len(p.name):len(p.name)])
				h := t.slot(len(p.name), head)
				for t.entries[h].n >= 0 {
					collisions++
					h = (h + 1) & t.mask
				}
				t.entries[h] = fieldEntry{head: head, tail: tail, n: len(p.name), name: p.name, p: p, verbatim: verbatim(p.name)}
				t.entries[h].setCompact()
			}
			if bestCollisions < 0 || collisions < bestCollisions {
				best, bestCollisions = t, collisions
			}
			if collisions == 0 {
				return t
			}
		}
		if 1<<bits >= 16*len(props) {
			break
		}
	}
	return best
}

// verbatim reports whether name is written in JSON as it is, between quotes.
func verbatim(name string) bool {
	for i := range len(name) {
		if c := name[i]; c < 0x20 || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

// find returns the property named key, or nil, and the index of its entry (-1
// for none). hint is the entry the caller expects (-1: none), checked first:
// records tend to list their fields in the same order, so a decoder that
// remembers which entry followed which skips the hashing.
func (t *fieldTable) find(key []byte, hint int32) (*prop, int32) {
	n := len(key)
	var head, tail uint64
	if cap(key) >= 16 && n <= 16 { // words' usual case, inline
		w := key[:16]
		head, tail = binary.LittleEndian.Uint64(w), binary.LittleEndian.Uint64(w[8:])
		if n <= 8 {
			head, tail = head&byteMask[n], 0
		} else {
			tail &= byteMask[n-8]
		}
	} else {
		head, tail = words(key)
	}
	if uint32(hint) < uint32(len(t.entries)) {
		if e := &t.entries[hint]; e.head == head && e.tail == tail && e.n == n && (n <= 16 || e.name[16:] == string(key[16:])) {
			return e.p, hint
		}
	}
	for h := t.slot(n, head); ; h = (h + 1) & t.mask {
		e := &t.entries[h]
		if e.head == head && e.tail == tail && e.n == n && (n <= 16 || e.name[16:] == string(key[16:])) {
			return e.p, int32(h)
		}
		if e.n < 0 {
			return nil, -1
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
