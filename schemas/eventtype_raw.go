package schemas

// rawColumns are a typeBatch's raw columns, kept by Go type in compact slices (the
// common kinds have their own, so appending a row touches little memory) and
// written by one op per leaf property: in column order by values, kind by kind
// by appendRow (a loop per kind, so that a row costs no switch per value).
type rawColumns struct {
	ops   []rawOp
	fixed int // bytes every row takes besides strings and map entries

	str   []StringColumn
	dict  []DictColumn
	i64   [][]int64 // Int64, DateTime64(3) (milliseconds), Decimal (scaled)
	f64   [][]float64
	maps  []MapColumn
	other []anyCol // every other kind

	// The slots whose values go to str[j], dict[j], i64[j] (millis[j]: as
	// milliseconds), f64[j] and maps[j], and the ops of the other kinds.
	strSlots, dictSlots, i64Slots, f64Slots, mapSlots []int32
	millis                                            []bool
	otherOps                                          []rawOp
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
			c.strSlots = append(c.strSlots, op.slot)
		case sDict:
			op.col = int32(len(c.dict))
			c.dict = append(c.dict, DictColumn{})
			c.dictSlots = append(c.dictSlots, op.slot)
		case sInt64, sMillis, sDecimal:
			op.col = int32(len(c.i64))
			c.i64 = append(c.i64, nil)
			c.i64Slots = append(c.i64Slots, op.slot)
			c.millis = append(c.millis, p.store == sMillis)
		case sFloat64:
			op.col = int32(len(c.f64))
			c.f64 = append(c.f64, nil)
			c.f64Slots = append(c.f64Slots, op.slot)
		case sMap:
			op.col = int32(len(c.maps))
			c.maps = append(c.maps, MapColumn{})
			c.mapSlots = append(c.mapSlots, op.slot)
		default:
			op.kind = sNone
			op.col = int32(len(c.other))
			c.other = append(c.other, newAnyCol(p))
			c.otherOps = append(c.otherOps, op)
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
	for j, k := range c.strSlots {
		v := r.str(k)
		c.str[j].Append(v)
		n += len(v)
	}
	for j, k := range c.dictSlots {
		c.dict[j].Append(r.str(k))
	}
	for j, k := range c.i64Slots {
		var v int64
		if s := r.present(k); s != nil {
			if v = s.i; c.millis[j] {
				v /= 1e6
			}
		}
		push(&c.i64[j], v)
	}
	for j, k := range c.f64Slots {
		var v float64
		if s := r.present(k); s != nil {
			v = s.f
		}
		push(&c.f64[j], v)
	}
	for j, k := range c.mapSlots {
		var keys, vals []string
		if s := r.present(k); s != nil {
			keys, vals = s.list.keys, s.list.vals
		}
		n += c.maps[j].appendRow(keys, vals)
	}
	for k := range c.otherOps {
		op := &c.otherOps[k]
		col := &c.other[op.col]
		n += col.appendSlot(op.p, r.present(op.slot)) - col.width()
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

// sizes appends what the columns hold to dst, for reserve: for each string
// column its bytes and rows, for each dictionary, integer and float column its
// rows, for each map column its keys' and values' bytes, its entries and its rows.
func (c *rawColumns) sizes(dst []int) []int {
	for i := range c.str {
		dst = append(dst, len(c.str[i].Data), len(c.str[i].Ends))
	}
	for i := range c.dict {
		dst = append(dst, len(c.dict[i].Keys))
	}
	for i := range c.i64 {
		dst = append(dst, len(c.i64[i]))
	}
	for i := range c.f64 {
		dst = append(dst, len(c.f64[i]))
	}
	for i := range c.maps {
		m := &c.maps[i]
		dst = append(dst, len(m.Keys.Data), len(m.Values.Data), len(m.Keys.Ends), len(m.Ends))
	}
	return dst
}

// nsizes is how many values sizes appends.
func (c *rawColumns) nsizes() int {
	return 2*len(c.str) + len(c.dict) + len(c.i64) + len(c.f64) + 4*len(c.maps)
}

// reserve makes room in the columns for sizes (from sizes) and returns the
// sizes after theirs.
func (c *rawColumns) reserve(sizes []int) []int {
	for i := range c.str {
		reserve(&c.str[i].Data, sizes[0])
		reserve(&c.str[i].Ends, sizes[1])
		sizes = sizes[2:]
	}
	for i := range c.dict {
		reserve(&c.dict[i].Keys, sizes[0])
		sizes = sizes[1:]
	}
	for i := range c.i64 {
		reserve(&c.i64[i], sizes[0])
		sizes = sizes[1:]
	}
	for i := range c.f64 {
		reserve(&c.f64[i], sizes[0])
		sizes = sizes[1:]
	}
	for i := range c.maps {
		m := &c.maps[i]
		reserve(&m.Keys.Data, sizes[0])
		reserve(&m.Values.Data, sizes[1])
		reserve(&m.Keys.Ends, sizes[2])
		reserve(&m.Values.Ends, sizes[2])
		reserve(&m.Ends, sizes[3])
		sizes = sizes[4:]
	}
	return sizes
}
