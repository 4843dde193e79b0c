package clickhouse

import (
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/schemas"
)

// TestStoreEventTypeColumns stores the column kinds event types add (narrow
// integers, Float32, Bool, Decimal, Array of flat and dictionary elements) over
// several wire chunks and reads every value back as text.
func TestStoreEventTypeColumns(t *testing.T) {
	c := open(t)
	exec(t, c, "CREATE TABLE "+qualified(c.db, "et")+" (`n` Int64, `i8` Int8, `i16` Int16, `u8` UInt8, `u16` UInt16,"+
		" `u32` UInt32, `f32` Float32, `b` Bool, `d9` Decimal(9, 2), `d18` Decimal(18, 4), `d38` SimpleAggregateFunction(sum, Decimal(38, 4)),"+
		" `as` Array(String), `alc` Array(LowCardinality(String)), `ai` Array(Int64), `ad` Array(Decimal(18, 2)))"+
		" ENGINE = MergeTree ORDER BY `n`")
	const rows = nativeChunkRows + 777 // two chunks
	var (
		n               []int64
		i8              []int8
		i16             []int16
		u8              []uint8
		u16             []uint16
		u32             []uint32
		f32             []float32
		b               []bool
		d9              = schemas.DecimalColumn{Scale: 2}
		d18, d38        = schemas.DecimalColumn{Scale: 4}, schemas.DecimalColumn{Scale: 4}
		as, alc, ai, ad schemas.ArrayColumn
		asv             schemas.StringColumn
		alcv            schemas.DictColumn
		aiv             []int64
		adv             = schemas.DecimalColumn{Scale: 2}
		want            []string
	)
	for i := range rows {
		n = append(n, int64(i))
		i8 = append(i8, int8(i%256-128))
		i16 = append(i16, int16(i-30000))
		u8 = append(u8, uint8(i))
		u16 = append(u16, uint16(i*7))
		u32 = append(u32, uint32(i)*100003)
		f32 = append(f32, float32(i)/4)
		b = append(b, i%3 == 0)
		d9.Values = append(d9.Values, int64(i)*101-50000)
		d18.Values = append(d18.Values, int64(i)*1_000_000_007)
		d38.Values = append(d38.Values, int64(i)*1_000_000_000_007-3_000_000_000_000_000)
		var es, ei, ed []string
		for j := range i % 4 {
			asv.Append("e" + strconv.Itoa(i+j))
			alcv.Append([]string{"x", "y", "z"}[j%3])
			aiv = append(aiv, int64(i*j))
			adv.Values = append(adv.Values, int64(j*125))
			es = append(es, "'e"+strconv.Itoa(i+j)+"'")
			ei = append(ei, strconv.Itoa(i*j))
			ed = append(ed, adv.String(len(adv.Values)-1))
		}
		for _, a := range []*schemas.ArrayColumn{&as, &alc, &ai, &ad} {
			a.Ends = append(a.Ends, uint32(len(aiv)))
		}
		alcs := make([]string, len(es))
		for j := range alcs {
			alcs[j] = "'" + []string{"x", "y", "z"}[j%3] + "'"
		}
		want = append(want, fmt.Sprintf("%d %d %d %d %d %d %v %v %s %s %s [%s] [%s] [%s] [%s]", i, i8[i], i16[i], u8[i], u16[i], u32[i],
			f32[i], b[i], trimDec(d9.String(i)), trimDec(d18.String(i)), trimDec(d38.String(i)), strings.Join(es, ","), strings.Join(alcs, ","),
			strings.Join(ei, ","), strings.Join(trimAll(ed), ",")))
	}
	as.Values, alc.Values, ai.Values, ad.Values = asv, alcv, aiv, adv
	blk := schemas.Block{Table: "et",
		Names:   []string{"n", "i8", "i16", "u8", "u16", "u32", "f32", "b", "d9", "d18", "d38", "as", "alc", "ai", "ad"},
		Columns: []any{n, i8, i16, u8, u16, u32, f32, b, d9, d18, d38, as, alc, ai, ad}, Rows: rows}
	if err := c.Store(t.Context(), "et:1", []schemas.Block{blk}); err != nil {
		t.Fatal(err)
	}
	got, err := c.conn.Query(t.Context(), "SELECT concatWithSeparator(' ', toString(`n`), toString(`i8`), toString(`i16`),"+
		" toString(`u8`), toString(`u16`), toString(`u32`), toString(`f32`), toString(`b`), toString(`d9`), toString(`d18`), toString(`d38`),"+
		" toString(`as`), toString(`alc`), toString(`ai`), toString(`ad`)) FROM "+qualified(c.db, "et")+" ORDER BY `n`")
	if err != nil {
		t.Fatal(err)
	}
	defer got.Close()
	i := 0
	for ; got.Next(); i++ {
		var line string
		if err := got.Scan(&line); err != nil {
			t.Fatal(err)
		}
		if i < len(want) && line != want[i] {
			t.Fatalf("row %d:\n got %s\nwant %s", i, line, want[i])
		}
	}
	if i != rows {
		t.Fatalf("%d rows, want %d", i, rows)
	}

	// A decimal of another scale does not fit.
	bad := schemas.Block{Table: "et", Names: []string{"n", "d9"}, Columns: []any{[]int64{1}, schemas.DecimalColumn{Scale: 3, Values: []int64{1}}}, Rows: 1}
	if err := c.Store(t.Context(), "et:2", []schemas.Block{bad}); err == nil || !IsPermanent(err) {
		t.Errorf("decimal of scale 3 into Decimal(9, 2): %v, want a permanent error", err)
	}
}

// trimDec drops trailing fraction zeros, as ClickHouse's toString of a Decimal does.
func trimDec(s string) string {
	if strings.Contains(s, ".") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	return s
}

func trimAll(s []string) []string {
	for i := range s {
		s[i] = trimDec(s[i])
	}
	return s
}
