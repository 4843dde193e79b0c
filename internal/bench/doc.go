// Package bench is the end-to-end benchmark behind `sluice bench`: it measures how
// close one Sluice instance comes to the two ceilings it sits between, on the same
// machine and in the same run.
//
// Run starts the local ClickHouse (internal/chlocal, in a temporary data directory
// removed at the end) and an in-process kfake cluster, preloads N payments events
// (loadgen, no invalid records, no duplicates; not timed) and then, per run:
//
//   - the bare consumer ceiling: a plain franz-go group consumer reading all N
//     records without decoding them (events/s);
//   - the bare insert ceiling: clickhouse.InsertCeiling with 100k-row blocks of a
//     payments-like raw table (rows/s);
//   - Sluice itself: one app.Instance on a fresh database and group, timed from
//     app.New until the pipeline has marked every record for commit. Alongside it
//     are sampled: CPU of this process (getrusage; kfake runs in this process, so
//     its broker work is included) and of the ClickHouse child (/proc/<pid>/stat),
//     peak VmRSS every 100 ms (it includes kfake's in-memory copy of the topic), and
//     the time until the first rollup row is visible in ClickHouse (polled every
//     50 ms).
//
// After each run the stored rollups (and raw rows when on) are read back with
// internal/verify and compared exactly with the generator's ground truth, and the
// group's lag must be 0 once the instance has shut down. Print writes one table row
// per run and, for several runs, min/median/max.
//
// Run owns every goroutine, client and process it starts and stops them before it
// returns. It is not meant to run concurrently with another Run in one process (the
// CPU and RSS figures are process-wide).
//
// Usage:
//
//	res, err := bench.Run(ctx, bench.Options{Events: 300_000, Partitions: 8, Mode: bench.RawAndRollups, Runs: 1, Progress: os.Stdout})
//	if err != nil {
//		return err
//	}
//	bench.Print(os.Stdout, res)
package bench
