// Package bench is the end-to-end benchmark behind `sluice bench`: it measures how
// close one Sluice instance comes to the two ceilings it sits between, on the same
// machine and in the same run.
//
// Run starts the local ClickHouse (internal/dev/chlocal, in a temporary data
// directory removed at the end) and an in-process kfake cluster, preloads N payments
// events (loadgen, no invalid records, no duplicates; not timed) and then, per run:
//
//   - the bare consumer ceiling: a plain franz-go group consumer reading all N
//     records without decoding them (events/s);
//   - the bare insert ceiling: clickhouse-go's batch API alone (package ceiling)
//     with 100k-row blocks of a payments-like raw table (rows/s);
//   - Sluice itself on a fresh database and group. With Options.Process (the
//     default of `sluice bench`) it is `sluice run`, a child process of the same
//     binary, timed from its start until the group's committed offsets (kadm,
//     polled every 50 ms) reach the end of every partition; its own CPU
//     (/proc/<pid>/stat) and VmRSS (every 100 ms; VmHWM before SIGTERM) are
//     measured apart from kfake's, and it must exit 0 after SIGTERM. Without it,
//     one app.Instance runs in this process, timed from app.New until every record
//     is marked for commit, and CPU (getrusage) and RSS include kfake's broker
//     work and its in-memory copy of the topic. Either way the ClickHouse child's
//     CPU and the time until the first rollup row is visible (polled every 50 ms)
//     are measured too.
//
// MemoryCheck runs only Sluice, as a child with a small explicit memory
// configuration (LeanEnv), over a large backlog, and samples its VmRSS
// against the committed progress every 250 ms: memory bounded by configuration
// stays flat while the backlog drains.
//
// LatencyRun (`sluice bench --latency RATE`) measures freshness from outside: it runs
// `sluice run` until /readyz answers, publishes payments at a constant rate with a
// Probe (latency.go), which polls the raw table's new parts every 20 ms for the highest
// stored offset per partition, and reports publish → visible p50/p90/p99/max beside
// Sluice's own freshness and insert histograms (scraped from /metrics before and after),
// the CPU of Sluice and ClickHouse and the insert parts per second. Probe is also used
// on its own by the end-to-end test that checks the freshness histogram. Options.Traced
// preloads every record with a sampled traceparent, to measure what tracing costs.
//
// With Options.Peer, every run then measures the peer ingester (clickhouse_sinker,
// peer.go) the same way as Sluice's process, on the same preloaded topic, broker
// and ClickHouse, into a fresh database with Sluice's raw payments table, and checks
// its rows against the ground truth; Print shows the two side by side.
//
// With Options.CHEvents, each Sluice and peer run also reads ClickHouse's
// system.events counters (ServerEventNames: inserts, parts, projection blocks,
// merges, selects, the server's CPU) before and after it, and each table's active
// parts once the run is over (serverevents.go); Print shows them side by side.
//
// After each run the stored rollups (and raw rows when on) are read back with
// internal/dev/verify and compared exactly with the generator's ground truth, and
// the group's lag must be 0 once the instance has shut down. Print writes one table
// row per run and, for several runs, min/median/max.
//
// Run and MemoryCheck own every goroutine, client and process they start and stop
// them before they return. They are not meant to run concurrently in one process
// (the in-process CPU and RSS figures are process-wide).
//
// Usage:
//
//	res, err := bench.Run(ctx, bench.Options{Events: 300_000, Partitions: 8, Mode: bench.RawAndRollups, Runs: 1, Progress: os.Stdout})
//	if err != nil {
//		return err
//	}
//	bench.Print(os.Stdout, res)
package bench
