package schemas

import (
	"math"
	"reflect"
	"time"
)

// FlushColumn is the hidden last key column of every rollup table: 0 on data rows,
// and on a flush marker the FlushID of the flush and table partition it marks. A
// rollup insert whose batch was given a token (FlushMarker) carries, for each table
// partition (RollupMonth of window_start) its rows fall in, one marker row in that
// partition: the window and dimensions of the partition's first row in the block,
// and every measure's neutral element (sum and count 0, min the type's largest
// value, max its smallest). So a marker adds no key that data does not have, and
// sums, counts of events, minima and maxima over the table, grouped by any
// dimensions, are unchanged; only count() of the table's rows sees it. A marker
// lives and dies with its partition's part, which is what lets a repair tell a
// rollup block ClickHouse dropped after keeping its deduplication token
// (docs/exactly-once.md). The *_merged views leave markers out (FlushColumn = 0).
const FlushColumn = "_sluice_flush"

// flushColumn is FlushColumn's DDL: data rows inserted without it are 0, the
// type's default (an explicit DEFAULT would keep an ALTER from adding it to the
// sorting key).
var flushColumn = column{FlushColumn, "UInt64"}

// rollupPartition is the PARTITION BY of every rollup table; RollupMonth computes it.
const rollupPartition = "toYYYYMM(window_start)"

// RollupMonth is the table partition of a rollup row whose window starts at t: its
// UTC year and month as yyyymm, the value of the tables' PARTITION BY
// toYYYYMM(window_start).
func RollupMonth(t time.Time) int32 {
	y, m, _ := t.UTC().Date()
	return int32(y*100 + int(m))
}

// FlushID is the FlushColumn value of the marker of the flush token in table
// partition month: a 64-bit FNV-1a hash of both, never 0.
func FlushID(token string, month int32) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(token); i++ {
		h = (h ^ uint64(token[i])) * 1099511628211
	}
	for i := range 4 {
		h = (h ^ uint64(byte(month>>(8*i)))) * 1099511628211
	}
	if h == 0 {
		h = 1
	}
	return h
}

// FlushMarker is a Batch whose rollup blocks can carry flush markers (FlushColumn).
// SetFlush sets the flush token the next Blocks call marks them with; "" (the
// state after Reset) leaves FlushColumn out.
type FlushMarker interface {
	SetFlush(token string)
}

// Neutral elements of the measures, as stored: a marker's min and max measures
// hold them, so no event's value loses to a marker's. Decimals (P ≤ 18) and times
// take the bounds neutralDefault gives new columns.
var (
	neutralDecimal = int64(pow10[18] - 1)
	// 2106-01-01 and one millisecond before 1970: outside the event times accepted.
	neutralMillisMin, neutralMillisMax = int64(4291747200000), int64(-1)
)

// appendNeutral appends measure m's neutral element to c.
func appendNeutral(c *anyCol, m measureSpec) {
	if m.fn != aMin && m.fn != aMax {
		if m.acc == accF64 {
			c.appendFloat(0)
		} else {
			c.appendInt(0)
		}
		return
	}
	isMin := m.fn == aMin
	switch m.out {
	case sFloat64, sFloat32:
		if isMin {
			c.appendFloat(math.Inf(1))
		} else {
			c.appendFloat(math.Inf(-1))
		}
	case sUInt64:
		if isMin {
			c.appendInt(-1) // math.MaxUint64
		} else {
			c.appendInt(0)
		}
	case sDecimal:
		if isMin {
			c.appendInt(neutralDecimal)
		} else {
			c.appendInt(-neutralDecimal)
		}
	case sMillis:
		if isMin {
			c.appendInt(neutralMillisMin)
		} else {
			c.appendInt(neutralMillisMax)
		}
	default:
		if isMin {
			c.appendInt(math.MaxInt64)
		} else {
			c.appendInt(math.MinInt64)
		}
	}
}

// SelectRows returns a Block of b's rows at the indexes rows (in that order), with
// b's table and names; its columns are new plain slices or flat columns of b's
// types. It allocates; it is for repairs, off the hot path.
func SelectRows(b Block, rows []int) Block {
	out := Block{Table: b.Table, Names: b.Names, Columns: make([]any, len(b.Columns)), Rows: len(rows)}
	for i, c := range b.Columns {
		out.Columns[i] = selectColumn(c, rows)
	}
	return out
}

func selectColumn(c any, rows []int) any {
	switch c := c.(type) {
	case StringColumn:
		var s StringColumn
		for _, r := range rows {
			s.Data = append(s.Data, c.Bytes(r)...)
			s.Ends = append(s.Ends, uint32(len(s.Data)))
		}
		return s
	case DictColumn:
		var d DictColumn
		for _, r := range rows {
			d.Append(c.Dict[c.Keys[r]])
		}
		return d
	case MapColumn:
		var m MapColumn
		for _, r := range rows {
			start := uint32(0)
			if r > 0 {
				start = c.Ends[r-1]
			}
			for j := start; j < c.Ends[r]; j++ {
				m.Keys.Append(string(c.Keys.Bytes(int(j))))
				m.Values.Append(string(c.Values.Bytes(int(j))))
			}
			m.Ends = append(m.Ends, uint32(m.Keys.Len()))
		}
		return m
	case DecimalColumn:
		d := DecimalColumn{Scale: c.Scale}
		for _, r := range rows {
			d.Values = append(d.Values, c.Values[r])
		}
		return d
	case ArrayColumn:
		var elems []int
		a := ArrayColumn{}
		for _, r := range rows {
			start := uint32(0)
			if r > 0 {
				start = c.Ends[r-1]
			}
			for j := start; j < c.Ends[r]; j++ {
				elems = append(elems, int(j))
			}
			a.Ends = append(a.Ends, uint32(len(elems)))
		}
		a.Values = selectColumn(c.Values, elems)
		return a
	}
	v := reflect.ValueOf(c)
	out := reflect.MakeSlice(v.Type(), len(rows), len(rows))
	for i, r := range rows {
		out.Index(i).Set(v.Index(r))
	}
	return out.Interface()
}
