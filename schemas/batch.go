package schemas

import (
	"encoding/binary"
	"reflect"
	"strings"
	"time"
	"unsafe"
)

// Meta is the Kafka provenance of one record.
type Meta struct {
	Topic string
	// TopicID is the Kafka topic id of Topic's incarnation (empty when the broker
	// sends none); it fills the raw tables' _topic_id.
	TopicID   string
	Partition int32
	Offset    int64
	// IngestedAt is when Sluice read the record; it fills the raw tables' _ingested_at.
	IngestedAt time.Time
	// Timestamp is the record's Kafka timestamp (when it was published); it fills
	// the raw tables' _timestamp. The lateness and clock-skew limits are measured
	// against it, not against the wall clock, so a replay judges a record exactly as
	// the first attempt did. Zero skips both checks (and stores 1970-01-01).
	Timestamp time.Time
}

// timestampMillis is m.Timestamp as _timestamp stores it: Unix milliseconds, 0
// when unset.
func (m *Meta) timestampMillis() int64 {
	if m.Timestamp.IsZero() {
		return 0
	}
	return m.Timestamp.UnixMilli()
}

// The flat column types below hold a batch's raw rows without a Go string header
// per value: a batch appends the decoded bytes of a record to them and keeps no
// other copy, so a row costs about its encoded size. Inserts encode them directly.

// StringColumn is a String column stored flat: row i is the bytes
// Data[Ends[i-1]:Ends[i]] (from 0 for the first row). It has len(Ends) rows.
type StringColumn struct {
	Data []byte
	Ends []uint32
}

// Append adds s as the last row.
func (c *StringColumn) Append(s string) {
	appendBytes(&c.Data, s)
	push(&c.Ends, uint32(len(c.Data)))
}

// Len is the number of rows.
func (c StringColumn) Len() int { return len(c.Ends) }

// Bytes returns row i; the slice aliases c.Data.
func (c StringColumn) Bytes(i int) []byte {
	start := uint32(0)
	if i > 0 {
		start = c.Ends[i-1]
	}
	return c.Data[start:c.Ends[i]]
}

// Reset empties the column, keeping its memory.
func (c *StringColumn) Reset() { c.Data, c.Ends = c.Data[:0], c.Ends[:0] }

// DictColumn is a LowCardinality(String) column that the batch dictionary-encodes as
// it goes: row i is Dict[Keys[i]]. Dict holds each distinct value once, in order of
// first appearance. It has len(Keys) rows.
type DictColumn struct {
	Dict  []string
	Keys  []uint32
	index map[string]uint32 // Dict's keys once it holds more than smallDict values
	// recent is a hint checked before index or the scan: a set of two slots
	// per dictSet, each holding a value last found or added there, as its
	// words (dictHint), with its key. Words that match are the value itself when
	// it is at most dictExact bytes long; a longer one is verified against Dict.
	// So a colliding slot costs a lookup, never a wrong key.
	recent *[2 * dictSets]dictHint
}

// smallDict is the most values a DictColumn finds by comparing them in turn,
// which is cheaper than hashing while there are few.
const smallDict = 8

// dictSets is the number of sets of a DictColumn's recent hint.
const (
	dictSetBits = 5
	dictSets    = 1 << dictSetBits
)

// dictExact is the longest value whose words (dictHint) determine it.
const dictExact = 24

// dictHint is one slot of a DictColumn's recent hint: a value's words and its
// key. The words of a value are three of its 8-byte words, at its start, 8 bytes
// in and at its end (overlapping when it is shorter than 24 bytes; under 8
// bytes, two 4-byte words, and under 4 its first, middle and last bytes), and n,
// 1 + its length up to dictExact + 1. Up to dictExact bytes, the words cover every
// byte of the value, so two such values with equal words are equal. An empty slot
// matches no value (its n is 0).
type dictHint struct {
	a, b, c uint64
	n, key  uint32
}

// dictSet is the recent set of the value of words a, b, c and n: far cheaper
// than the map's hash, and a collision only costs a lookup.
func dictSet(a, b, c uint64, n uint32) uint32 {
	x := (a+uint64(n))*0x9E3779B97F4A7C15 ^ (b^c)*0xC2B2AE3D27D4EB4F
	return uint32(x >> (64 - dictSetBits))
}

// is reports whether the slot holds the value of words a, b, c and n.
func (h *dictHint) is(a, b, c uint64, n uint32) bool {
	return (h.a^a)|(h.b^b)|(h.c^c)|uint64(h.n^n) == 0
}

// Append adds s as the last row. Only a value new to the column is copied (s may
// be transient).
func (c *DictColumn) Append(s string) {
	if c.recent == nil {
		c.recent = new([2 * dictSets]dictHint)
	}
	// The words of s (dictHint), here rather than in a function of their own,
	// which would not be inlined.
	var a, b, w uint64
	p, le := unsafe.Slice(unsafe.StringData(s), len(s)), binary.LittleEndian
	switch l := len(p); {
	case l >= 8:
		a, b, w = le.Uint64(p), le.Uint64(p[min(8, l-8):]), le.Uint64(p[l-8:])
	case l >= 4:
		a, w = uint64(le.Uint32(p)), uint64(le.Uint32(p[l-4:]))
	case l > 0:
		a = uint64(p[0]) | uint64(p[l/2])<<8 | uint64(p[l-1])<<16
	}
	n := uint32(min(len(s), dictExact+1)) + 1
	set := c.recent[2*dictSet(a, b, w, n):][:2]
	var k uint32
	switch {
	case set[0].is(a, b, w, n):
		k = set[0].key
	case set[1].is(a, b, w, n):
		k = set[1].key
	default:
		k = c.lookup(s)
		set[1], set[0] = set[0], dictHint{a: a, b: b, c: w, n: n, key: k}
		push(&c.Keys, k)
		return
	}
	if n > dictExact+1 && c.Dict[k] != s {
		k = c.lookup(s) // a long value with the same words; the slot stays
	}
	push(&c.Keys, k)
}

// lookup returns the key of s, adding it (copied) when it is new.
func (c *DictColumn) lookup(s string) uint32 {
	if k, ok := c.find(s); ok {
		return k
	}
	return c.add(strings.Clone(s))
}

// add puts s, new to the dictionary, at its end and returns its key.
func (c *DictColumn) add(s string) uint32 {
	k := uint32(len(c.Dict))
	c.Dict = append(c.Dict, s)
	switch {
	case len(c.Dict) > smallDict+1:
		c.index[s] = k
	case len(c.Dict) == smallDict+1:
		if c.index == nil {
			c.index = make(map[string]uint32)
		}
		for i, d := range c.Dict {
			c.index[d] = uint32(i)
		}
	}
	return k
}

// find returns the key of s, if the dictionary holds it.
func (c *DictColumn) find(s string) (uint32, bool) {
	if len(c.Dict) > smallDict {
		k, ok := c.index[s]
		return k, ok
	}
	for i, d := range c.Dict {
		if d == s {
			return uint32(i), true
		}
	}
	return 0, false
}

// AppendN adds n rows of s.
func (c *DictColumn) AppendN(s string, n int) {
	if n <= 0 {
		return
	}
	c.Append(s)
	pushN(&c.Keys, c.Keys[len(c.Keys)-1], n-1)
}

// Len is the number of rows.
func (c DictColumn) Len() int { return len(c.Keys) }

// Reset empties the column and its dictionary, keeping its memory.
func (c *DictColumn) Reset() {
	clear(c.index)
	clear(c.Dict)
	if c.recent != nil {
		clear(c.recent[:]) // its keys are the old dictionary's
	}
	c.Dict, c.Keys = c.Dict[:0], c.Keys[:0]
}

// MapColumn is a Map(String, String) column stored flat: the entries of row i are
// rows Ends[i-1] (0 for the first row) to Ends[i] of Keys and Values. It has
// len(Ends) rows.
type MapColumn struct {
	Keys, Values StringColumn
	Ends         []uint32
}

// Len is the number of rows.
func (c MapColumn) Len() int { return len(c.Ends) }

// Row returns row i as a map (nil when empty), for tests and tools; inserts use the
// flat form.
func (c MapColumn) Row(i int) map[string]string {
	start := uint32(0)
	if i > 0 {
		start = c.Ends[i-1]
	}
	if start == c.Ends[i] {
		return nil
	}
	m := make(map[string]string, c.Ends[i]-start)
	for j := start; j < c.Ends[i]; j++ {
		m[string(c.Keys.Bytes(int(j)))] = string(c.Values.Bytes(int(j)))
	}
	return m
}

// appendRow adds a row of the entries keys[j]: vals[j] and returns the memory it
// takes.
func (c *MapColumn) appendRow(keys, vals []string) (bytes int) {
	for j, k := range keys {
		c.Keys.Append(k)
		c.Values.Append(vals[j])
		bytes += len(k) + len(vals[j]) + 2*4
	}
	// len(Keys.Ends), not Keys.Len(): the method's value receiver copies Keys, whose
	// lengths were just stored, and that wide load waits for the stores to retire.
	push(&c.Ends, uint32(len(c.Keys.Ends)))
	return bytes
}

// Reset empties the column, keeping its memory.
func (c *MapColumn) Reset() { c.Keys.Reset(); c.Values.Reset(); c.Ends = c.Ends[:0] }

// MillisColumn is a DateTime64(3) column: milliseconds since the Unix epoch.
type MillisColumn []int64

// ColumnLen is the number of values in a Block column: the rows of one of the flat
// columns above or a slice's length; -1 for anything else.
func ColumnLen(c any) int {
	switch c := c.(type) {
	case StringColumn:
		return c.Len()
	case DictColumn:
		return c.Len()
	case MapColumn:
		return c.Len()
	case DecimalColumn:
		return c.Len()
	case ArrayColumn:
		return c.Len()
	}
	if v := reflect.ValueOf(c); v.Kind() == reflect.Slice {
		return v.Len()
	}
	return -1
}

// PlainColumn copies a Block column into a plain typed slice: []string for a
// StringColumn, DictColumn or DecimalColumn, []time.Time (UTC) for a MillisColumn,
// []map[string]string for a MapColumn (nil rows when empty), []any of row slices for
// an ArrayColumn, and a copy of any other slice. It allocates; it is meant for tests and tools.
func PlainColumn(c any) any {
	n := ColumnLen(c)
	switch c.(type) {
	case StringColumn, DictColumn, DecimalColumn:
		return plainValues[string](c, n)
	case ArrayColumn:
		return plainValues[any](c, n)
	case MillisColumn:
		return plainValues[time.Time](c, n)
	case MapColumn:
		return plainValues[map[string]string](c, n)
	}
	v := reflect.ValueOf(c)
	cp := reflect.MakeSlice(v.Type(), v.Len(), v.Len())
	reflect.Copy(cp, v)
	return cp.Interface()
}

func plainValues[T any](c any, n int) []T {
	out := make([]T, n)
	for i := range out {
		out[i], _ = ColumnValue(c, i).(T)
	}
	return out
}

// ColumnValue returns row i of a Block column as a plain Go value: a string, a
// time.Time (UTC) for a MillisColumn, a map[string]string for a MapColumn (nil when
// empty), a decimal string for a DecimalColumn, a slice for an ArrayColumn, or the
// slice's element. It allocates; it is meant for tests and tools.
func ColumnValue(c any, i int) any {
	switch c := c.(type) {
	case StringColumn:
		return string(c.Bytes(i))
	case DictColumn:
		return c.Dict[c.Keys[i]]
	case MapColumn:
		return c.Row(i)
	case MillisColumn:
		return time.UnixMilli(c[i]).UTC()
	case DecimalColumn:
		return c.String(i)
	case ArrayColumn:
		return c.Row(i)
	}
	return reflect.ValueOf(c).Index(i).Interface()
}

// Block is the data for one INSERT into one table, column by column. Columns[i] holds
// the values of column Names[i] as a typed slice (e.g. []string, []uint64, []time.Time,
// []map[string]string) or as one of the flat columns above (StringColumn,
// DictColumn, MapColumn, MillisColumn, DecimalColumn, ArrayColumn). Every column has the same length, Rows.
type Block struct {
	Table   string
	Names   []string
	Columns []any
	Rows    int
}

// Batch accumulates the valid events of one topic partition between two flushes: raw
// rows (when enabled) and per-window rollup partials. It is a pure function of the
// records added to it, in order: the same records give the same Blocks, which is what
// lets a replayed batch be deduplicated by ClickHouse. A Batch is not safe for
// concurrent use.
type Batch interface {
	// Add decodes and validates one record value. A valid event is appended and nil is
	// returned; otherwise the error is an *Invalid and the batch is unchanged. m is
	// read during the call only: a caller may keep one Meta and change it between
	// calls (by pointer, the call copies none of it).
	Add(value []byte, m *Meta) error
	// Events is the number of valid events added since the last Reset.
	Events() int
	// Bytes is the approximate memory held by the batch.
	Bytes() int
	// Blocks returns the inserts that store the batch. The slices stay valid until the
	// next Add or Reset. Blocks with zero rows are omitted.
	Blocks() []Block
	// Reset empties the batch, keeping its memory for reuse.
	Reset()
}

// DecimalColumn is a Decimal(P, S) column with P ≤ 18: row i is Values[i] / 10^Scale,
// exactly (decimals are parsed from their digits, never through float64).
type DecimalColumn struct {
	Scale  int
	Values []int64
}

// Len is the number of rows.
func (c DecimalColumn) Len() int { return len(c.Values) }

// String formats row i as a decimal with Scale fraction digits ("-12.30").
func (c DecimalColumn) String(i int) string { return formatDecimal(c.Values[i], c.Scale) }

// ArrayColumn is an Array(T) column stored flat: the elements of row i are
// elements Ends[i-1] (0 for the first row) to Ends[i] of Values, which is one of
// the flat columns above or a typed slice (StringColumn, DictColumn, MillisColumn,
// DecimalColumn, []int64, []float64, []bool, …). It has len(Ends) rows.
type ArrayColumn struct {
	Values any
	Ends   []uint32
}

// Len is the number of rows.
func (c ArrayColumn) Len() int { return len(c.Ends) }

// Row returns the elements of row i as a plain slice ([]string, []time.Time,
// []int64, …; a decimal as its string), for tests and tools.
func (c ArrayColumn) Row(i int) any {
	start := uint32(0)
	if i > 0 {
		start = c.Ends[i-1]
	}
	n := int(c.Ends[i] - start)
	out := reflect.MakeSlice(reflect.SliceOf(elemType(c.Values)), n, n)
	for j := range n {
		out.Index(j).Set(reflect.ValueOf(ColumnValue(c.Values, int(start)+j)))
	}
	return out.Interface()
}

// elemType is the type of ColumnValue's values for column c.
func elemType(c any) reflect.Type {
	switch c.(type) {
	case StringColumn, DictColumn, DecimalColumn:
		return reflect.TypeFor[string]()
	case MillisColumn:
		return reflect.TypeFor[time.Time]()
	case MapColumn:
		return reflect.TypeFor[map[string]string]()
	}
	return reflect.TypeOf(c).Elem()
}
