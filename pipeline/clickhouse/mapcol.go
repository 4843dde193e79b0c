package clickhouse

import (
	chcol "github.com/ClickHouse/clickhouse-go/v2/lib/column"

	"github.com/sluicehq/sluice/schemas"
)

// flatMapRow is one row of a schemas.MapColumn as clickhouse-go's Map column takes
// it (column.IterableOrderedMap): it iterates over the batch's flat key/value slice,
// so appending a Map(String, String) column costs no Go map per row. It is its own
// iterator; Key and Value return *string, which the String column accepts without
// allocating.
type flatMapRow struct {
	kv []string
	i  int
}

// Put implements column.IterableOrderedMap; rows are only read.
func (r *flatMapRow) Put(key, value any) { panic("clickhouse: flat map rows are read-only") }

// Iterator implements column.IterableOrderedMap.
func (r *flatMapRow) Iterator() chcol.MapIterator {
	r.i = -2
	return r
}

func (r *flatMapRow) Next() bool { r.i += 2; return r.i < len(r.kv) }
func (r *flatMapRow) Key() any   { return &r.kv[r.i] }
func (r *flatMapRow) Value() any { return &r.kv[r.i+1] }

// flatMapRows adapts a MapColumn for Append: two allocations per block, none per row.
func flatMapRows(c schemas.MapColumn) []*flatMapRow {
	rows := make([]flatMapRow, c.Len())
	col := make([]*flatMapRow, c.Len())
	for i := range rows {
		rows[i].kv = c.Entries(i)
		col[i] = &rows[i]
	}
	return col
}
