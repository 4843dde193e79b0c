package clickhouse

import (
	"strconv"
	"strings"
	"unsafe"

	"github.com/ClickHouse/ch-go/proto"

	"github.com/sluicehq/sluice/schemas"
)

// fixedWidth are the Go number types whose little-endian bytes are the native
// encoding of the ClickHouse type of the same name.
type fixedWidth interface {
	int8 | int16 | int32 | int64 | uint8 | uint16 | uint32 | uint64 | float32 | float64
}

// newTypedNativeCol adapts the Block columns of event types beyond the built-in
// ones: the narrower integers, Float32, Bool, Decimal and Array columns. It
// returns nil, nil for any other Go type.
func newTypedNativeCol(data any) (nativeCol, error) {
	switch v := data.(type) {
	case []int8:
		return &fixedCol[int8]{v: v, want: "Int8"}, nil
	case []int16:
		return &fixedCol[int16]{v: v, want: "Int16"}, nil
	case []uint8:
		return &fixedCol[uint8]{v: v, want: "UInt8"}, nil
	case []uint16:
		return &fixedCol[uint16]{v: v, want: "UInt16"}, nil
	case []uint32:
		return &fixedCol[uint32]{v: v, want: "UInt32"}, nil
	case []float32:
		return &fixedCol[float32]{v: v, want: "Float32"}, nil
	case []bool:
		return &boolCol{v: v}, nil
	case schemas.DecimalColumn:
		return &decimalCol{c: v}, nil
	case schemas.ArrayColumn:
		elem, err := newNativeCol(v.Values)
		if err != nil {
			return nil, err
		}
		return &arrayCol{c: v, elem: elem}, nil
	}
	return nil, nil
}

// boolCol sends a []bool as Bool (one byte, 0 or 1, like UInt8).
type boolCol struct {
	rowWindow
	v   []bool
	typ proto.ColumnType
}

func (c *boolCol) Infer(t proto.ColumnType) error {
	if b := baseType(t); b != "Bool" && b != "UInt8" {
		return typeMismatch("bool", t)
	}
	c.typ = t
	return nil
}

func (c *boolCol) Type() proto.ColumnType { return c.typ }

func (c *boolCol) EncodeColumn(b *proto.Buffer) {
	v := c.v[c.lo:c.hi]
	if len(v) > 0 {
		// A Go bool is one byte holding 0 or 1.
		b.Buf = append(b.Buf, unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(v))), len(v))...)
	}
}

func (c *boolCol) WriteColumn(w *proto.Writer) { w.ChainBuffer(c.EncodeColumn) }

// decimalCol sends a schemas.DecimalColumn as Decimal(P, S) of the column's scale,
// whose wire width follows P: Int32 for P ≤ 9, Int64 for P ≤ 18, and the value
// sign-extended to 128 or 256 bits beyond (a sum of Decimal(18, S) is
// Decimal(38, S) in ClickHouse).
type decimalCol struct {
	rowWindow
	c     schemas.DecimalColumn
	typ   proto.ColumnType
	width int // bytes per value
}

func (c *decimalCol) Infer(t proto.ColumnType) error {
	p, s, ok := decimalParams(baseType(t))
	if !ok || s != c.c.Scale || p < 1 || p > 76 {
		return typeMismatch("schemas.DecimalColumn (scale "+strconv.Itoa(c.c.Scale)+")", t)
	}
	c.typ = t
	switch {
	case p <= 9:
		c.width = 4
	case p <= 18:
		c.width = 8
	case p <= 38:
		c.width = 16
	default:
		c.width = 32
	}
	return nil
}

// decimalParams reads P and S of Decimal(P, S).
func decimalParams(t string) (p, s int, ok bool) {
	args, found := strings.CutPrefix(t, "Decimal(")
	if !found || !strings.HasSuffix(args, ")") {
		return 0, 0, false
	}
	ps, ss, found := strings.Cut(args[:len(args)-1], ",")
	p, err1 := strconv.Atoi(strings.TrimSpace(ps))
	s, err2 := strconv.Atoi(strings.TrimSpace(ss))
	return p, s, found && err1 == nil && err2 == nil
}

func (c *decimalCol) Type() proto.ColumnType { return c.typ }

func (c *decimalCol) EncodeColumn(b *proto.Buffer) {
	v := c.c.Values[c.lo:c.hi]
	switch c.width {
	case 4:
		for _, x := range v {
			b.PutInt32(int32(x))
		}
	case 8:
		putFixed(b, v)
	default:
		for _, x := range v {
			b.PutInt64(x)
			for range c.width/8 - 1 {
				b.PutInt64(x >> 63) // sign extension
			}
		}
	}
}

func (c *decimalCol) WriteColumn(w *proto.Writer) { w.ChainBuffer(c.EncodeColumn) }

// arrayCol sends a schemas.ArrayColumn as Array(T): the rows' cumulative element
// counts, then the elements through the adapter of the element column.
type arrayCol struct {
	rowWindow
	c    schemas.ArrayColumn
	typ  proto.ColumnType
	elem nativeCol
}

func (c *arrayCol) Infer(t proto.ColumnType) error {
	inner, ok := strings.CutPrefix(string(t), "Array(")
	if !ok || !strings.HasSuffix(inner, ")") {
		return typeMismatch("schemas.ArrayColumn", t)
	}
	if err := c.elem.Infer(proto.ColumnType(inner[:len(inner)-1])); err != nil {
		return err
	}
	c.typ = t
	return nil
}

func (c *arrayCol) Type() proto.ColumnType { return c.typ }

// bounds returns the element range of rows [lo, hi).
func (c *arrayCol) bounds() (first, end uint32) {
	if c.lo > 0 {
		first = c.c.Ends[c.lo-1]
	}
	end = first
	if c.hi > c.lo {
		end = c.c.Ends[c.hi-1]
	}
	return first, end
}

// window selects rows [lo, hi) and their elements.
func (c *arrayCol) window(lo, hi int) {
	c.rowWindow.window(lo, hi)
	first, end := c.bounds()
	c.elem.window(int(first), int(end))
}

// Prepare prepares the element column (a LowCardinality dictionary).
func (c *arrayCol) Prepare() error {
	if p, ok := c.elem.(proto.Preparable); ok {
		return p.Prepare()
	}
	return nil
}

func (c *arrayCol) EncodeState(b *proto.Buffer) {
	if s, ok := c.elem.(proto.StateEncoder); ok {
		s.EncodeState(b)
	}
}

func (c *arrayCol) EncodeColumn(b *proto.Buffer) {
	first, _ := c.bounds()
	for _, e := range c.c.Ends[c.lo:c.hi] {
		b.PutUInt64(uint64(e - first))
	}
	c.elem.EncodeColumn(b)
}

func (c *arrayCol) WriteColumn(w *proto.Writer) { w.ChainBuffer(c.EncodeColumn) }
