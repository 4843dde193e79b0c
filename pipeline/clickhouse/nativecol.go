package clickhouse

import (
	"encoding/binary"
	"fmt"
	"maps"
	"math"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"
	"unsafe"

	"github.com/ClickHouse/ch-go/proto"

	"github.com/sluicehq/sluice/schemas"
)

// The native columns below adapt a schemas.Block's Go slices to ch-go's
// proto.ColInput without copying them into ch-go's own column types first: each
// encodes rows [lo, hi) of the slice straight into the connection's buffer. The
// ClickHouse type is not guessed from the Go type: the server sends the table's
// column types before the data and ch-go hands each to Infer, which picks the wire
// encoding (String or LowCardinality(String), DateTime64's precision, …) or refuses
// a Go type that cannot fill the column.

// nativeCol is one Block column being sent in chunks.
type nativeCol interface {
	proto.ColInput
	proto.Inferable
	// window selects the rows [lo, hi) that the next block carries.
	window(lo, hi int)
}

// newNativeCol returns the adapter for one Block column, or an error naming the Go
// type if there is none.
func newNativeCol(data any) (nativeCol, error) {
	switch v := data.(type) {
	case []string:
		return &strCol{v: v}, nil
	case []int32:
		return &fixedCol[int32]{v: v, want: "Int32"}, nil
	case []int64:
		return &fixedCol[int64]{v: v, want: "Int64"}, nil
	case []uint64:
		return &fixedCol[uint64]{v: v, want: "UInt64"}, nil
	case []float64:
		return &fixedCol[float64]{v: v, want: "Float64"}, nil
	case []time.Time:
		return &timeCol{v: v}, nil
	case schemas.StringColumn:
		return &flatStrCol{c: v}, nil
	case schemas.DictColumn:
		return &dictCol{c: v}, nil
	case schemas.MillisColumn:
		return &millisCol{v: v}, nil
	case schemas.MapColumn:
		return &mapCol{m: v}, nil
	case []map[string]string:
		return &goMapCol{v: v}, nil
	}
	if c, err := newTypedNativeCol(data); c != nil || err != nil {
		return c, err
	}
	return nil, fmt.Errorf("%w: no native encoding for a %T column", ErrInvalidBlock, data)
}

// sizer is a nativeCol that knows how many bytes its WriteColumn puts into the
// connection's encoding buffer for its window, or a bound on them; 0 when it does
// not. A column whose WriteColumn hands the writer its own memory (fixedCol, a
// DateTime64(3) millisCol) puts none there.
type sizer interface{ size() int }

// blockHeaderBytes bounds what ch-go writes before a column's data: its name and
// type, and its state prefix.
const blockHeaderBytes = 128

// blockSize is what the columns of a block write for their windows, as far as
// they know (sizer); 0 for none.
func blockSize(cols []nativeCol) int {
	n := 0
	for _, c := range cols {
		if s, ok := c.(sizer); ok {
			n += s.size() + blockHeaderBytes
		}
	}
	return n
}

// stringsSize bounds the room putStrings needs for rows [lo, hi) of c: what it
// writes and the bytes a short copy may write beyond it.
func stringsSize(c schemas.StringColumn, lo, hi int) int {
	if lo >= hi {
		return 0
	}
	start := uint32(0)
	if lo > 0 {
		start = c.Ends[lo-1]
	}
	return (hi-lo)*binary.MaxVarintLen32 + int(c.Ends[hi-1]-start) + shortCopy
}

// shortCopy is the most bytes putStrings copies as four 8-byte words, rather
// than with a call to memmove (most strings of a batch are shorter), on the
// architectures whose loads and stores need no alignment (unalignedWords).
const (
	shortCopy      = 32
	unalignedWords = runtime.GOARCH == "amd64" || runtime.GOARCH == "arm64"
)

// rowWindow is the [lo, hi) row range of the block being encoded.
type rowWindow struct{ lo, hi int }

func (w *rowWindow) window(lo, hi int) { w.lo, w.hi = lo, hi }

// Rows implements proto.ColInput.
func (w *rowWindow) Rows() int { return w.hi - w.lo }

// typeMismatch is the error of a Go column that cannot fill a ClickHouse column.
func typeMismatch(goType string, t proto.ColumnType) error {
	return &hinted{fmt.Errorf("%w: a Go %s column cannot fill a ClickHouse %s column", ErrInvalidBlock, goType, t), retypedHint}
}

// baseType strips SimpleAggregateFunction(f, T) to T: such a column is sent as T.
func baseType(t proto.ColumnType) string {
	s := string(t)
	if rest, ok := strings.CutPrefix(s, "SimpleAggregateFunction("); ok && strings.HasSuffix(rest, ")") {
		if i := strings.Index(rest, ", "); i >= 0 {
			return rest[i+2 : len(rest)-1]
		}
	}
	return s
}

// strCol sends a []string as String or as LowCardinality(String). For the latter
// it builds the chunk's dictionary itself, reusing its map and slices across chunks
// and inserts.
type strCol struct {
	rowWindow
	v     []string
	typ   proto.ColumnType
	lc    bool
	dict  map[string]uint32
	index []string
	keys  []uint32
}

func (c *strCol) Infer(t proto.ColumnType) (err error) {
	c.lc, err = inferString("string", t)
	c.typ = t
	return err
}

// inferString accepts String and LowCardinality(String) and reports the latter.
func inferString(goType string, t proto.ColumnType) (lc bool, err error) {
	switch t {
	case proto.ColumnTypeString:
		return false, nil
	case "LowCardinality(String)":
		return true, nil
	}
	return false, typeMismatch(goType, t)
}

func (c *strCol) Type() proto.ColumnType { return c.typ }

// Prepare builds the dictionary of a LowCardinality chunk; ch-go calls it before
// EncodeState and EncodeColumn.
func (c *strCol) Prepare() error {
	if !c.lc {
		return nil
	}
	if c.dict == nil {
		c.dict = make(map[string]uint32)
	}
	clear(c.dict)
	c.index, c.keys = c.index[:0], c.keys[:0]
	for _, s := range c.v[c.lo:c.hi] {
		k, ok := c.dict[s]
		if !ok {
			k = uint32(len(c.index))
			c.dict[s] = k
			c.index = append(c.index, s)
		}
		c.keys = append(c.keys, k)
	}
	return nil
}

// LowCardinality serialization, as ClickHouse's SerializationLowCardinality writes
// it: a version in the column's state prefix, then per block the flags with the key
// width, the dictionary and the keys.
const (
	lcSharedDictionariesWithAdditionalKeys = 1
	lcHasAdditionalKeys                    = 1 << 9
	lcNeedUpdateDictionary                 = 1 << 10
)

// EncodeState implements proto.StateEncoder: LowCardinality's state prefix.
func (c *strCol) EncodeState(b *proto.Buffer) {
	if c.lc {
		b.PutInt64(lcSharedDictionariesWithAdditionalKeys)
	}
}

func (c *strCol) EncodeColumn(b *proto.Buffer) {
	if !c.lc {
		for _, s := range c.v[c.lo:c.hi] {
			b.PutString(s)
		}
		return
	}
	putLowCardinality(b, c.index, c.keys)
}

// putLowCardinality writes one block of a LowCardinality(String) column: the flags
// with the key width, the dictionary (which may hold values no row uses) and the
// rows' keys into it.
func putLowCardinality(b *proto.Buffer, dict []string, keys []uint32) {
	if len(keys) == 0 {
		return
	}
	var width int64
	switch n := len(dict); {
	case n <= math.MaxUint8+1:
		width = 0
	case n <= math.MaxUint16+1:
		width = 1
	default:
		width = 2
	}
	b.PutInt64(lcHasAdditionalKeys | lcNeedUpdateDictionary | width)
	b.PutInt64(int64(len(dict)))
	for _, s := range dict {
		b.PutString(s)
	}
	b.PutInt64(int64(len(keys)))
	// The keys in place, in a buffer grown once.
	n := len(b.Buf)
	b.Buf = slices.Grow(b.Buf, len(keys)<<width)[:n+len(keys)<<width]
	out := b.Buf[n:]
	switch width {
	case 0:
		for i, k := range keys {
			out[i] = uint8(k)
		}
	case 1:
		for i, k := range keys {
			binary.LittleEndian.PutUint16(out[2*i:], uint16(k))
		}
	default:
		for i, k := range keys {
			binary.LittleEndian.PutUint32(out[4*i:], k)
		}
	}
}

func (c *strCol) WriteColumn(w *proto.Writer) { w.ChainBuffer(c.EncodeColumn) }

// fixedCol sends a slice of a fixed-width number as its little-endian bytes, which
// is ClickHouse's encoding of the matching type (want), also when that type is
// wrapped in SimpleAggregateFunction.
type fixedCol[T fixedWidth] struct {
	rowWindow
	v    []T
	want string
	typ  proto.ColumnType
}

func (c *fixedCol[T]) Infer(t proto.ColumnType) error {
	if baseType(t) != c.want {
		return typeMismatch(strings.ToLower(c.want), t)
	}
	c.typ = t
	return nil
}

func (c *fixedCol[T]) Type() proto.ColumnType { return c.typ }

func (c *fixedCol[T]) EncodeColumn(b *proto.Buffer) { putFixed(b, c.v[c.lo:c.hi]) }

// putFixed appends v's little-endian bytes: ClickHouse's encoding of a column of
// T, written in one copy.
func putFixed[T fixedWidth](b *proto.Buffer, v []T) {
	b.Buf = append(b.Buf, fixedBytes(v)...)
}

// fixedBytes is v's memory as bytes: ClickHouse's encoding of a column of T.
func fixedBytes[T fixedWidth](v []T) []byte {
	if len(v) == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(v))), len(v)*int(unsafe.Sizeof(v[0])))
}

// WriteColumn hands the rows' memory itself to the connection's writer, which
// sends it when the block is flushed, before the insert returns (the Block stays
// untouched until then): no copy into the encoding buffer, which then grows only by
// the columns that need encoding.
func (c *fixedCol[T]) WriteColumn(w *proto.Writer) { chainFixed(w, c.v[c.lo:c.hi]) }

// chainFixed adds v's bytes to w's vector of writes without copying them.
func chainFixed[T fixedWidth](w *proto.Writer, v []T) {
	if len(v) > 0 {
		w.ChainWrite(fixedBytes(v))
	}
}

// The host must be little-endian, like ClickHouse's wire format, for fixedCol.
var _ = [1]struct{}{}[1-int(*(*byte)(unsafe.Pointer(&[2]byte{1, 0})))]

// timeCol sends a []time.Time as DateTime (seconds) or DateTime64(P) (ticks of
// 10^-P seconds), with or without a time zone, which does not change the encoding.
type timeCol struct {
	rowWindow
	v     []time.Time
	typ   proto.ColumnType
	dt64  bool
	scale int64 // ticks per second
	div   int64 // nanoseconds per tick
}

func (c *timeCol) Infer(t proto.ColumnType) error {
	s := string(t)
	switch {
	case s == "DateTime" || strings.HasPrefix(s, "DateTime("):
		c.dt64 = false
	case strings.HasPrefix(s, "DateTime64("):
		p := strings.TrimPrefix(s, "DateTime64(")
		if i := strings.IndexAny(p, ",)"); i >= 0 {
			p = p[:i]
		}
		prec, err := strconv.Atoi(strings.TrimSpace(p))
		if err != nil || prec < 0 || prec > 9 {
			return typeMismatch("time.Time", t)
		}
		c.dt64, c.scale, c.div = true, 1, 1_000_000_000
		for range prec {
			c.scale *= 10
			c.div /= 10
		}
	default:
		return typeMismatch("time.Time", t)
	}
	c.typ = t
	return nil
}

func (c *timeCol) Type() proto.ColumnType { return c.typ }

func (c *timeCol) EncodeColumn(b *proto.Buffer) {
	for _, t := range c.v[c.lo:c.hi] {
		if c.dt64 {
			b.PutInt64(t.Unix()*c.scale + int64(t.Nanosecond())/c.div)
		} else {
			b.PutUInt32(uint32(t.Unix()))
		}
	}
}

func (c *timeCol) WriteColumn(w *proto.Writer) { w.ChainBuffer(c.EncodeColumn) }

// mapCol sends a schemas.MapColumn as Map(String, String): the rows' cumulative
// entry counts, then every key, then every value.
type mapCol struct {
	rowWindow
	m   schemas.MapColumn
	typ proto.ColumnType
}

func (c *mapCol) Infer(t proto.ColumnType) error {
	if t != "Map(String, String)" {
		return typeMismatch("schemas.MapColumn", t)
	}
	c.typ = t
	return nil
}

func (c *mapCol) Type() proto.ColumnType { return c.typ }

func (c *mapCol) EncodeColumn(b *proto.Buffer) {
	first := uint32(0)
	if c.lo > 0 {
		first = c.m.Ends[c.lo-1]
	}
	end := first
	for _, e := range c.m.Ends[c.lo:c.hi] {
		b.PutUInt64(uint64(e - first))
		end = e
	}
	putStrings(b, c.m.Keys, int(first), int(end))
	putStrings(b, c.m.Values, int(first), int(end))
}

func (c *mapCol) size() int {
	if c.lo >= c.hi {
		return 0
	}
	first := uint32(0)
	if c.lo > 0 {
		first = c.m.Ends[c.lo-1]
	}
	end := int(c.m.Ends[c.hi-1])
	return (c.hi-c.lo)*8 + stringsSize(c.m.Keys, int(first), end) + stringsSize(c.m.Values, int(first), end)
}

// putStrings writes rows [lo, hi) of c as String values.
// The buffer is grown once for the whole range, and a length below 128 (one
// varint byte) is appended directly. A string of at most shortCopy bytes that
// has that many bytes of c.Data from its start is copied as shortCopy bytes
// into the buffer's room, of which the bytes beyond it are written over by the
// next (stringsSize counts the room).
func putStrings(b *proto.Buffer, c schemas.StringColumn, lo, hi int) {
	if lo >= hi {
		return
	}
	start := uint32(0)
	if lo > 0 {
		start = c.Ends[lo-1]
	}
	buf, data := slices.Grow(b.Buf, stringsSize(c, lo, hi)), c.Data
	for _, end := range c.Ends[lo:hi] {
		n := end - start
		if n < 0x80 {
			buf = append(buf, byte(n))
		} else {
			buf = binary.AppendUvarint(buf, uint64(n))
		}
		if l := len(buf); unalignedWords && n <= shortCopy && int(start)+shortCopy <= len(data) {
			d, s := unsafe.Pointer(&buf[:l+shortCopy][l]), unsafe.Pointer(&data[start])
			*(*uint64)(d) = *(*uint64)(s)
			*(*uint64)(unsafe.Add(d, 8)) = *(*uint64)(unsafe.Add(s, 8))
			*(*uint64)(unsafe.Add(d, 16)) = *(*uint64)(unsafe.Add(s, 16))
			*(*uint64)(unsafe.Add(d, 24)) = *(*uint64)(unsafe.Add(s, 24))
			buf = buf[:l+int(n)]
		} else {
			buf = append(buf, data[start:end]...)
		}
		start = end
	}
	b.Buf = buf
}

func (c *mapCol) WriteColumn(w *proto.Writer) { w.ChainBuffer(c.EncodeColumn) }

// goMapCol sends a []map[string]string as Map(String, String), each row's entries
// sorted by key so that the same rows always encode the same. Batches use the flat
// schemas.MapColumn; this serves blocks built by hand (tools, tests).
type goMapCol struct {
	mapCol
	v []map[string]string
}

// window flattens rows [lo, hi) into the embedded mapCol.
func (c *goMapCol) window(lo, hi int) {
	c.m.Reset()
	for _, row := range c.v[lo:hi] {
		for _, k := range slices.Sorted(maps.Keys(row)) {
			c.m.Keys.Append(k)
			c.m.Values.Append(row[k])
		}
		c.m.Ends = append(c.m.Ends, uint32(c.m.Keys.Len()))
	}
	c.mapCol.window(0, hi-lo)
}

// flatStrCol sends a schemas.StringColumn as String, or as LowCardinality(String)
// through strCol's dictionary.
type flatStrCol struct {
	rowWindow
	c    schemas.StringColumn
	typ  proto.ColumnType
	lc   *strCol // LowCardinality only
	view []string
}

func (c *flatStrCol) Infer(t proto.ColumnType) error {
	lc, err := inferString("schemas.StringColumn", t)
	if lc {
		c.lc = &strCol{typ: t, lc: true}
	}
	c.typ = t
	return err
}

func (c *flatStrCol) Type() proto.ColumnType { return c.typ }

func (c *flatStrCol) Prepare() error {
	if c.lc == nil {
		return nil
	}
	// Views of the rows for the dictionary; they alias c.c.Data.
	c.view = c.view[:0]
	for i := c.lo; i < c.hi; i++ {
		if r := c.c.Bytes(i); len(r) > 0 {
			c.view = append(c.view, unsafe.String(&r[0], len(r)))
		} else {
			c.view = append(c.view, "")
		}
	}
	c.lc.v = c.view
	c.lc.window(0, len(c.view))
	return c.lc.Prepare()
}

func (c *flatStrCol) EncodeState(b *proto.Buffer) {
	if c.lc != nil {
		c.lc.EncodeState(b)
	}
}

func (c *flatStrCol) EncodeColumn(b *proto.Buffer) {
	if c.lc != nil {
		c.lc.EncodeColumn(b)
		return
	}
	putStrings(b, c.c, c.lo, c.hi)
}

func (c *flatStrCol) WriteColumn(w *proto.Writer) { w.ChainBuffer(c.EncodeColumn) }

func (c *flatStrCol) size() int {
	if c.lc != nil {
		return 0 // its dictionary is built in Prepare
	}
	return stringsSize(c.c, c.lo, c.hi)
}

// dictCol sends a schemas.DictColumn as LowCardinality(String) with the batch's
// dictionary as is, or as String.
type dictCol struct {
	rowWindow
	c   schemas.DictColumn
	typ proto.ColumnType
	lc  bool
}

func (c *dictCol) Infer(t proto.ColumnType) (err error) {
	c.lc, err = inferString("schemas.DictColumn", t)
	c.typ = t
	return err
}

func (c *dictCol) Type() proto.ColumnType { return c.typ }

func (c *dictCol) EncodeState(b *proto.Buffer) {
	if c.lc {
		b.PutInt64(lcSharedDictionariesWithAdditionalKeys)
	}
}

func (c *dictCol) EncodeColumn(b *proto.Buffer) {
	if c.lc {
		putLowCardinality(b, c.c.Dict, c.c.Keys[c.lo:c.hi])
		return
	}
	for _, k := range c.c.Keys[c.lo:c.hi] {
		b.PutString(c.c.Dict[k])
	}
}

func (c *dictCol) WriteColumn(w *proto.Writer) { w.ChainBuffer(c.EncodeColumn) }

func (c *dictCol) size() int {
	if !c.lc || c.lo >= c.hi {
		return 0
	}
	n := 3*8 + (c.hi-c.lo)*4 // flags, dictionary size, keys and their count
	for _, s := range c.c.Dict {
		n += binary.MaxVarintLen32 + len(s)
	}
	return n
}

// millisCol sends a schemas.MillisColumn as DateTime64(P) or DateTime.
type millisCol struct {
	rowWindow
	v   schemas.MillisColumn
	typ proto.ColumnType
	t   timeCol // the inferred encoding
}

func (c *millisCol) Infer(t proto.ColumnType) error {
	if err := c.t.Infer(proto.ColumnType(baseType(t))); err != nil {
		return typeMismatch("schemas.MillisColumn", t)
	}
	c.typ = t
	return nil
}

func (c *millisCol) Type() proto.ColumnType { return c.typ }

func (c *millisCol) EncodeColumn(b *proto.Buffer) {
	v := c.v[c.lo:c.hi]
	switch {
	case c.t.dt64 && c.t.scale == 1000:
		putFixed(b, []int64(v))
	case c.t.dt64 && c.t.scale > 1000:
		for _, ms := range v {
			b.PutInt64(ms * (c.t.scale / 1000))
		}
	case c.t.dt64:
		for _, ms := range v {
			b.PutInt64(floorDiv(ms, 1000/c.t.scale))
		}
	default:
		for _, ms := range v {
			b.PutUInt32(uint32(floorDiv(ms, 1000)))
		}
	}
}

// WriteColumn sends milliseconds to a DateTime64(3) column without a copy, as
// fixedCol does.
func (c *millisCol) WriteColumn(w *proto.Writer) {
	if c.t.dt64 && c.t.scale == 1000 {
		chainFixed(w, []int64(c.v[c.lo:c.hi]))
		return
	}
	w.ChainBuffer(c.EncodeColumn)
}

func (c *millisCol) size() int {
	if c.t.dt64 && c.t.scale == 1000 {
		return 0 // its WriteColumn chains the rows' memory
	}
	return (c.hi - c.lo) * 8
}

// floorDiv is a / b rounded towards minus infinity (b > 0).
func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b < 0 {
		q--
	}
	return q
}
