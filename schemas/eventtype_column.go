package schemas

import (
	"slices"
	"time"
)

// anyCol is one Block column of an EventType's batch, of any store kind; only
// the field of its kind is used. Values are appended with the method of the
// property's kind (str, int, float) and handed out by value.
type anyCol struct {
	store storeKind
	scale int // sDecimal

	str    StringColumn
	dict   DictColumn
	i8     []int8
	i16    []int16
	i32    []int32
	i64    []int64 // sInt64, sMillis, sDecimal
	u8     []uint8
	u16    []uint16
	u32    []uint32
	u64    []uint64
	f32    []float32
	f64    []float64
	b      []bool
	m      MapColumn
	elems  *anyCol // sArray: the elements
	ends   []uint32
	strs   []string // a rollup's string dimension
	plainS bool     // strings go to strs
	n      int      // values appended by appendStr, appendInt and appendFloat
}

func newAnyCol(p *prop) anyCol {
	c := anyCol{store: p.store, scale: p.scale}
	if p.store == sArray {
		e := newAnyCol(p.item)
		c.elems = &e
	}
	return c
}

// width is the bytes one value takes, for Batch.Bytes (String and Map add their
// contents).
func (c *anyCol) width() int {
	switch c.store {
	case sInt8, sUInt8, sBool:
		return 1
	case sInt16, sUInt16:
		return 2
	case sInt32, sUInt32, sFloat32, sString, sDict, sMap, sArray:
		return 4
	}
	return 8
}

// appendStr appends a string value; it returns the bytes it keeps.
func (c *anyCol) appendStr(s string) int {
	c.n++
	switch {
	case c.plainS:
		c.strs = append(c.strs, s)
	case c.store == sDict:
		c.dict.Append(s)
	default:
		c.str.Append(s)
		return 4 + len(s)
	}
	return 4
}

// appendInt appends an integer, a boolean (0/1), a decimal (scaled) or a time
// (milliseconds).
func (c *anyCol) appendInt(v int64) {
	c.n++
	switch c.store {
	case sInt8:
		c.i8 = append(c.i8, int8(v))
	case sInt16:
		c.i16 = append(c.i16, int16(v))
	case sInt32:
		c.i32 = append(c.i32, int32(v))
	case sUInt8:
		c.u8 = append(c.u8, uint8(v))
	case sUInt16:
		c.u16 = append(c.u16, uint16(v))
	case sUInt32:
		c.u32 = append(c.u32, uint32(v))
	case sUInt64:
		c.u64 = append(c.u64, uint64(v))
	case sBool:
		c.b = append(c.b, v != 0)
	default: // sInt64, sMillis, sDecimal
		c.i64 = append(c.i64, v)
	}
}

func (c *anyCol) appendFloat(f float64) {
	c.n++
	if c.store == sFloat32 {
		c.f32 = append(c.f32, float32(f))
		return
	}
	c.f64 = append(c.f64, f)
}

// value is the column as a Block holds it.
func (c *anyCol) value() any {
	if c.plainS {
		return c.strs
	}
	switch c.store {
	case sString:
		return c.str
	case sDict:
		return c.dict
	case sInt8:
		return c.i8
	case sInt16:
		return c.i16
	case sInt32:
		return c.i32
	case sInt64:
		return c.i64
	case sUInt8:
		return c.u8
	case sUInt16:
		return c.u16
	case sUInt32:
		return c.u32
	case sUInt64:
		return c.u64
	case sFloat32:
		return c.f32
	case sFloat64:
		return c.f64
	case sBool:
		return c.b
	case sMillis:
		return MillisColumn(c.i64)
	case sDecimal:
		return DecimalColumn{Scale: c.scale, Values: c.i64}
	case sMap:
		return c.m
	case sArray:
		return ArrayColumn{Values: c.elems.value(), Ends: c.ends}
	}
	return nil
}

// reserve makes room for n more values in the column of a rollup Block (its
// string, 64-bit and float kinds; others grow as they are appended to).
func (c *anyCol) reserve(n int) {
	switch {
	case c.plainS:
		c.strs = slices.Grow(c.strs, n)
	case c.store == sUInt64:
		c.u64 = slices.Grow(c.u64, n)
	case c.store == sFloat64:
		c.f64 = slices.Grow(c.f64, n)
	case c.store == sInt64 || c.store == sMillis || c.store == sDecimal:
		c.i64 = slices.Grow(c.i64, n)
	}
}

// reset empties the column, keeping its memory (drop: giving it back).
func (c *anyCol) reset(drop bool) {
	if drop {
		e := c.elems
		*c = anyCol{store: c.store, scale: c.scale, plainS: c.plainS, elems: e}
		if e != nil {
			e.reset(true)
		}
		return
	}
	c.n = 0
	c.str.Reset()
	c.dict.Reset()
	c.m.Reset()
	c.i8, c.i16, c.i32, c.i64 = c.i8[:0], c.i16[:0], c.i32[:0], c.i64[:0]
	c.u8, c.u16, c.u32, c.u64 = c.u8[:0], c.u16[:0], c.u32[:0], c.u64[:0]
	c.f32, c.f64, c.b, c.ends, c.strs = c.f32[:0], c.f64[:0], c.b[:0], c.ends[:0], c.strs[:0]
	if c.elems != nil {
		c.elems.reset(false)
	}
}

// appendSlot appends p's value from s (nil: absent, the column's zero value) and
// returns the bytes it keeps.
func (c *anyCol) appendSlot(p *prop, s *slot) int {
	n := c.width()
	switch p.kind {
	case pStr:
		v := ""
		if s != nil {
			v = s.s
		}
		return c.appendStr(v)
	case pFloat:
		f := 0.0
		if s != nil {
			f = s.f
		}
		c.appendFloat(f)
	case pMap:
		var k, v []string
		if s != nil {
			k, v = s.list.keys, s.list.vals
		}
		n += c.m.appendRow(k, v)
	case pArr:
		if s != nil {
			e := c.elems
			switch p.item.kind {
			case pStr:
				for _, v := range s.list.keys {
					n += e.appendStr(v)
				}
			case pFloat:
				for _, f := range s.list.floats {
					e.appendFloat(f)
				}
				n += len(s.list.floats) * e.width()
			default:
				for _, v := range s.list.ints {
					e.appendInt(scalarInt(p.item, v))
				}
				n += len(s.list.ints) * e.width()
			}
		}
		c.ends = append(c.ends, uint32(c.elems.len()))
	default:
		var v int64
		if s != nil {
			v = scalarInt(p, s.i)
		}
		c.appendInt(v)
	}
	return n
}

// scalarInt converts a slot's integer to its column's: times are kept as
// nanoseconds and stored as milliseconds.
func scalarInt(p *prop, v int64) int64 {
	if p.kind == pTime {
		return v / int64(time.Millisecond)
	}
	return v
}

// len is the number of values appended since the last reset.
func (c *anyCol) len() int { return c.n }
