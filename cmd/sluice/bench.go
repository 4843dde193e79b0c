//go:build !nodev

package main

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/sluicehq/sluice/internal/config"
	"github.com/sluicehq/sluice/internal/dev/bench"
)

var benchDoc = doc{
	name:  "bench",
	brief: "end-to-end benchmark against the bare consumer and bare insert ceilings",
	about: `On the embedded ClickHouse and an in-process kfake, preloads --events payments,
measures a bare franz-go consumer and bare ClickHouse inserts as ceilings, runs
Sluice over the backlog (as a 'sluice run' child process unless --process=false),
checks the stored totals against the ground truth exactly and prints one results
table: events/s, ratios to the ceilings, CPU-seconds per million events, peak
RSS, time to first row. With --memory-check N it instead samples Sluice's RSS
while N events drain (with --hang D, ClickHouse hangs for D meanwhile). With --latency RATE it instead publishes RATE payments/s
for --duration (after --warmup) to a running 'sluice run' and measures from
outside how long each takes to be visible in ClickHouse (p50/p90/p99/max),
beside Sluice's own freshness histogram and the insert parts per second. With
--peer PATH every run also measures clickhouse_sinker the same way on the same
events and prints it beside Sluice. SLUICE_* variables tune Sluice as for 'sluice run'; the
benchmark sets brokers, ClickHouse, database, group and topics itself. It exits
1 if the totals are not exact.`,
}

// benchCommand is `sluice bench`: the end-to-end benchmark. On the local ClickHouse
// and an in-process kfake it preloads N payments, measures the bare consumer and bare
// insert ceilings, runs one Sluice instance over the backlog (by default `sluice run`
// as a child process of this same binary, so its CPU and memory are its own), checks
// the stored totals exactly and prints one results table. With --memory-check N it
// instead shows Sluice's RSS while N events wait in the topic. SLUICE_* variables
// tune Sluice as for `sluice run`; the benchmark sets brokers, ClickHouse, database,
// group and topics.
func benchCommand(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags(benchDoc, stdout)
	events := fs.Int("events", 2_000_000, "payments events to preload and consume per run")
	partitions := fs.Int("partitions", 8, "partitions of the payments topic")
	mode := fs.String("mode", string(bench.RawAndRollups), "tables Sluice writes: raw+rollups, rollups (SLUICE_RAW_PAYMENTS=false) or raw (SLUICE_ROLLUPS=false)")
	runs := fs.Int("runs", 1, "measurements of the ceilings and Sluice; with more than one, min/median/max are printed")
	seed := fs.Int64("seed", 1, "load generator seed")
	merchants := fs.Int("merchants", 0, "merchants in the stream (0: the load generator's 500); with --span, how many rollup rows the events make (10000 and 1h: about one per three events, against one per eleven by default)")
	span := fs.Duration("span", 0, "event time the preloaded stream covers (0: the load generator's 1,000 events per second)")
	verbose := fs.Bool("v", false, "show Sluice's own log lines")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the Sluice phase to this file (go tool pprof; needs --process=false)")
	process := fs.Bool("process", true, "run Sluice as a separate `sluice run` process and measure its CPU and RSS alone; false runs it in the bench process, beside kfake")
	memoryCheck := fs.Int("memory-check", 0, "instead of the benchmark: preload this many events and sample the RSS of `sluice run` (at the configuration given, the defaults where unset) while it consumes them")
	hang := fs.Duration("hang", 0, "with --memory-check: hang ClickHouse (SIGSTOP) for this long from the first commit on, while the backlog waits")
	procs := fs.Int("procs", 0, "run `sluice run` (and the --peer) with GOMAXPROCS=N, as a container CPU limit of N would (0: Go's default, the machine's CPUs); the bench itself keeps the default")
	lean := fs.Bool("lean", false, "run Sluice with the small-footprint configuration (SLUICE_* variables you set win): "+leanSummary())
	heapFile := fs.String("memprofile", "", "write a heap profile of the in-process Sluice, taken once it processed every record, to this file (go tool pprof; needs --process=false)")
	timeline := fs.Bool("timeline", false, "print the committed count every 50 ms while Sluice runs (as a process), to see stalls")
	traceFile := fs.String("trace", "", "write an execution trace of the Sluice phase to this file (go tool trace; needs --process=false)")
	ceilingRows := fs.Int("ceiling-rows", bench.DefaultCeilingRows, "rows per insert of the bare insert ceiling (smaller blocks show what an insert part costs ClickHouse)")
	peer := fs.String("peer", "", "also run this clickhouse_sinker binary (../shared/peers/build.sh builds it) in every run, on the same topic, broker and ClickHouse into its own raw table, and print it beside Sluice")
	serverEvents := fs.Bool("server-events", false, "also print, for each Sluice and peer run, the deltas of ClickHouse's system.events counters over it (inserts, parts, projection blocks, merges, selects, CPU) and each table's active parts after the run")
	traced := fs.Bool("traced", false, "preload every record with a sampled traceparent header, as a traced publisher sends them (to measure tracing with OTEL_EXPORTER_OTLP_ENDPOINT set)")
	latency := fs.Float64("latency", 0, "instead of the benchmark: publish this many payments per second and measure publish → visible in ClickHouse")
	duration := fs.Duration("duration", 20*time.Second, "with --latency: how long the measured stream lasts")
	warmup := fs.Duration("warmup", 5*time.Second, "with --latency: how long to publish at the rate before measuring")
	if err := fs.parse(args); err != nil {
		return err
	}
	if (*cpuProfile != "" || *traceFile != "" || *heapFile != "") && *process {
		return fs.bad("--cpuprofile, --memprofile and --trace look at the in-process Sluice: add --process=false")
	}
	if *peer != "" && !*process {
		return fs.bad("--peer is measured as a process, like Sluice: drop --process=false")
	}
	m, err := bench.ParseMode(*mode)
	if err != nil {
		return fs.bad("--%v", err)
	}
	if *procs < 0 {
		return fs.bad("--procs must not be negative")
	}
	if *events < 1 || *partitions < 1 || *runs < 1 || *ceilingRows < 1 {
		return fs.bad("--events, --partitions, --runs and --ceiling-rows must be positive")
	}
	if *merchants < 0 || *span < 0 {
		return fs.bad("--merchants and --span must not be negative")
	}
	env := config.Environ()
	if *lean {
		for k, v := range bench.LeanEnv {
			if _, set := env[k]; !set {
				env[k] = v
			}
		}
	}
	log := slog.New(slog.DiscardHandler)
	if *verbose {
		c, err := config.Load(env)
		if err != nil {
			return err
		}
		log = newLogger(c.Log, stderr)
	}
	var proc *bench.Process
	if *process || *memoryCheck > 0 || *latency > 0 {
		exe, err := os.Executable()
		if err != nil {
			return err
		}
		proc = &bench.Process{Path: exe, Environ: os.Environ(), LogLevel: "warn", Output: stderr, Procs: *procs}
		if *verbose {
			proc.LogLevel = ""
		}
	}
	if *latency > 0 {
		if *duration <= 0 || *warmup < 0 {
			return fs.bad("--duration must be positive and --warmup not negative")
		}
		return benchLatency(ctx, bench.LatencyOptions{
			Rate: *latency, Duration: *duration, Warmup: *warmup, Partitions: *partitions, Seed: *seed,
			Env: env, Progress: stdout, Process: proc,
		}, stdout)
	}
	if *memoryCheck > 0 {
		res, err := bench.MemoryCheck(ctx, bench.Options{
			Events: *memoryCheck, Partitions: *partitions, Mode: m, Seed: *seed,
			Env: env, Progress: stdout, Process: proc,
		}, *hang)
		if res.Elapsed > 0 {
			io.WriteString(stdout, "\n")
			bench.PrintMemory(stdout, res)
		}
		if err != nil {
			return err
		}
		if !res.Exact() {
			return errors.New("stored totals differ from the ground truth")
		}
		return nil
	}
	var prof, heap, tr io.Writer
	for _, out := range []struct {
		name string
		w    *io.Writer
	}{{*cpuProfile, &prof}, {*heapFile, &heap}, {*traceFile, &tr}} {
		if out.name == "" {
			continue
		}
		f, err := os.Create(out.name)
		if err != nil {
			return err
		}
		defer f.Close()
		*out.w = f
	}
	res, err := bench.Run(ctx, bench.Options{
		CPUProfile:  prof,
		Trace:       tr,
		HeapProfile: heap,
		Events:      *events,
		Partitions:  *partitions,
		Mode:        m,
		Runs:        *runs,
		Seed:        *seed,
		Merchants:   *merchants,
		Span:        *span,
		Env:         env,
		Progress:    stdout,
		Timeline:    timelineWriter(*timeline, stdout),
		Logger:      log,
		Process:     proc,
		Traced:      *traced,
		Peer:        peerOf(*peer, *procs, *verbose, stderr),
		CeilingRows: *ceilingRows,
		CHEvents:    *serverEvents,
	})
	if len(res) > 0 {
		io.WriteString(stdout, "\n")
		bench.Print(stdout, res)
	}
	if err != nil {
		return err
	}
	for _, r := range res {
		if !r.Exact() {
			return errors.New("stored totals differ from the ground truth")
		}
	}
	return nil
}

// peerOf is the --peer to run beside Sluice (with GOMAXPROCS=procs unless 0), nil
// without one; its output is shown with -v only.
func peerOf(path string, procs int, verbose bool, stderr io.Writer) *bench.Peer {
	if path == "" {
		return nil
	}
	p := &bench.Peer{Path: path, Procs: procs}
	if verbose {
		p.Output = stderr
	}
	return p
}

// leanSummary lists bench.LeanEnv for the --lean flag's help, sorted.
func leanSummary() string {
	kv := make([]string, 0, len(bench.LeanEnv))
	for k, v := range bench.LeanEnv {
		kv = append(kv, k+"="+v)
	}
	slices.Sort(kv)
	return strings.Join(kv, " ")
}

// timelineWriter is w when on, else nil.
func timelineWriter(on bool, w io.Writer) io.Writer {
	if on {
		return w
	}
	return nil
}
