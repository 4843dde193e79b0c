package clickhouse

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/internal/dev/bench/ceiling"
	"github.com/sluicehq/sluice/internal/dev/testenv"
	"github.com/sluicehq/sluice/schemas"
)

// TestStoreNativeRoundTrip stores a block with every column kind the native encoder
// has, spanning several wire chunks and wide LowCardinality dictionaries, and reads
// every value back.
func TestStoreNativeRoundTrip(t *testing.T) {
	c := open(t)
	exec(t, c, "CREATE TABLE "+qualified(c.db, "rt")+" ("+
		"`s` String, `lc` LowCardinality(String), `lcw` LowCardinality(String), `i32` Int32, `i64` Int64,"+
		"`u64` SimpleAggregateFunction(sum, UInt64), `f` Float64, `t3` DateTime64(3, 'UTC'), `t6` DateTime64(6),"+
		"`t0` DateTime('UTC'), `m` Map(String, String), `gm` Map(String, String),"+
		"`fs` String, `fslc` LowCardinality(String), `d` LowCardinality(String), `ds` String, `ms3` DateTime64(3, 'UTC'),"+
		"`ms6` DateTime64(6), `ms0` DateTime) ENGINE = MergeTree ORDER BY `i64` SETTINGS non_replicated_deduplication_window = 100")
	const rows = 2*nativeChunkRows + 1234 // three chunks, the last one short
	var (
		s, lc, lcw []string
		i32        []int32
		i64        []int64
		u64        []uint64
		f          []float64
		times      []time.Time
		m          schemas.MapColumn
		gm         []map[string]string
		fs         schemas.StringColumn
		dict       schemas.DictColumn
		millis     schemas.MillisColumn
	)
	base := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	for i := range rows {
		s = append(s, "s-"+strconv.Itoa(i)+string(make([]byte, i%3))) // lengths vary, NULs included
		lc = append(lc, []string{"EUR", "USD", "", "JPY"}[i%4])
		lcw = append(lcw, "w"+strconv.Itoa(i%70000)) // > 65536 distinct: wider keys in the first chunks too
		i32 = append(i32, int32(i)-1000)
		i64 = append(i64, int64(i))
		u64 = append(u64, uint64(i)*3)
		f = append(f, float64(i)/8)
		times = append(times, base.Add(time.Duration(i)*time.Microsecond*1001))
		for j := range i % 3 {
			m.Keys.Append("k" + strconv.Itoa(j))
			m.Values.Append("v" + strconv.Itoa(i))
		}
		m.Ends = append(m.Ends, uint32(m.Keys.Len()))
		fs.Append(s[i])
		dict.Append(lcw[i])
		millis = append(millis, times[i].UnixMilli())
		gm = append(gm, map[string]string{"b": strconv.Itoa(i), "a": "x"})
	}
	blk := schemas.Block{Table: "rt",
		Names:   []string{"s", "lc", "lcw", "i32", "i64", "u64", "f", "t3", "t6", "t0", "m", "gm", "fs", "fslc", "d", "ds", "ms3", "ms6", "ms0"},
		Columns: []any{s, lc, lcw, i32, i64, u64, f, times, times, times, m, gm, fs, fs, dict, dict, millis, millis, millis}, Rows: rows}
	if err := c.Store(t.Context(), "rt:1", []schemas.Block{blk}); err != nil {
		t.Fatal(err)
	}
	got, err := c.conn.Query(t.Context(), "SELECT `s`, `lc`, `lcw`, `i32`, `i64`, `u64`, `f`, `t3`, `t6`, `t0`, "+
		"toString(`m`), toString(mapSort(`gm`)), `fs`, `fslc`, `d`, `ds`, `ms3`, `ms6`, `ms0` FROM "+qualified(c.db, "rt")+" ORDER BY `i64`")
	if err != nil {
		t.Fatal(err)
	}
	defer got.Close()
	i := 0
	for ; got.Next(); i++ {
		var (
			gs, glc, glcw, gmap, ggm string
			gi32                     int32
			gi64                     int64
			gu64                     uint64
			gf                       float64
			t3, t6, t0               time.Time
			gfs, gfslc, gd, gds      string
			ms3, ms6, ms0            time.Time
		)
		if err := got.Scan(&gs, &glc, &glcw, &gi32, &gi64, &gu64, &gf, &t3, &t6, &t0, &gmap, &ggm,
			&gfs, &gfslc, &gd, &gds, &ms3, &ms6, &ms0); err != nil {
			t.Fatal(err)
		}
		ms := times[i].Truncate(time.Millisecond)
		if gfs != s[i] || gfslc != s[i] || gd != lcw[i] || gds != lcw[i] || !ms3.Equal(ms) || !ms6.Equal(ms) || !ms0.Equal(times[i].Truncate(time.Second)) {
			t.Fatalf("row %d flat columns = %q %q %q %q %v %v %v, want %q %q %v", i, gfs, gfslc, gd, gds, ms3, ms6, ms0, s[i], lcw[i], ms)
		}
		var wantMap string
		for j := range i % 3 {
			if j > 0 {
				wantMap += ","
			}
			wantMap += fmt.Sprintf("'k%d':'v%d'", j, i)
		}
		wantMap = "{" + wantMap + "}"
		wantGM := fmt.Sprintf("{'a':'x','b':'%d'}", i)
		if gs != s[i] || glc != lc[i] || glcw != lcw[i] || gi32 != i32[i] || gi64 != i64[i] || gu64 != u64[i] || gf != f[i] ||
			!t3.Equal(times[i].Truncate(time.Millisecond)) || !t6.Equal(times[i].Truncate(time.Microsecond)) ||
			!t0.Equal(times[i].Truncate(time.Second)) || gmap != wantMap || ggm != wantGM {
			t.Fatalf("row %d = %q %q %q %d %d %d %v %v %v %v %s %s, want %q %q %q %d %d %d %v %v %s %s", i,
				gs, glc, glcw, gi32, gi64, gu64, gf, t3, t6, t0, gmap, ggm,
				s[i], lc[i], lcw[i], i32[i], i64[i], u64[i], f[i], times[i], wantMap, wantGM)
		}
	}
	if err := got.Err(); err != nil {
		t.Fatal(err)
	}
	if i != rows {
		t.Fatalf("read %d rows, want %d", i, rows)
	}
	// The chunks of one INSERT are one part, deduplicated as one: the same token
	// stores nothing again.
	if err := c.Store(t.Context(), "rt:1", []schemas.Block{blk}); err != nil {
		t.Fatal(err)
	}
	if n := count(t, c, "rt"); n != rows {
		t.Fatalf("after a repeated token count = %d, want %d", n, rows)
	}
}

// TestStoreNativeTypeMismatch: a Go column that cannot fill the server's column is
// a permanent error naming both types, and nothing is stored.
func TestStoreNativeTypeMismatch(t *testing.T) {
	c := open(t)
	exec(t, c, "CREATE TABLE "+qualified(c.db, "mm")+" (`a` Int64, `b` Float64) ENGINE = MergeTree ORDER BY `a`")
	blk := schemas.Block{Table: "mm", Names: []string{"a", "b"}, Columns: []any{[]int64{1}, []string{"x"}}, Rows: 1}
	err := c.Store(t.Context(), "mm:1", []schemas.Block{blk})
	if err == nil || !IsPermanent(err) || !errors.Is(err, ErrInvalidBlock) {
		t.Fatalf("err = %v, want a permanent ErrInvalidBlock", err)
	}
	if want := "a Go string column cannot fill a ClickHouse Float64 column"; !strings.Contains(err.Error(), want) {
		t.Fatalf("err = %v, want it to say %q", err, want)
	}
	blk.Columns[1] = []bool{true}
	if err := c.Store(t.Context(), "mm:2", []schemas.Block{blk}); !errors.Is(err, ErrInvalidBlock) {
		t.Fatalf("[]bool column: err = %v, want ErrInvalidBlock", err)
	}
	if n := count(t, c, "mm"); n != 0 {
		t.Fatalf("count = %d, want 0", n)
	}
}

// TestStoreTableChanged: after a column's type changed between two Stores, a block
// that no longer fits fails as a permanent ErrInvalidBlock (checked against the type
// the server announces for the INSERT, on a connection the client then closes), and
// a block that fits the new type is stored.
func TestStoreTableChanged(t *testing.T) {
	c := open(t)
	exec(t, c, "CREATE TABLE "+qualified(c.db, "ch")+" (`a` Int64, `b` Float64) ENGINE = MergeTree ORDER BY `a`")
	blk := func(b any) []schemas.Block {
		return []schemas.Block{{Table: "ch", Names: []string{"a", "b"}, Columns: []any{[]int64{1}, b}, Rows: 1}}
	}
	if err := c.Store(t.Context(), "ch:1", blk([]float64{0.5})); err != nil {
		t.Fatal(err)
	}
	exec(t, c, "ALTER TABLE "+qualified(c.db, "ch")+" MODIFY COLUMN `b` String")
	err := c.Store(t.Context(), "ch:2", blk([]float64{0.25}))
	if !errors.Is(err, ErrInvalidBlock) || !IsPermanent(err) {
		t.Fatalf("float column into a String column: err = %v, want a permanent ErrInvalidBlock", err)
	}
	if err := c.Store(t.Context(), "ch:3", blk([]string{"x"})); err != nil {
		t.Fatalf("after the change, a string column: %v", err)
	}
	if n := count(t, c, "ch"); n != 2 {
		t.Fatalf("count = %d, want 2", n)
	}
}

// TestStoreCompressed: with Options.Compress the blocks travel LZ4-compressed and
// arrive intact.
func TestStoreCompressed(t *testing.T) {
	env := testenv.ClickHouse(t)
	c, err := Open(t.Context(), Options{Addrs: []string{env.Addr}, Database: env.Database, Compress: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	exec(t, c, ceiling.DDL(c.db, "pay", 100))
	blk := ceiling.Block("pay", nativeChunkRows+100, 0)
	if err := c.Store(t.Context(), "z:1", []schemas.Block{blk}); err != nil {
		t.Fatal(err)
	}
	var n, sum uint64
	if err := c.conn.QueryRow(t.Context(), "SELECT count(), toUInt64(sum(`_offset`)) FROM "+qualified(c.db, "pay")).Scan(&n, &sum); err != nil {
		t.Fatal(err)
	}
	rows := uint64(blk.Rows)
	if n != rows || sum != rows*(rows-1)/2 {
		t.Fatalf("count %d, sum of offsets %d; want %d, %d", n, sum, rows, rows*(rows-1)/2)
	}
}
