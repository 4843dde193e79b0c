package schemas

import (
	"maps"
	"math"
	"slices"
	"testing"
	"time"
)

const markSchema = `{
  "title": "marks",
  "type": "object",
  "required": ["id", "at"],
  "properties": {
    "id": {"type": "string"},
    "at": {"type": "string", "format": "date-time"},
    "channel": {"type": "string"},
    "n": {"type": "integer"},
    "u": {"type": "integer", "minimum": 0, "x-clickhouse-type": "UInt32"},
    "f": {"type": "number"},
    "d": {"type": ["number", "string"], "x-clickhouse-type": "Decimal(12, 2)"},
    "seen": {"type": "string", "format": "date-time"}
  },
  "x-sluice": {
    "event_id": "id",
    "event_time": "at",
    "rollups": [{"window": "1h", "dimensions": ["channel"], "measures": {
      "events": "count()", "n_sum": "sum(n)", "n_min": "min(n)", "n_max": "max(n)",
      "u_min": "min(u)", "u_max": "max(u)", "f_min": "min(f)", "f_max": "max(f)",
      "d_min": "min(d)", "d_max": "max(d)", "seen_min": "min(seen)", "seen_max": "max(seen)"}}]
  }
}`

// A marked rollup block has FlushColumn (0 on data rows) and one marker per table
// partition, with the key of the partition's first row in the block and each
// measure's neutral element; an unmarked block has no FlushColumn.
func TestFlushMarkers(t *testing.T) {
	et := mustType(t, "marks.schema.json", markSchema)
	b := et.NewBatch(Options{})
	for _, rec := range []string{
		`{"id":"a","at":"2026-01-31T23:10:00Z","channel":"web","n":-5,"u":3,"f":1.5,"d":"2.50","seen":"2026-01-01T00:00:00Z"}`,
		`{"id":"b","at":"2026-01-31T22:10:00Z","channel":"app","n":7,"u":9,"f":-1,"d":"-1.25","seen":"2026-02-01T00:00:00Z"}`,
		`{"id":"c","at":"2026-02-01T00:10:00Z","channel":"web","n":1,"u":1,"f":0,"d":"0.01","seen":"2026-02-02T00:00:00Z"}`,
	} {
		if err := b.Add([]byte(rec), &Meta{}); err != nil {
			t.Fatal(err)
		}
	}
	plain := b.Blocks()[0]
	if slices.Contains(plain.Names, FlushColumn) || plain.Rows != 3 {
		t.Fatalf("unmarked block: %v, %d rows", plain.Names, plain.Rows)
	}
	const token = "g:marks:0:0-2"
	b.(FlushMarker).SetFlush(token)
	blk := b.Blocks()[0]
	if blk.Names[len(blk.Names)-1] != FlushColumn || blk.Rows != 5 {
		t.Fatalf("marked block: %v, %d rows", blk.Names, blk.Rows)
	}
	col := func(name string) any { return blk.Columns[slices.Index(blk.Names, name)] }
	flush := col(FlushColumn).([]uint64)
	if !slices.Equal(flush[:3], []uint64{0, 0, 0}) {
		t.Fatalf("data rows' %s: %v", FlushColumn, flush)
	}
	jan, feb := time.Date(2026, 1, 31, 22, 0, 0, 0, time.UTC), time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)
	wantFlush := []uint64{FlushID(token, 202601), FlushID(token, 202602)}
	if !slices.Equal(flush[3:], wantFlush) || wantFlush[0] == wantFlush[1] {
		t.Fatalf("markers' %s: %v, want %v", FlushColumn, flush[3:], wantFlush)
	}
	for i, want := range map[int][2]any{3: {jan, "app"}, 4: {feb, "web"}} {
		if got := [2]any{ColumnValue(col("window_start"), i), ColumnValue(col("channel"), i)}; got != want {
			t.Errorf("marker row %d: key %v, want %v", i, got, want)
		}
	}
	for name, want := range map[string]any{
		"events": uint64(0), "n_sum": int64(0), "n_min": int64(math.MaxInt64), "n_max": int64(math.MinInt64),
		"u_min": uint64(math.MaxUint64), "u_max": uint64(0), "f_min": math.Inf(1), "f_max": math.Inf(-1),
		"d_min": formatDecimal(neutralDecimal, 2), "d_max": formatDecimal(-neutralDecimal, 2),
		"seen_min": time.UnixMilli(neutralMillisMin).UTC(), "seen_max": time.UnixMilli(neutralMillisMax).UTC(),
	} {
		for _, i := range []int{3, 4} {
			if got := ColumnValue(col(name), i); got != want {
				t.Errorf("marker row %d: %s = %v (%T), want %v (%T)", i, name, got, got, want, want)
			}
		}
	}
	// Reset forgets the token.
	b.Reset()
	if err := b.Add([]byte(`{"id":"d","at":"2026-02-01T00:10:00Z"}`), &Meta{}); err != nil {
		t.Fatal(err)
	}
	if blk := b.Blocks()[0]; slices.Contains(blk.Names, FlushColumn) {
		t.Fatalf("after Reset: %v", blk.Names)
	}
}

func TestRollupMonth(t *testing.T) {
	for _, c := range []struct {
		t    time.Time
		want int32
	}{
		{time.Date(2026, 1, 31, 23, 59, 0, 0, time.UTC), 202601},
		{time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC), 202602},
		{time.Date(2026, 2, 1, 1, 0, 0, 0, time.FixedZone("x", 2*3600)), 202601},
	} {
		if got := RollupMonth(c.t); got != c.want {
			t.Errorf("RollupMonth(%v) = %d, want %d", c.t, got, c.want)
		}
	}
}

// SelectRows keeps the chosen rows of every kind of column, in the order given.
func TestSelectRows(t *testing.T) {
	var s StringColumn
	var d DictColumn
	var m MapColumn
	for i, v := range []string{"a", "bb", "c"} {
		s.Append(v)
		d.Append(v)
		m.appendRow([]string{v}, []string{string(rune('x' + i))})
	}
	arr := ArrayColumn{Values: []int64{1, 2, 3, 4}, Ends: []uint32{1, 1, 4}}
	b := Block{Table: "t", Names: []string{"s", "d", "m", "dec", "arr", "i", "ms"}, Rows: 3, Columns: []any{
		s, d, m, DecimalColumn{Scale: 1, Values: []int64{10, 20, 30}}, arr, []int32{7, 8, 9}, MillisColumn{1, 2, 3},
	}}
	got := SelectRows(b, []int{2, 0})
	if got.Rows != 2 || got.Table != "t" {
		t.Fatalf("%+v", got)
	}
	for i, want := range [][]any{
		{"c", "a"}, {"c", "a"}, {map[string]string{"c": "z"}, map[string]string{"a": "x"}}, {"3.0", "1.0"},
		{[]int64{2, 3, 4}, []int64{1}}, {int32(9), int32(7)}, {time.UnixMilli(3).UTC(), time.UnixMilli(1).UTC()},
	} {
		for r, w := range want {
			if v := ColumnValue(got.Columns[i], r); !equalValue(v, w) {
				t.Errorf("column %s row %d: %v, want %v", b.Names[i], r, v, w)
			}
		}
	}
}

func equalValue(a, b any) bool {
	switch a := a.(type) {
	case map[string]string:
		return maps.Equal(a, b.(map[string]string))
	case []int64:
		return slices.Equal(a, b.([]int64))
	}
	return a == b
}
