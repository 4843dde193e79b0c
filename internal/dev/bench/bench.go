package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"runtime/trace"
	"strconv"
	"strings"
	"time"

	ch "github.com/ClickHouse/clickhouse-go/v2"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/sluicehq/sluice/internal/app"
	"github.com/sluicehq/sluice/internal/config"
	"github.com/sluicehq/sluice/internal/dev/bench/ceiling"
	"github.com/sluicehq/sluice/internal/dev/chlocal"
	"github.com/sluicehq/sluice/internal/dev/verify"
	"github.com/sluicehq/sluice/producers"
	"github.com/sluicehq/sluice/producers/loadgen"
)

// Mode selects the tables Sluice writes.
type Mode string

// The modes: raw table and rollups, rollups only (SLUICE_RAW_PAYMENTS=false), raw
// table only (SLUICE_ROLLUPS=false).
const (
	RawAndRollups Mode = "raw+rollups"
	Rollups       Mode = "rollups"
	Raw           Mode = "raw"
)

// ParseMode accepts "raw+rollups", "rollups" or "raw".
func ParseMode(s string) (Mode, error) {
	switch m := Mode(s); m {
	case RawAndRollups, Rollups, Raw:
		return m, nil
	}
	return "", fmt.Errorf("mode %q: want raw+rollups, rollups or raw", s)
}

// DefaultCeilingRows is the default block size of the bare insert ceiling.
const DefaultCeilingRows = 100_000

// Options configures Run.
type Options struct {
	// Events is the number of payments events preloaded and consumed per run.
	Events int
	// Partitions is the number of partitions of the payments topic.
	Partitions int
	// Mode selects raw+rollups or rollups only.
	Mode Mode
	// Runs is how many times the ceilings and Sluice are measured.
	Runs int
	// Seed fixes the generated stream (default 1).
	Seed int64
	// Merchants is the merchant population of the stream (0: the load generator's
	// default, 500, Zipf-popular). Span, when set, is the event time the stream
	// covers (the load generator's default is 1,000 events per second of event
	// time). Many merchants over a long span make more rollup rows per event:
	// 10,000 merchants over 1h give ~0.35 (merchants are Zipf-popular), the
	// defaults ~0.09.
	Merchants int
	Span      time.Duration
	// Env holds SLUICE_* variables applied to Sluice's configuration before the
	// benchmark's own (brokers, ClickHouse address, database, group, topics, raw).
	Env map[string]string
	// Progress receives one line per step; nil discards them.
	Progress io.Writer
	// Timeline, when set, receives the group's committed count every 50 ms of a
	// Sluice process run: stalls and tails show as flat stretches.
	Timeline io.Writer
	// Logger receives Sluice's own log lines; nil discards them.
	Logger *slog.Logger
	// CPUProfile, when set, receives a CPU profile of the Sluice phase of the last
	// run (pprof format). It needs the in-process mode (Process nil).
	CPUProfile io.Writer
	// HeapProfile, when set, receives a heap profile (pprof format) taken when the
	// last run's Sluice has processed every record, before it shuts down: what
	// it holds at its fullest. It needs the in-process mode (Process nil).
	HeapProfile io.Writer
	// Trace, when set, receives an execution trace (runtime/trace; go tool trace) of
	// the Sluice phase of the last run. It needs the in-process mode (Process nil).
	Trace io.Writer
	// Process, when set, runs Sluice as a separate `sluice run` process, so that its
	// CPU and memory are measured apart from kfake's; nil runs it in this process.
	Process *Process
	// CeilingRows is the rows per insert of the bare insert ceiling (default
	// DefaultCeilingRows): smaller blocks show what an insert part costs ClickHouse.
	CeilingRows int
	// Peer, when set, is run after Sluice in every run (so the two interleave across
	// runs) on the same topic, broker and ClickHouse, and printed beside it. It needs
	// Process: both are then measured as processes, the same way.
	Peer *Peer
	// Traced preloads every record with a sampled W3C traceparent header, as a
	// traced publisher sends them (what tracing costs Sluice per record).
	Traced bool
	// CHEvents reads ClickHouse's ServerEventNames counters over each Sluice and
	// peer run, and each table's active parts once the run is over, for Print.
	CHEvents bool
}

// Result is one run's measurements.
type Result struct {
	Mode   Mode // as run
	Events int

	ConsumerCeiling float64        // bare consumer, events/s
	InsertCeiling   ceiling.Result // bare insert
	// InsertCeilingCHCPU is the ClickHouse server's CPU time during the bare
	// insert (user+sys), or 0 when unknown.
	InsertCeilingCHCPU time.Duration

	// Process is true when Sluice ran as its own `sluice run` process: CPU, PeakRSS
	// and HWM are then that process's alone.
	Process bool

	Elapsed       time.Duration // start until every record was marked for commit (in-process) or committed (process)
	Rows          int64         // rows Sluice inserted, all tables; -1 if unknown
	CPU           time.Duration // user+sys of Sluice's process (in-process: also kfake and the samplers)
	BenchCPU      time.Duration // process mode: user+sys of the bench process (kfake, samplers) meanwhile
	ClickHouseCPU time.Duration // user+sys of the ClickHouse child; 0 if unknown
	PeakRSS       uint64        // highest VmRSS of Sluice's process sampled every 100 ms, bytes
	BaseRSS       uint64        // in-process: VmRSS just before the Sluice phase, bytes; 0 in process mode
	HWM           uint64        // VmHWM of Sluice's process (process mode: before SIGTERM), bytes
	FirstRow      time.Duration // start until the first rollup row was visible; 0 if never seen
	// Parts is the insert parts (level 0) Sluice created, every table and the ledger
	// included, from its start until it shut down (insertParts); -1 if unknown.
	Parts int
	Lag   int64    // group lag after shutdown; -1 if unknown
	Diff  []string // differences with the ground truth; empty means exact
	// Peer is the peer's run right after Sluice's, when Options.Peer is set.
	Peer *PeerResult
	// ServerEvents holds, with Options.CHEvents, the deltas of ServerEventNames
	// over the same span as Parts; ActiveParts each of Sluice's tables' active parts
	// at the end of the run (after the peer's run, when there is one).
	ServerEvents, ActiveParts map[string]int64
}

// EventsPerSec is Sluice's throughput.
func (r Result) EventsPerSec() float64 { return perSec(float64(r.Events), r.Elapsed) }

// RowsPerSec is Sluice's insert rate, all tables (0 if the rows are unknown).
func (r Result) RowsPerSec() float64 { return perSec(float64(max(r.Rows, 0)), r.Elapsed) }

// CPUPerMillion is Sluice's process's CPU seconds per million events.
func (r Result) CPUPerMillion() float64 { return r.CPU.Seconds() / (float64(r.Events) / 1e6) }

// BenchCPUPerMillion is the bench process's (kfake's) CPU seconds per million events
// while a separate Sluice process ran.
func (r Result) BenchCPUPerMillion() float64 { return r.BenchCPU.Seconds() / (float64(r.Events) / 1e6) }

// PartsPerSec is Sluice's insert parts per second of the run (0 if unknown).
func (r Result) PartsPerSec() float64 { return perSec(float64(max(r.Parts, 0)), r.Elapsed) }

// ClickHouseCPUPerMillion is the ClickHouse child's CPU seconds per million events.
func (r Result) ClickHouseCPUPerMillion() float64 {
	return r.ClickHouseCPU.Seconds() / (float64(r.Events) / 1e6)
}

// Exact reports whether the stored totals equal the ground truth and every record
// was committed.
func (r Result) Exact() bool { return len(r.Diff) == 0 && r.Lag == 0 }

func perSec(n float64, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return n / d.Seconds()
}

// Run performs the benchmark opts describes and returns one Result per run. An
// inexact run is not an error: its Result says so.
func Run(ctx context.Context, opts Options) ([]Result, error) {
	if opts.Events < 1 || opts.Partitions < 1 || opts.Runs < 1 {
		return nil, errors.New("bench: events, partitions and runs must be ≥ 1")
	}
	if _, err := ParseMode(string(opts.Mode)); err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	if opts.Process != nil && (opts.CPUProfile != nil || opts.Trace != nil || opts.HeapProfile != nil) {
		return nil, errors.New("bench: a CPU profile needs the in-process mode (--process=false)")
	}
	if opts.Peer != nil && opts.Process == nil {
		return nil, errors.New("bench: the peer is compared with Sluice as a process (Options.Process)")
	}
	var results []Result
	err := withRig(ctx, &opts, func(r *rig) error {
		for run := 1; run <= opts.Runs; run++ {
			res, err := runOnce(ctx, run, opts, r)
			if err != nil {
				return fmt.Errorf("bench: run %d: %w", run, err)
			}
			results = append(results, res)
		}
		return nil
	})
	return results, err
}

// rig is what every run shares: the local ClickHouse, the in-process kfake cluster
// holding the preloaded payments, and their ground truth.
type rig struct {
	srv     *chlocal.Server
	brokers []string
	truth   *loadgen.Truth
	preload time.Duration // publishing the payments into kfake
	step    func(format string, a ...any)
}

// withRig starts ClickHouse and kfake, preloads opts.Events payments, calls fn and
// stops both. It fills opts' defaults.
func withRig(ctx context.Context, opts *Options, fn func(*rig) error) error {
	if opts.Seed == 0 {
		opts.Seed = 1
	}
	if opts.CeilingRows <= 0 {
		opts.CeilingRows = DefaultCeilingRows
	}
	progress := opts.Progress
	if progress == nil {
		progress = io.Discard
	}
	step := func(format string, a ...any) { fmt.Fprintf(progress, "==> "+format+"\n", a...) }

	c0, err := config.Load(opts.Env)
	if err != nil {
		return fmt.Errorf("bench: configuration: %w", err)
	}

	// ClickHouse: a fresh data directory, removed at the end (after the server
	// stopped: the deferred calls run in reverse order).
	tmp, err := os.MkdirTemp("", "sluice-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	step("starting ClickHouse in %s", tmp)
	// RestartOnCrash: this engine build aborts when a client drops a connection at
	// some points of a query (chlocal's doc), as Sluice does when a hung server's
	// insert times out; a stock server survives that, so the bench restarts it.
	srv, err := chlocal.Start(ctx, chlocal.Options{DataDir: filepath.Join(tmp, "clickhouse"), CacheDir: c0.Dev.CacheDir, Log: progress, RestartOnCrash: true})
	if err != nil {
		return err
	}
	defer func() {
		stopCtx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		_ = srv.Stop(stopCtx)
	}()

	// Kafka: in-process kfake with the payments topic and the dead-letter topic.
	topic := c0.Kafka.PaymentsTopic
	if topic == "" {
		return errors.New("bench: SLUICE_TOPIC_PAYMENTS must not be empty")
	}
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1),
		kfake.SeedTopics(int32(opts.Partitions), topic),
		kfake.SeedTopics(1, c0.Kafka.DLQTopic))
	if err != nil {
		return fmt.Errorf("bench: start kfake: %w", err)
	}
	defer cluster.Close()
	brokers := cluster.ListenAddrs()

	if opts.Events == 0 { // nothing to preload (the latency benchmark publishes as it goes)
		return fn(&rig{srv: srv, brokers: brokers, step: step})
	}
	truth, bytes, took, err := preload(ctx, brokers, topic, *opts, c0.Pipeline.Window)
	if err != nil {
		return err
	}
	step("preloaded %d payments (%.0f bytes each on average) into %s (%d partitions) in %s",
		opts.Events, float64(bytes)/float64(opts.Events), topic, opts.Partitions, took.Round(time.Millisecond))
	return fn(&rig{srv: srv, brokers: brokers, truth: truth, preload: took, step: step})
}

// preload publishes opts.Events payments as fast as kfake takes them and returns the
// ground truth, the value bytes and the time it took.
func preload(ctx context.Context, brokers []string, topic string, opts Options, window time.Duration) (*loadgen.Truth, int64, time.Duration, error) {
	popts := []producers.Option{producers.Brokers(brokers...), producers.PaymentsTopic(topic)}
	if opts.Traced {
		// Sampled spans of a provider that exports nothing: the records carry
		// their traceparent, and the spans cost this process only.
		tp := sdktrace.NewTracerProvider(sdktrace.WithSampler(sdktrace.AlwaysSample()))
		defer tp.Shutdown(context.Background())
		popts = append(popts, producers.Tracer(tp.Tracer("sluice-bench")))
	}
	pub, err := producers.NewPublisher(popts...)
	if err != nil {
		return nil, 0, 0, err
	}
	defer pub.Close()
	gen, err := loadgen.NewGenerator(loadgen.Config{
		Seed:          opts.Seed,
		Payments:      opts.Events,
		InvalidRate:   0,
		DuplicateRate: 0,
		Window:        window,
		PaymentsTopic: topic,
		Merchants:     opts.Merchants,
		EventRate:     eventRate(opts),
	})
	if err != nil {
		return nil, 0, 0, err
	}
	st, err := loadgen.Run(ctx, pub, gen, loadgen.RunOptions{})
	if err != nil {
		return nil, 0, 0, fmt.Errorf("bench: preload: %w", err)
	}
	if st.Acked != int64(opts.Events) {
		return nil, 0, 0, fmt.Errorf("bench: preload: %d of %d records acknowledged", st.Acked, opts.Events)
	}
	return gen.Truth(), st.Bytes, st.Elapsed, nil
}

// eventRate is the load generator's EventRate for opts.Span (0: its default).
func eventRate(opts Options) float64 {
	if opts.Span <= 0 {
		return 0
	}
	return float64(opts.Events) / opts.Span.Seconds()
}

// runEnv is Sluice's configuration for one run: opts.Env with the benchmark's own
// brokers, ClickHouse, database, group and topics on top.
func runEnv(opts Options, r *rig, name string, mode Mode) map[string]string {
	env := map[string]string{}
	for k, v := range opts.Env {
		env[k] = v
	}
	env["SLUICE_KAFKA_BROKERS"] = strings.Join(r.brokers, ",")
	env["SLUICE_CLICKHOUSE_ADDR"] = r.srv.Addr()
	env["SLUICE_CLICKHOUSE_DATABASE"] = "bench_" + name
	env["SLUICE_KAFKA_GROUP"] = "sluice-bench-" + name
	env["SLUICE_KAFKA_START"] = "earliest"
	env["SLUICE_TOPIC_SHIPMENTS"] = ""
	env["SLUICE_RAW_PAYMENTS"] = strconv.FormatBool(mode != Rollups)
	env["SLUICE_ROLLUPS"] = strconv.FormatBool(mode != Raw)
	env["SLUICE_RAW_SHIPMENTS"] = "false"
	env["SLUICE_HTTP_ADDR"] = "127.0.0.1:0" // never collide with a running instance
	if _, ok := env["SLUICE_KAFKA_COMMIT_INTERVAL"]; !ok {
		// The run ends when the commits cover every record: commit often so the
		// measurement is not quantised by the 1 s default.
		env["SLUICE_KAFKA_COMMIT_INTERVAL"] = "100ms"
	}
	return env
}

// runOnce measures both ceilings and Sluice once.
func runOnce(ctx context.Context, run int, opts Options, r *rig) (Result, error) {
	mode := opts.Mode
	res := Result{Mode: mode, Events: opts.Events, Lag: -1, Process: opts.Process != nil}
	brokers, truth, step := r.brokers, r.truth, r.step

	env := runEnv(opts, r, "r"+strconv.Itoa(run), mode)
	cfg, err := config.Load(env)
	if err != nil {
		return res, fmt.Errorf("configuration: %w", err)
	}
	topic := cfg.Kafka.PaymentsTopic

	// (a) Bare consumer ceiling.
	res.ConsumerCeiling, err = bareConsumer(ctx, brokers, topic, "bench-bare-r"+strconv.Itoa(run), opts.Events, int32(cfg.Kafka.FetchMaxPartitionBytes))
	if err != nil {
		return res, err
	}
	step("run %d: bare consumer read %d records: %.0f events/s", run, opts.Events, res.ConsumerCeiling)

	// (b) Bare insert ceiling.
	chCPU0 := procCPU(r.srv.PID())
	res.InsertCeiling, err = bareInsert(ctx, cfg, "bench_ceiling_r"+strconv.Itoa(run), opts.Events, opts.CeilingRows)
	if err != nil {
		return res, err
	}
	if chCPU1 := procCPU(r.srv.PID()); chCPU0 >= 0 && chCPU1 >= 0 {
		res.InsertCeilingCHCPU = chCPU1 - chCPU0
	}
	step("run %d: bare insert: %s, ClickHouse %.2f CPU-s per M rows", run, res.InsertCeiling,
		res.InsertCeilingCHCPU.Seconds()*1e6/float64(max(1, res.InsertCeiling.Rows)))

	// (c) Sluice.
	if err := app.Migrate(ctx, cfg); err != nil {
		return res, err
	}
	conn, err := ch.Open(&ch.Options{Addr: cfg.ClickHouse.Addrs})
	if err != nil {
		return res, err
	}
	defer conn.Close()
	parts0, events0 := insertParts(ctx, conn), readEvents(ctx, conn, opts)
	if opts.Process != nil {
		err = sluiceProcess(ctx, cfg, env, opts, r.srv, conn, &res)
	} else {
		err = sluice(ctx, cfg, opts, r.srv, conn, &res)
	}
	if err != nil {
		return res, err
	}
	res.Parts = int(delta(parts0, insertParts(ctx, conn)))
	res.ServerEvents = eventDeltas(events0, readEvents(ctx, conn, opts))
	step("run %d: Sluice (%s) consumed %d events in %s: %.0f events/s, %d rows, %d insert parts", run, mode, opts.Events,
		res.Elapsed.Round(time.Millisecond), res.EventsPerSec(), res.Rows, res.Parts)

	// Exactness: the stored totals against the ground truth.
	read := verify.Read
	if !cfg.Pipeline.Rollups {
		read = verify.ReadFromRaw // raw only: compare the raw rows' aggregates
	}
	stored, err := read(ctx, conn, cfg.ClickHouse.Database, cfg.Pipeline.Window, topic, cfg.Kafka.ShipmentsTopic)
	if err != nil {
		return res, err
	}
	res.Diff = stored.Diff(truth, 10, cfg.Pipeline.RawPayments, false)
	if res.Lag != 0 {
		res.Diff = append(res.Diff, fmt.Sprintf("group %s: lag %d after shutdown, want 0", cfg.Kafka.Group, res.Lag))
	}
	if !res.Process {
		res.HWM = procStatusBytes("self", "VmHWM")
	}
	if opts.CHEvents {
		res.ActiveParts = activeParts(ctx, conn, cfg.ClickHouse.Database)
	}
	if err := dropDatabase(ctx, conn, cfg.ClickHouse.Database); err != nil {
		return res, err
	}
	if opts.Peer != nil {
		if res.Peer, err = peerRun(ctx, run, opts, r, conn); err != nil {
			return res, err
		}
		step("run %d: peer consumed %d events in %s: %.0f events/s, %d rows, %d insert parts, exact: %s", run, opts.Events,
			res.Peer.Elapsed.Round(time.Millisecond), res.Peer.EventsPerSec(), res.Peer.Rows, res.Peer.Parts, yesNo(res.Peer.Exact()))
		if opts.CHEvents {
			res.Peer.ActiveParts = activeParts(ctx, conn, res.Peer.db)
		}
		if err := dropDatabase(ctx, conn, res.Peer.db); err != nil {
			return res, err
		}
	}
	return res, nil
}

// dropDatabase drops a run's database once its rows are checked, so that
// ClickHouse merging its parts in the background does not run during, and slow
// down, whatever is measured next (the peer, the next run).
func dropDatabase(ctx context.Context, conn ch.Conn, db string) error {
	if err := conn.Exec(ctx, "DROP DATABASE IF EXISTS `"+db+"` SYNC"); err != nil {
		return fmt.Errorf("drop the run's database %s: %w", db, err)
	}
	return nil
}

// bareConsumer reads n records of topic with a plain group consumer, decoding
// nothing, and returns records per second from client creation to the n-th record.
func bareConsumer(ctx context.Context, brokers []string, topic, group string, n int, fetchMaxPartitionBytes int32) (float64, error) {
	start := time.Now()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumerGroup(group), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxPartitionBytes(fetchMaxPartitionBytes),
		kgo.DisableAutoCommit())
	if err != nil {
		return 0, fmt.Errorf("bare consumer: %w", err)
	}
	defer cl.Close()
	got := 0
	for got < n {
		fs := cl.PollRecords(ctx, 10_000)
		if err := ctx.Err(); err != nil {
			return 0, err
		}
		var ferr error
		fs.EachError(func(t string, p int32, err error) {
			ferr = errors.Join(ferr, fmt.Errorf("bare consumer: fetch %s/%d: %w", t, p, err))
		})
		if ferr != nil {
			return 0, ferr
		}
		got += fs.NumRecords()
	}
	return perSec(float64(got), time.Since(start)), nil
}

// bareInsert stores about n rows (at least three blocks) of blockRows-row
// blocks into a fresh payments-like table in database db, after one untimed block,
// through clickhouse-go alone (package ceiling).
func bareInsert(ctx context.Context, cfg config.Config, db string, n, blockRows int) (ceiling.Result, error) {
	o := &ch.Options{Addr: cfg.ClickHouse.Addrs}
	if cfg.ClickHouse.Compress {
		o.Compression = &ch.Compression{Method: ch.CompressionLZ4}
	}
	conn, err := ch.Open(o)
	if err != nil {
		return ceiling.Result{}, err
	}
	defer conn.Close()
	table := "ceiling"
	for _, stmt := range []string{"CREATE DATABASE IF NOT EXISTS `" + db + "`", ceiling.DDL(db, table, cfg.ClickHouse.DedupWindow)} {
		if err := conn.Exec(ctx, stmt); err != nil {
			return ceiling.Result{}, fmt.Errorf("bare insert: %w", err)
		}
	}
	blk := ceiling.Block(table, blockRows, 0)
	// One untimed insert first: the first insert into a fresh server or table pays
	// for connection setup and cold caches.
	if _, err := ceiling.Insert(ctx, conn, db, blk, 1); err != nil {
		return ceiling.Result{}, err
	}
	inserts := max(3, (n+blockRows-1)/blockRows)
	res, err := ceiling.Insert(ctx, conn, db, blk, inserts)
	if err != nil {
		return res, err
	}
	// Drop the table at once, so that merging its parts does not run during, and
	// slow down, the Sluice phase that follows.
	return res, dropDatabase(ctx, conn, db)
}

// sluice runs one in-process instance from app.New until every record is marked for commit,
// sampling CPU, RSS and the first stored row, then shuts it down and reads the lag.
func sluice(ctx context.Context, cfg config.Config, opts Options, srv *chlocal.Server, conn ch.Conn, res *Result) error {
	n := int64(opts.Events)
	res.BaseRSS = procStatusBytes("self", "VmRSS")
	samplers, stopSamplers := context.WithCancel(ctx)
	defer stopSamplers()
	rss := sampleMax(samplers, 100*time.Millisecond, func() uint64 { return procStatusBytes("self", "VmRSS") })
	rollup := fmt.Sprintf("SELECT count() FROM `%s`.`%s`", cfg.ClickHouse.Database, firstRowTable(cfg))

	cpu0, chCPU0 := selfCPU(), procCPU(srv.PID())
	if opts.CPUProfile != nil {
		if err := pprof.StartCPUProfile(opts.CPUProfile); err == nil {
			defer pprof.StopCPUProfile()
		}
	}
	if opts.Trace != nil {
		if err := trace.Start(opts.Trace); err == nil {
			defer trace.Stop()
		}
	}
	start := time.Now()
	first := firstRow(samplers, conn, rollup, start)
	in, err := app.New(ctx, cfg, opts.Logger)
	if err != nil {
		return err
	}
	runCtx, stopRun := context.WithCancel(ctx)
	defer stopRun()
	done := make(chan error, 1)
	go func() { done <- in.Run(runCtx) }()

	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for in.Stats().Committable.Load() < n {
		select {
		case <-tick.C:
		case err := <-done:
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("sluice stopped after %d of %d records: %v", in.Stats().Committable.Load(), n, err)
		case <-ctx.Done():
			stopRun()
			<-done
			return ctx.Err()
		}
	}
	res.Elapsed = time.Since(start)
	res.CPU = selfCPU() - cpu0
	if opts.HeapProfile != nil {
		runtime.GC() // a profile of what is live now, not at the last collection
		if err := pprof.Lookup("heap").WriteTo(opts.HeapProfile, 0); err != nil {
			return err
		}
	}
	if chCPU0 >= 0 {
		if c := procCPU(srv.PID()); c >= 0 {
			res.ClickHouseCPU = c - chCPU0
		}
	}
	res.Rows = in.Stats().Rows.Load()
	stopSamplers()
	res.PeakRSS = <-rss
	res.FirstRow = <-first

	// Shut down (drain, flush, final commit, leave), then check every offset is
	// committed.
	stopRun()
	if err := <-done; err != nil {
		return err
	}
	admCl, err := kgo.NewClient(kgo.SeedBrokers(cfg.Kafka.Brokers...))
	if err != nil {
		return err
	}
	defer admCl.Close()
	res.Lag, err = groupLag(ctx, kadm.NewClient(admCl), cfg.Kafka.Group)
	return err
}

// groupLag is group's total lag, or -1 if it could not be described.
func groupLag(ctx context.Context, adm *kadm.Client, group string) (int64, error) {
	lags, err := adm.Lag(ctx, group)
	if err != nil {
		return -1, fmt.Errorf("group lag: %w", err)
	}
	if l, ok := lags[group]; ok && l.FetchErr == nil && l.DescribeErr == nil {
		return l.Lag.Total(), nil
	}
	return -1, nil
}

// firstRow polls query (a count) every 50 ms until it is positive or ctx is done, and
// then sends the time since start (0 if no row was seen).
func firstRow(ctx context.Context, conn ch.Conn, query string, start time.Time) <-chan time.Duration {
	out := make(chan time.Duration, 1)
	go func() {
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for {
			var n uint64
			if err := conn.QueryRow(ctx, query).Scan(&n); err == nil && n > 0 {
				out <- time.Since(start)
				return
			}
			select {
			case <-tick.C:
			case <-ctx.Done():
				out <- 0
				return
			}
		}
	}()
	return out
}
