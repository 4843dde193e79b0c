// Package ceiling measures the bare insert ceiling of the benchmark (package bench):
// how fast clickhouse-go's own batch API stores pre-built columnar blocks of a
// payments-like table, with no Kafka, decoding, aggregation or Sluice encoder in the
// way.
//
// DDL and Block define that table and its rows; the ClickHouse adapter's tests
// (pipeline/clickhouse) use them too, as a wide table with every column type Sluice
// writes. Insert times the inserts. Nothing here is used by Sluice itself.
//
// Usage:
//
//	_ = conn.Exec(ctx, ceiling.DDL("bench", "ceiling", 10000))
//	res, err := ceiling.Insert(ctx, conn, "bench", ceiling.Block("ceiling", 100_000, 0), 10)
//	fmt.Println(res) // rows/s and latency percentiles
package ceiling
