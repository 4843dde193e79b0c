package clickhouse

import (
	"reflect"
	"testing"

	chcol "github.com/ClickHouse/clickhouse-go/v2/lib/column"

	"github.com/sluicehq/sluice/schemas"
)

func newMapColumn(t testing.TB) *chcol.Map {
	c, err := chcol.Type("Map(String, String)").Column("metadata", nil)
	if err != nil {
		t.Fatal(err)
	}
	return c.(*chcol.Map)
}

func testMapColumn(n int) schemas.MapColumn {
	var c schemas.MapColumn
	for i := range n {
		switch i % 3 {
		case 0:
			c.KV = append(c.KV, "order_id", "ord", "channel", "app")
		case 2:
			c.KV = append(c.KV, "only", "one")
		}
		c.Ends = append(c.Ends, int32(len(c.KV)/2))
	}
	return c
}

// TestFlatMapRows checks that a MapColumn appends to clickhouse-go's Map column
// exactly as the same rows given as Go maps do.
func TestFlatMapRows(t *testing.T) {
	c := testMapColumn(30)
	maps := make([]map[string]string, c.Len())
	for i := range maps {
		maps[i] = c.Row(i)
	}
	viaMaps, flat := newMapColumn(t), newMapColumn(t)
	if _, err := viaMaps.Append(maps); err != nil {
		t.Fatal(err)
	}
	if _, err := flat.Append(flatMapRows(c)); err != nil {
		t.Fatal(err)
	}
	if viaMaps.Rows() != 30 || flat.Rows() != 30 {
		t.Fatalf("rows: maps %d, flat %d", viaMaps.Rows(), flat.Rows())
	}
	for i := range flat.Rows() {
		if got, want := flat.Row(i, false), viaMaps.Row(i, false); !reflect.DeepEqual(got, want) {
			t.Fatalf("row %d: flat %v, maps %v", i, got, want)
		}
	}
}

func BenchmarkMapColumnAppend(b *testing.B) {
	c := testMapColumn(3000)
	b.Run("maps", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			maps := make([]map[string]string, c.Len())
			for i := range maps {
				maps[i] = c.Row(i)
			}
			if _, err := newMapColumn(b).Append(maps); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("flat", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := newMapColumn(b).Append(flatMapRows(c)); err != nil {
				b.Fatal(err)
			}
		}
	})
}
