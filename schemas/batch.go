package schemas

import (
	"reflect"
	"time"
)

// Meta is the Kafka provenance of one record.
type Meta struct {
	Topic     string
	Partition int32
	Offset    int64
	// IngestedAt is when Sluice read the record; it fills the raw tables' _ingested_at.
	IngestedAt time.Time
	// Timestamp is the record's Kafka timestamp (when it was published). The
	// lateness and clock-skew limits are measured against it, not against the wall
	// clock, so a replay judges a record exactly as the first attempt did. Zero
	// skips both checks.
	Timestamp time.Time
}

// MapColumn is a Map(String, String) column stored flat, so a batch builds it without
// a Go map per row: the entries of row i are KV[2*j] (key) and KV[2*j+1] (value) for
// j from Ends[i-1] (0 for the first row) to Ends[i]. It has len(Ends) rows.
type MapColumn struct {
	KV   []string
	Ends []int32
}

// Len is the number of rows.
func (c MapColumn) Len() int { return len(c.Ends) }

// Entries returns row i's keys and values, alternating; the slice aliases c.KV.
func (c MapColumn) Entries(i int) []string {
	start := int32(0)
	if i > 0 {
		start = c.Ends[i-1]
	}
	return c.KV[2*start : 2*c.Ends[i]]
}

// Row returns row i as a map (nil when empty), for tests and tools; inserts use the
// flat form.
func (c MapColumn) Row(i int) map[string]string {
	kv := c.Entries(i)
	if len(kv) == 0 {
		return nil
	}
	m := make(map[string]string, len(kv)/2)
	for j := 0; j < len(kv); j += 2 {
		m[kv[j]] = kv[j+1]
	}
	return m
}

// ColumnLen is the number of values in a Block column: a MapColumn's rows or a
// slice's length; -1 for anything else.
func ColumnLen(c any) int {
	if m, ok := c.(MapColumn); ok {
		return m.Len()
	}
	if v := reflect.ValueOf(c); v.Kind() == reflect.Slice {
		return v.Len()
	}
	return -1
}

// Block is the data for one INSERT into one table, column by column. Columns[i] holds
// the values of column Names[i] as a typed slice (e.g. []string, []uint64, []time.Time,
// []map[string]string) that clickhouse-go's columnar Append accepts, or a MapColumn
// for a Map(String, String) column. Every column has
// the same length, Rows.
type Block struct {
	Table   string
	Names   []string
	Columns []any
	Rows    int
}

// Batch accumulates the valid events of one topic partition between two flushes: raw
// rows (when enabled) and per-window rollup partials. It is a pure function of the
// records added to it, in order: the same records give the same Blocks, which is what
// lets a replayed batch be deduplicated by ClickHouse. A Batch is not safe for
// concurrent use.
type Batch interface {
	// Add decodes and validates one record value. A valid event is appended and nil is
	// returned; otherwise the error is an *Invalid and the batch is unchanged.
	Add(value []byte, m Meta) error
	// Events is the number of valid events added since the last Reset.
	Events() int
	// Bytes is the approximate memory held by the batch.
	Bytes() int
	// Blocks returns the inserts that store the batch. The slices stay valid until the
	// next Add or Reset. Blocks with zero rows are omitted.
	Blocks() []Block
	// Reset empties the batch, keeping its memory for reuse.
	Reset()
}
