package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	ch "github.com/ClickHouse/clickhouse-go/v2"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicehq/sluice/internal/config"
	"github.com/sluicehq/sluice/internal/dev/chlocal"
	"github.com/sluicehq/sluice/pipeline/clickhouse"
)

// Process describes how to start `sluice run` as a child process.
type Process struct {
	// Path is the sluice binary (the bench's own: os.Executable).
	Path string
	// Environ is the child's base environment (usually os.Environ()); its SLUICE_*
	// entries are dropped: the run's configuration replaces them.
	Environ []string
	// LogLevel is the child's SLUICE_LOG_LEVEL; empty keeps the configured one.
	LogLevel string
	// Output receives the child's stdout and stderr; nil discards them.
	Output io.Writer
	// Procs is the child's GOMAXPROCS; 0 leaves Go's default (the CPUs of the
	// machine or of its container's limit).
	Procs int
}

// withProcs is environ with GOMAXPROCS=procs appended (a later entry wins), or
// environ itself when procs is 0.
func withProcs(environ []string, procs int) []string {
	if procs <= 0 {
		return environ
	}
	return append(slices.Clip(environ), "GOMAXPROCS="+strconv.Itoa(procs))
}

// child is one running `sluice run`.
type child struct {
	cmd  *exec.Cmd
	pid  string
	done chan error // receives Wait's result once
	err  error      // Wait's result once received
	exit bool
}

// start runs `sluice run` with env (SLUICE_* variables) on top of p.Environ.
func (p *Process) start(env map[string]string) (*child, error) {
	cmd := exec.Command(p.Path, "run")
	for _, kv := range p.Environ {
		if !strings.HasPrefix(kv, config.Prefix) {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	if p.LogLevel != "" {
		cmd.Env = append(cmd.Env, "SLUICE_LOG_LEVEL="+p.LogLevel)
	}
	cmd.Env = withProcs(cmd.Env, p.Procs)
	return startChild(cmd, p.Output)
}

// startChild starts cmd with its stdout and stderr going to out (nil discards them),
// killed should the bench die first.
func startChild(cmd *exec.Cmd, out io.Writer) (*child, error) {
	cmd.Stdout, cmd.Stderr = out, out
	// The child must not outlive the bench (which owns its kfake brokers).
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", strings.Join(cmd.Args, " "), err)
	}
	c := &child{cmd: cmd, pid: strconv.Itoa(cmd.Process.Pid), done: make(chan error, 1)}
	go func() { c.done <- cmd.Wait() }()
	return c, nil
}

// wait returns the child's exit error once it has exited.
func (c *child) wait() error {
	if !c.exit {
		c.err, c.exit = <-c.done, true
	}
	return c.err
}

// term sends SIGTERM and waits up to timeout for the exit; it returns the exit error
// (nil for status 0).
func (c *child) term(timeout time.Duration) error {
	if c.exit {
		return c.err
	}
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case err := <-c.done:
		c.err, c.exit = err, true
		return err
	case <-t.C:
		_ = c.cmd.Process.Kill()
		_ = c.wait()
		return fmt.Errorf("sluice run did not exit within %s of SIGTERM (killed)", timeout)
	}
}

// kill ends the child if it still runs; it is idempotent.
func (c *child) kill() {
	if !c.exit {
		_ = c.cmd.Process.Kill()
		_ = c.wait()
	}
}

// exited reports the child's exit (non-blocking): ok is true once it has exited.
func (c *child) exited() (err error, ok bool) {
	if c.exit {
		return c.err, true
	}
	select {
	case err := <-c.done:
		c.err, c.exit = err, true
		return err, true
	default:
		return nil, false
	}
}

// committed is the sum of group's committed offsets on topic (0 while it has none).
func committed(ctx context.Context, adm *kadm.Client, group, topic string) (int64, error) {
	offs, err := adm.FetchOffsets(ctx, group)
	if err != nil {
		return 0, err
	}
	var n int64
	for _, o := range offs[topic] {
		if o.Err == nil && o.At > 0 {
			n += o.At
		}
	}
	return n, nil
}

// waitCommitted polls group's committed offsets on topic every period until they sum
// to n (the topic's end: it holds only the preloaded records), calling onPoll with
// each sum. It fails if the child exits first or ctx is done.
func waitCommitted(ctx context.Context, adm *kadm.Client, group, topic string, n int64, c *child,
	period time.Duration, onPoll func(done int64)) error {
	tick := time.NewTicker(period)
	defer tick.Stop()
	var last int64
	for {
		got, err := committed(ctx, adm, group, topic)
		if err == nil {
			last = got
			if onPoll != nil {
				onPoll(got)
			}
			if got >= n {
				return nil
			}
		}
		if err, ok := c.exited(); ok {
			return fmt.Errorf("sluice run exited after %d of %d records were committed: %v", last, n, err)
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// insertedRows is ClickHouse's InsertedRows counter (every INSERT, all tables), or
// -1 if the server does not expose it.
func insertedRows(ctx context.Context, conn ch.Conn) int64 {
	return serverEvent(ctx, conn, "InsertedRows")
}

// insertParts is ClickHouse's MergeTreeDataWriterBlocks counter: the blocks inserts
// have written into MergeTree tables since the server started, server-wide, each a
// new level-0 part (the counter also counts a block later dropped as a duplicate);
// -1 if unknown. Unlike counting level-0 parts in system.parts, it also counts the
// parts merges have already replaced and the server removed.
func insertParts(ctx context.Context, conn ch.Conn) int64 {
	return serverEvent(ctx, conn, "MergeTreeDataWriterBlocks")
}

// serverEvent reads the server-wide counter called name from system.events (0 until
// it first counts), or -1 if it cannot be read.
func serverEvent(ctx context.Context, conn ch.Conn, name string) int64 {
	m := serverEvents(ctx, conn, []string{name})
	if m == nil {
		return -1
	}
	return m[name]
}

// delta is after - before of a counter read with serverEvent, or -1 if either is
// unknown.
func delta(before, after int64) int64 {
	if before < 0 || after < 0 {
		return -1
	}
	return after - before
}

// childRun is what measureChild measured of one child process.
type childRun struct {
	elapsed       time.Duration // start until the group committed every record
	cpu           time.Duration // the child's user+sys, start-up included
	benchCPU      time.Duration // this process's meanwhile (kfake, samplers)
	clickHouseCPU time.Duration // the ClickHouse child's meanwhile; 0 if unknown
	peakRSS, hwm  uint64
	firstRow      time.Duration // start until firstQuery (a count) was positive; 0 if never
}

// measureChild starts a child with start and measures it, the same way for Sluice
// and the peer, from its start until group has committed n records of topic: its
// CPU and VmHWM (read while it still runs), its VmRSS every 100 ms, this process's
// and ClickHouse's CPU meanwhile, and when firstQuery first counts a row. The
// caller stops the child (it still runs when measureChild returns without error).
func measureChild(ctx context.Context, start func() (*child, error), adm *kadm.Client, group, topic string, n int64,
	srv *chlocal.Server, conn ch.Conn, firstQuery string, timeline io.Writer) (*child, childRun, error) {
	var m childRun
	benchCPU0, chCPU0 := selfCPU(), procCPU(srv.PID())
	t0 := time.Now()
	c, err := start()
	if err != nil {
		return nil, m, err
	}
	samplers, stopSamplers := context.WithCancel(ctx)
	defer stopSamplers()
	rss := sampleMax(samplers, 100*time.Millisecond, func() uint64 { return procStatusBytes(c.pid, "VmRSS") })
	first := firstRow(samplers, conn, firstQuery, t0)

	if err := waitCommitted(ctx, adm, group, topic, n, c, 50*time.Millisecond, func(done int64) {
		if timeline != nil {
			fmt.Fprintf(timeline, "%v committed %d\n", time.Since(t0).Round(time.Millisecond), done)
		}
	}); err != nil {
		return c, m, err
	}
	m.elapsed = time.Since(t0)
	// The child still runs: its counters are the whole run's, start-up included.
	pid, _ := strconv.Atoi(c.pid)
	if cpu := procCPU(pid); cpu >= 0 {
		m.cpu = cpu
	}
	m.hwm = procStatusBytes(c.pid, "VmHWM")
	m.benchCPU = selfCPU() - benchCPU0
	if chCPU0 >= 0 {
		if cpu := procCPU(srv.PID()); cpu >= 0 {
			m.clickHouseCPU = cpu - chCPU0
		}
	}
	stopSamplers()
	m.peakRSS = <-rss
	m.firstRow = <-first
	return c, m, nil
}

// sluiceProcess runs `sluice run` from process start until the group has committed
// every record, sampling its CPU and RSS and the first stored row; then it reads
// the child's VmHWM, sends SIGTERM, requires exit status 0 and reads the lag.
func sluiceProcess(ctx context.Context, cfg config.Config, env map[string]string, opts Options, srv *chlocal.Server,
	conn ch.Conn, res *Result) error {
	admCl, err := kgo.NewClient(kgo.SeedBrokers(cfg.Kafka.Brokers...))
	if err != nil {
		return err
	}
	defer admCl.Close()
	adm := kadm.NewClient(admCl)
	rollup := fmt.Sprintf("SELECT count() FROM `%s`.`%s`", cfg.ClickHouse.Database, firstRowTable(cfg))
	rows0 := insertedRows(ctx, conn)

	c, m, err := measureChild(ctx, func() (*child, error) { return opts.Process.start(env) }, adm,
		cfg.Kafka.Group, cfg.Kafka.PaymentsTopic, int64(opts.Events), srv, conn, rollup, opts.Timeline)
	if c != nil {
		defer c.kill()
	}
	if err != nil {
		return err
	}
	res.Elapsed, res.CPU, res.BenchCPU, res.ClickHouseCPU = m.elapsed, m.cpu, m.benchCPU, m.clickHouseCPU
	res.PeakRSS, res.HWM, res.FirstRow = m.peakRSS, m.hwm, m.firstRow

	// Shut down (drain, flush, final commit, leave) and require a clean exit.
	if err := c.term(cfg.ShutdownTimeout + 10*time.Second); err != nil {
		return fmt.Errorf("sluice run after SIGTERM: %w", err)
	}
	res.Rows = -1
	if rows1 := insertedRows(ctx, conn); rows0 >= 0 && rows1 >= 0 {
		// Everything inserted meanwhile was Sluice's; its ledger rows are not data.
		var ledger uint64
		q := fmt.Sprintf("SELECT count() FROM `%s`.`%s`", cfg.ClickHouse.Database, clickhouse.LedgerTable)
		if err := conn.QueryRow(ctx, q).Scan(&ledger); err == nil {
			res.Rows = rows1 - rows0 - int64(ledger)
		}
	}
	res.Lag, err = groupLag(ctx, adm, cfg.Kafka.Group)
	return err
}

var errNoProcess = errors.New("bench: the memory check runs Sluice as a process: Options.Process must be set")
