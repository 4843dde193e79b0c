package schemas

import "regexp"

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

// fieldTable finds the property of a member name without allocating or hashing
// the whole name: an open-addressing table keyed on the name's length and three of
// its bytes, confirmed by one string comparison.
type fieldTable struct {
	mask  uint32
	slots []int16 // index into props, -1 empty
	props []*prop
}

func fieldHash(b string) uint32 {
	n := len(b)
	if n == 0 {
		return 0
	}
	return uint32(n)*0x9e3779b1 ^ uint32(b[0])*0x85ebca6b ^ uint32(b[n-1])*0xc2b2ae35 ^ uint32(b[n/2])*0x27d4eb2f
}

func newFieldTable(props []*prop) *fieldTable {
	size := uint32(8)
	for size < uint32(4*len(props)) {
		size *= 2
	}
	t := &fieldTable{mask: size - 1, slots: make([]int16, size), props: props}
	for i := range t.slots {
		t.slots[i] = -1
	}
	for i, p := range props {
		h := fieldHash(p.name) & t.mask
		for t.slots[h] >= 0 {
			h = (h + 1) & t.mask
		}
		t.slots[h] = int16(i)
	}
	return t
}

// find returns the property named key, or nil.
func (t *fieldTable) find(key []byte) *prop {
	n := len(key)
	var h uint32
	if n > 0 {
		h = uint32(n)*0x9e3779b1 ^ uint32(key[0])*0x85ebca6b ^ uint32(key[n-1])*0xc2b2ae35 ^ uint32(key[n/2])*0x27d4eb2f
	}
	for h &= t.mask; ; h = (h + 1) & t.mask {
		i := t.slots[h]
		if i < 0 {
			return nil
		}
		if p := t.props[i]; p.name == string(key) {
			return p
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
