package clickhouse

import (
	"strconv"
	"strings"

	"github.com/ClickHouse/ch-go/proto"

	"github.com/sluicehq/sluice/schemas"
)

// newTypedCol returns the adapter of the column types event types add beyond the
// built-in tables' (narrow integers, Float32, Bool, Decimal, Array), or nil.
func newTypedCol(data any) nativeCol {
	switch v := data.(type) {
	case []int8:
		return &fixedCol[int8]{v: v, want: "Int8"}
	case []int16:
		return &fixedCol[int16]{v: v, want: "Int16"}
	case []uint8:
		return &fixedCol[uint8]{v: v, want: "UInt8"}
	case []uint16:
		return &fixedCol[uint16]{v: v, want: "UInt16"}
	case []uint32:
		return &fixedCol[uint32]{v: v, want: "UInt32"}
	case []float32:
		return &fixedCol[float32]{v: v, want: "Float32"}
	case []bool:
		return &fixedCol[bool]{v: v, want: "Bool"}
	case schemas.DecimalColumn:
		return &decimalCol{c: v}
	case schemas.ArrayColumn:
		return &arrayCol{c: v}
	}
	return nil
}

// decimalCol sends a schemas.DecimalColumn as Decimal(P, S), S being the column's
// scale: the scaled integers as Decimal64 (P ≥ 10) or Decimal32 (P ≤ 9).
type decimalCol struct {
	rowWindow
	c      schemas.DecimalColumn
	typ    proto.ColumnType
	narrow bool // Decimal32
}

func (c *decimalCol) Infer(t proto.ColumnType) error {
	ps, ok := strings.CutPrefix(baseType(t), "Decimal(")
	p, s, _ := strings.Cut(strings.TrimSuffix(ps, ")"), ",")
	prec, err1 := strconv.Atoi(strings.TrimSpace(p))
	scale, err2 := strconv.Atoi(strings.TrimSpace(s))
	if !ok || err1 != nil || err2 != nil || prec < 1 || prec > 18 || scale != c.c.Scale {
		return typeMismatch("schemas.DecimalColumn (scale "+strconv.Itoa(c.c.Scale)+")", t)
	}
	c.typ, c.narrow = t, prec <= 9
	return nil
}

func (c *decimalCol) Type() proto.ColumnType { return c.typ }

func (c *decimalCol) EncodeColumn(b *proto.Buffer) {
	if !c.narrow {
		putFixed(b, c.c.Values[c.lo:c.hi])
		return
	}
	for _, v := range c.c.Values[c.lo:c.hi] {
		b.PutInt32(int32(v)) // |v| < 10^9: the schema bounds the precision
	}
}

func (c *decimalCol) WriteColumn(w *proto.Writer) { w.ChainBuffer(c.EncodeColumn) }

// arrayCol sends a schemas.ArrayColumn as Array(T): the rows' cumulative element
// counts, then the elements of the rows as a column of T (its own adapter, which
// also writes T's state prefix and prepares its dictionary).
type arrayCol struct {
	rowWindow
	c     schemas.ArrayColumn
	elems nativeCol
	typ   proto.ColumnType
}

func (c *arrayCol) Infer(t proto.ColumnType) error {
	inner, ok := strings.CutPrefix(string(t), "Array(")
	if !ok || !strings.HasSuffix(inner, ")") {
		return typeMismatch("schemas.ArrayColumn", t)
	}
	elems, err := newNativeCol(c.c.Values)
	if err != nil {
		return err
	}
	if err := elems.Infer(proto.ColumnType(inner[:len(inner)-1])); err != nil {
		return err
	}
	c.elems, c.typ = elems, t
	return nil
}

func (c *arrayCol) Type() proto.ColumnType { return c.typ }

// elemRange is the elements of rows [lo, hi).
func (c *arrayCol) elemRange() (first, end uint32) {
	if c.lo > 0 {
		first = c.c.Ends[c.lo-1]
	}
	end = first
	if c.hi > c.lo {
		end = c.c.Ends[c.hi-1]
	}
	return first, end
}

// windowElems points the elements' adapter at the rows' elements.
func (c *arrayCol) windowElems() {
	first, end := c.elemRange()
	c.elems.window(int(first), int(end))
}

func (c *arrayCol) Prepare() error {
	c.windowElems()
	if p, ok := c.elems.(proto.Preparable); ok {
		return p.Prepare()
	}
	return nil
}

func (c *arrayCol) EncodeState(b *proto.Buffer) {
	c.windowElems()
	if s, ok := c.elems.(proto.StateEncoder); ok {
		s.EncodeState(b)
	}
}

func (c *arrayCol) EncodeColumn(b *proto.Buffer) {
	c.windowElems()
	first, _ := c.elemRange()
	for _, e := range c.c.Ends[c.lo:c.hi] {
		b.PutUInt64(uint64(e - first))
	}
	c.elems.EncodeColumn(b)
}

func (c *arrayCol) WriteColumn(w *proto.Writer) { w.ChainBuffer(c.EncodeColumn) }
