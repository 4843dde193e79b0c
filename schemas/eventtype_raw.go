package schemas

// rawColumns are a typeBatch's raw columns, kept by Go type in compact slices (the
// common kinds have their own, so appending a row touches little memory) and
// written by one op per leaf property, in column order.
type rawColumns struct {
	ops   []rawOp
	fixed int // bytes every row takes besides strings and map entries

	str   []StringColumn
	dict  []DictColumn
	i64   [][]int64 // Int64, DateTime64(3) (milliseconds), Decimal (scaled)
	f64   [][]float64
	maps  []MapColumn
	other []anyCol // every other kind
}

// rawOp appends one leaf's value to its column: col indexes the slice of kind.
type rawOp struct {
	kind storeKind
	slot int32
	col  int32
	p    *prop
}

func newRawColumns(leaves []*prop) rawColumns {
	var c rawColumns
	for _, p := range leaves {
		op := rawOp{kind: p.store, slot: int32(p.index), p: p}
		switch p.store {
		case sString:
			op.col = int32(len(c.str))
			c.str = append(c.str, StringColumn{})
		case sDict:
			op.col = int32(len(c.dict))
			c.dict = append(c.dict, DictColumn{})
		case sInt64, sMillis, sDecimal:
			op.col = int32(len(c.i64))
			c.i64 = append(c.i64, nil)
		case sFloat64:
			op.col = int32(len(c.f64))
			c.f64 = append(c.f64, nil)
		case sMap:
			op.col = int32(len(c.maps))
			c.maps = append(c.maps, MapColumn{})
		default:
			op.kind = sNone
			op.col = int32(len(c.other))
			c.other = append(c.other, newAnyCol(p))
		}
		w := newAnyCol(p)
		c.fixed += w.width()
		c.ops = append(c.ops, op)
	}
	return c
}

// appendRow appends the record in r and returns the bytes it keeps.
func (c *rawColumns) appendRow(r *recordDecoder) int {
	n := c.fixed
	for k := range c.ops {
		op := &c.ops[k]
		s := &r.slots[op.slot]
		here := s.gen == r.gen && s.set
		switch op.kind {
		case sString:
			v := ""
			if here {
				v = s.s
			}
			c.str[op.col].Append(v)
			n += len(v)
		case sDict:
			v := ""
			if here {
				v = s.s
			}
			c.dict[op.col].Append(v)
		case sInt64, sDecimal:
			var v int64
			if here {
				v = s.i
			}
			push(&c.i64[op.col], v)
		case sMillis:
			var v int64
			if here {
				v = s.i / 1e6
			}
			push(&c.i64[op.col], v)
		case sFloat64:
			var v float64
			if here {
				v = s.f
			}
			push(&c.f64[op.col], v)
		case sMap:
			var keys, vals []string
			if here {
				keys, vals = s.list.keys, s.list.vals
			}
			n += c.maps[op.col].appendRow(keys, vals)
		default:
			if !here {
				s = nil
			}
			col := &c.other[op.col]
			n += col.appendSlot(op.p, s) - col.width()
		}
	}
	return n
}

// values returns the columns in column order, as a Block holds them.
func (c *rawColumns) values(out []any) []any {
	for k := range c.ops {
		op := &c.ops[k]
		switch op.kind {
		case sString:
			out = append(out, c.str[op.col])
		case sDict:
			out = append(out, c.dict[op.col])
		case sInt64:
			out = append(out, c.i64[op.col])
		case sMillis:
			out = append(out, MillisColumn(c.i64[op.col]))
		case sDecimal:
			out = append(out, DecimalColumn{Scale: op.p.scale, Values: c.i64[op.col]})
		case sFloat64:
			out = append(out, c.f64[op.col])
		case sMap:
			out = append(out, c.maps[op.col])
		default:
			out = append(out, c.other[op.col].value())
		}
	}
	return out
}

// reset empties the columns, keeping their memory unless drop.
func (c *rawColumns) reset(drop bool) {
	for i := range c.str {
		if c.str[i].Reset(); drop {
			c.str[i] = StringColumn{}
		}
	}
	for i := range c.dict {
		if c.dict[i].Reset(); drop {
			c.dict[i] = DictColumn{}
		}
	}
	for i := range c.i64 {
		if c.i64[i] = c.i64[i][:0]; drop {
			c.i64[i] = nil
		}
	}
	for i := range c.f64 {
		if c.f64[i] = c.f64[i][:0]; drop {
			c.f64[i] = nil
		}
	}
	for i := range c.maps {
		if c.maps[i].Reset(); drop {
			c.maps[i] = MapColumn{}
		}
	}
	for i := range c.other {
		c.other[i].reset(drop)
	}
}
