package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	ch "github.com/ClickHouse/clickhouse-go/v2"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicehq/sluice/internal/app"
	"github.com/sluicehq/sluice/internal/config"
	"github.com/sluicehq/sluice/internal/dev/verify"
)

// LeanEnv is the small-footprint configuration of `sluice bench --lean`: a smaller
// memory budget, a shallow fetch queue (its bound is stated under
// SLUICE_KAFKA_QUEUE_DEPTH in `sluice config`), two small batches per partition and
// a producer-duplicate filter of at most 100,000 ids per partition. Fetches keep
// their default size (256KiB a partition).
var LeanEnv = map[string]string{
	"SLUICE_MEMORY_LIMIT":      "230MiB",
	"SLUICE_BATCH_MAX_BYTES":   "4MiB",
	"SLUICE_KAFKA_QUEUE_DEPTH": "2",
	"SLUICE_DEDUP_MAX_IDS":     "100000",
}

// memoryCheckPeriod is how often the memory check samples RSS and progress.
const memoryCheckPeriod = 250 * time.Millisecond

// MemorySample is one reading of the memory check.
type MemorySample struct {
	At   time.Duration // since `sluice run` started
	Done int64         // records committed
	RSS  uint64        // VmRSS of `sluice run`, bytes
}

// MemoryResult is the outcome of MemoryCheck.
type MemoryResult struct {
	Events     int
	Partitions int
	Env        map[string]string // the memory-bounding configuration Sluice ran with
	// Hang is how long ClickHouse was hung (SIGSTOP) from the first commit on, and
	// HangPeak the largest RSS sampled meanwhile (0 without a hang).
	Hang     time.Duration
	HangPeak uint64
	Preload  time.Duration // publishing the backlog into kfake (not part of Elapsed)
	Elapsed  time.Duration // `sluice run` start until every record was committed
	Samples  []MemorySample
	HWM      uint64 // VmHWM of `sluice run` before SIGTERM, bytes
	Lag      int64  // group lag after shutdown; -1 if unknown
	// Crashes is how often ClickHouse aborted (and was restarted) during the check.
	Crashes int
	Diff    []string
}

// Exact reports whether the stored totals equal the ground truth and every record
// was committed.
func (r MemoryResult) Exact() bool { return len(r.Diff) == 0 && r.Lag == 0 }

// Peak is the largest sampled RSS.
func (r MemoryResult) Peak() uint64 {
	var p uint64
	for _, s := range r.Samples {
		p = max(p, s.RSS)
	}
	return p
}

// At returns the first sample taken once at least fraction of the events were
// committed, and false if there is none.
func (r MemoryResult) At(fraction float64) (MemorySample, bool) {
	want := int64(fraction * float64(r.Events))
	for _, s := range r.Samples {
		if s.Done >= want && s.RSS > 0 {
			return s, true
		}
	}
	return MemorySample{}, false
}

// MemoryCheck shows that Sluice's memory is bounded by its budget, not by the
// backlog: it preloads opts.Events payments (held by kfake in this process), runs
// `sluice run` as a child with opts.Env (the defaults where unset), samples the
// child's VmRSS and the committed records every 250 ms until everything is
// committed, then stops it with SIGTERM and checks the stored totals exactly. With
// hang > 0, ClickHouse hangs (SIGSTOP) for that long from the first commit on, while
// the backlog waits. opts.Runs is ignored.
func MemoryCheck(ctx context.Context, opts Options, hang time.Duration) (MemoryResult, error) {
	res := MemoryResult{Events: opts.Events, Partitions: opts.Partitions, Lag: -1}
	if opts.Process == nil {
		return res, errNoProcess
	}
	if opts.Events < 1 || opts.Partitions < 1 {
		return res, errors.New("bench: events and partitions must be ≥ 1")
	}
	mode := opts.Mode
	if mode == "" {
		mode = RawAndRollups
	}
	o := opts
	o.Env = maps.Clone(opts.Env)
	err := withRig(ctx, &o, func(r *rig) error {
		res.Preload = r.preload
		env := runEnv(o, r, "memory", mode)
		cfg, err := config.Load(env)
		if err != nil {
			return fmt.Errorf("configuration: %w", err)
		}
		res.Env = memoryEnv(cfg)
		if err := app.Migrate(ctx, cfg); err != nil {
			return err
		}
		admCl, err := kgo.NewClient(kgo.SeedBrokers(cfg.Kafka.Brokers...))
		if err != nil {
			return err
		}
		defer admCl.Close()
		adm := kadm.NewClient(admCl)

		r.step("memory check: running sluice run over %d waiting events with %s", o.Events, envString(res.Env))
		start := time.Now()
		c, err := o.Process.start(env)
		if err != nil {
			return err
		}
		defer c.kill()
		var lastPct int64
		var hangStart time.Time
		resume := func() {
			if !hangStart.IsZero() && res.Hang == 0 {
				res.Hang = time.Since(hangStart)
				_ = syscall.Kill(r.srv.PID(), syscall.SIGCONT)
				r.step("memory check: ClickHouse resumed after %s; RSS peaked at %.0f MB meanwhile", res.Hang.Round(time.Second), mb(res.HangPeak))
			}
		}
		defer resume()
		onPoll := func(done int64) {
			s := MemorySample{At: time.Since(start), Done: done, RSS: procStatusBytes(c.pid, "VmRSS")}
			res.Samples = append(res.Samples, s)
			switch {
			case hang > 0 && done > 0 && hangStart.IsZero():
				if err := syscall.Kill(r.srv.PID(), syscall.SIGSTOP); err == nil {
					hangStart = time.Now()
					r.step("memory check: ClickHouse hung (SIGSTOP) for %s after %d records were committed", hang, done)
				}
			case !hangStart.IsZero() && res.Hang == 0:
				res.HangPeak = max(res.HangPeak, s.RSS)
				if time.Since(hangStart) >= hang {
					resume()
				}
			}
			if pct := done * 10 / int64(o.Events); pct > lastPct {
				lastPct = pct
				r.step("memory check: %3d%% committed after %s, RSS %.0f MB", pct*10, s.At.Round(time.Second), mb(s.RSS))
			}
		}
		if err := waitCommitted(ctx, adm, cfg.Kafka.Group, cfg.Kafka.PaymentsTopic, int64(o.Events), c, memoryCheckPeriod, onPoll); err != nil {
			return err
		}
		res.Elapsed = time.Since(start)
		res.HWM = procStatusBytes(c.pid, "VmHWM")
		res.Crashes = r.srv.Crashes()
		if err := c.term(cfg.ShutdownTimeout + 10*time.Second); err != nil {
			return fmt.Errorf("sluice run after SIGTERM: %w", err)
		}
		if res.Lag, err = groupLag(ctx, adm, cfg.Kafka.Group); err != nil {
			return err
		}
		conn, err := ch.Open(&ch.Options{Addr: cfg.ClickHouse.Addrs})
		if err != nil {
			return err
		}
		defer conn.Close()
		read := verify.Read
		if !cfg.Pipeline.Rollups {
			read = verify.ReadFromRaw
		}
		stored, err := read(ctx, conn, cfg.ClickHouse.Database, cfg.Pipeline.Window, cfg.Kafka.PaymentsTopic, cfg.Kafka.ShipmentsTopic)
		if err != nil {
			return err
		}
		res.Diff = stored.Diff(r.truth, 10, cfg.Pipeline.RawPayments, false)
		if res.Lag != 0 {
			res.Diff = append(res.Diff, fmt.Sprintf("group %s: lag %d after shutdown, want 0", cfg.Kafka.Group, res.Lag))
		}
		return nil
	})
	return res, err
}

// PrintMemory writes the memory check's RSS at 10, 25, 50, 75 and 100% of progress,
// the maximum and VmHWM.
func PrintMemory(w io.Writer, r MemoryResult) {
	fmt.Fprintf(w, "memory check: %d events waiting in %d partitions (preloaded in %s), consumed by `sluice run` in %s (%.0f events/s)\n",
		r.Events, r.Partitions, r.Preload.Round(time.Second), r.Elapsed.Round(time.Millisecond), perSec(float64(r.Events), r.Elapsed))
	fmt.Fprintf(w, "configuration: %s\n", envString(r.Env))
	if r.Hang > 0 {
		fmt.Fprintf(w, "ClickHouse hung (SIGSTOP) for %s from the first commit on: max sampled RSS meanwhile %.0f MB\n", r.Hang.Round(time.Second), mb(r.HangPeak))
	}
	if r.Crashes > 0 {
		fmt.Fprintf(w, "ClickHouse aborted %d time(s) on a dropped connection (the engine defect in chlocal's doc) and was restarted\n", r.Crashes)
	}
	table := [][]string{{"progress", "committed", "at s", "RSS MB"}}
	for _, f := range []float64{0.10, 0.25, 0.50, 0.75, 1} {
		s, ok := r.At(f)
		if !ok {
			table = append(table, []string{fmt.Sprintf("%.0f%%", f*100), "-", "-", "-"})
			continue
		}
		table = append(table, []string{fmt.Sprintf("%.0f%%", f*100), fmt.Sprint(s.Done),
			fmt.Sprintf("%.1f", s.At.Seconds()), fmt.Sprintf("%.0f", mb(s.RSS))})
	}
	writeTable(w, table)
	fmt.Fprintf(w, "max sampled RSS %.0f MB over %d samples (every %s); VmHWM %.0f MB; exact: %s\n",
		mb(r.Peak()), len(r.Samples), memoryCheckPeriod, mb(r.HWM), yesNo(r.Exact()))
	if len(r.Diff) > 0 {
		fmt.Fprintf(w, "NOT exact:\n  %s\n", strings.Join(r.Diff, "\n  "))
	}
}

// memoryEnv is the configuration that bounds Sluice's memory, as variables.
func memoryEnv(c config.Config) map[string]string {
	return map[string]string{
		"SLUICE_MEMORY_LIMIT":                    c.MemoryLimit.String(),
		"SLUICE_BATCH_MAX_BYTES":                 c.Pipeline.BatchMaxBytes.String(),
		"SLUICE_BATCH_MAX_ROWS":                  strconv.Itoa(c.Pipeline.BatchMaxRows),
		"SLUICE_KAFKA_QUEUE_DEPTH":               strconv.Itoa(c.Kafka.QueueDepth),
		"SLUICE_KAFKA_FETCH_MAX_PARTITION_BYTES": c.Kafka.FetchMaxPartitionBytes.String(),
		"SLUICE_DEDUP_MAX_IDS":                   strconv.Itoa(c.Pipeline.DedupMaxIDs),
	}
}

func envString(env map[string]string) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(env)) {
		parts = append(parts, k+"="+env[k])
	}
	return strings.Join(parts, " ")
}
