package schemas

import "time"

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

// Block is the data for one INSERT into one table, column by column. Columns[i] holds
// the values of column Names[i] as a typed slice (e.g. []string, []uint64, []time.Time,
// []map[string]string) that clickhouse-go's columnar Append accepts. Every column has
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
