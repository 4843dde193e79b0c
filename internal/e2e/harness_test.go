package e2e

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicehq/sluice/internal/app"
	"github.com/sluicehq/sluice/internal/config"
	"github.com/sluicehq/sluice/internal/dev/testenv"
	"github.com/sluicehq/sluice/internal/dev/verify"
	"github.com/sluicehq/sluice/producers"
	"github.com/sluicehq/sluice/producers/loadgen"
	"github.com/sluicehq/sluice/schemas"
)

// stack is one test's Kafka, ClickHouse and Sluice configuration.
type stack struct {
	kafka *testenv.KafkaCluster
	ch    *testenv.CH
	env   map[string]string
	cfg   config.Config
}

func newStack(t *testing.T, partitions int32, extra map[string]string) *stack {
	t.Helper()
	return newStackOn(t, testenv.ClickHouse(t), partitions, extra)
}

// newStackOn is newStack on a given ClickHouse (e.g. a private one to stop and start).
func newStackOn(t *testing.T, ch *testenv.CH, partitions int32, extra map[string]string) *stack {
	t.Helper()
	s := buildStack(t, testenv.Kafka(t), ch, partitions, extra)
	if err := app.Migrate(t.Context(), s.cfg); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	return s
}

// buildStack creates the topics on kafka and the configuration of a stack; it does
// not migrate.
func buildStack(t *testing.T, kafka *testenv.KafkaCluster, ch *testenv.CH, partitions int32, extra map[string]string) *stack {
	t.Helper()
	s := &stack{kafka: kafka, ch: ch}
	for _, topic := range []string{"payments", "shipments"} {
		s.kafka.CreateTopic(t, topic, partitions)
	}
	s.kafka.CreateTopic(t, "sluice.dlq", 1)
	s.env = map[string]string{
		"SLUICE_KAFKA_BROKERS":           strings.Join(s.kafka.Brokers(), ","),
		"SLUICE_KAFKA_GROUP":             "g-" + s.ch.Database,
		"SLUICE_CLICKHOUSE_ADDR":         s.ch.Addr,
		"SLUICE_CLICKHOUSE_DATABASE":     s.ch.Database,
		"SLUICE_FLUSH_INTERVAL":          "200ms",
		"SLUICE_SHUTDOWN_TIMEOUT":        "30s",
		"SLUICE_KAFKA_SESSION_TIMEOUT":   "6s",
		"SLUICE_KAFKA_REBALANCE_TIMEOUT": "10s",
		"SLUICE_LOG_LEVEL":               "info",
		// Any free port: several instances (and processes) run at once.
		"SLUICE_HTTP_ADDR": "127.0.0.1:0",
	}
	for k, v := range extra {
		s.env[k] = v
	}
	cfg, err := config.Load(s.env)
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	s.cfg = cfg
	return s
}

// publish sends gen's whole stream and returns its ground truth.
func (s *stack) publish(t *testing.T, gen *loadgen.Generator, rate float64) *loadgen.Truth {
	t.Helper()
	pub, err := producers.NewPublisher(producers.Brokers(s.kafka.Brokers()...))
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	if _, err := loadgen.Run(t.Context(), pub, gen, loadgen.RunOptions{Rate: rate}); err != nil {
		t.Fatalf("publish: %v", err)
	}
	return gen.Truth()
}

// instance is an in-process Sluice.
type instance struct {
	in     *app.Instance
	cancel context.CancelFunc
	done   chan error
}

func (s *stack) start(t *testing.T, name string) *instance {
	t.Helper()
	return s.startWith(t, name, s.cfg, io.Discard)
}

// startLogged is start with the instance's log (info and above) also written to logs.
func (s *stack) startLogged(t *testing.T, name string, logs io.Writer) *instance {
	t.Helper()
	return s.startWith(t, name, s.cfg, logs)
}

// startWith is start with another configuration (e.g. a per-instance setting), the
// instance's log (info and above) also written to logs.
func (s *stack) startWith(t *testing.T, name string, cfg config.Config, logs io.Writer) *instance {
	t.Helper()
	log := slog.New(slog.NewTextHandler(io.MultiWriter(testWriter{t}, logs), &slog.HandlerOptions{Level: slog.LevelInfo})).With("instance", name)
	return s.startLog(t, name, cfg, log)
}

// startLog is start with configuration cfg, the instance logging to log.
func (s *stack) startLog(t *testing.T, name string, cfg config.Config, log *slog.Logger) *instance {
	t.Helper()
	in, err := app.New(t.Context(), cfg, log)
	if err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	i := &instance{in: in, cancel: cancel, done: make(chan error, 1)}
	go func() { i.done <- in.Run(ctx) }()
	t.Cleanup(func() { i.stop(t) })
	return i
}

// stop shuts the instance down gracefully and checks it ended cleanly; it is
// idempotent.
func (i *instance) stop(t *testing.T) {
	t.Helper()
	if i.cancel == nil {
		return
	}
	i.cancel()
	i.cancel = nil
	if err := <-i.done; err != nil {
		t.Errorf("instance ended with: %v", err)
	}
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// waitFor polls cond until it holds or timeout passes.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		select {
		case <-tick.C:
		case <-t.Context().Done():
			t.Fatalf("test ended waiting for %s", what)
		}
	}
}

// waitCommitted waits until the group committed every source partition to its end.
// If that takes longer than within, or would outlast the test binary's -timeout, it
// logs s.diagnose's dump (serverRunning says whether the ClickHouse process is up)
// and fails the test, saying what (e.g. the seed that replays the run).
func (s *stack) waitCommitted(t *testing.T, within time.Duration, what string, serverRunning func() bool, procs ...*proc) {
	t.Helper()
	if d, ok := t.Deadline(); ok {
		// Leave time for the dump before the test binary panics.
		within = min(within, time.Until(d)-30*time.Second)
	}
	deadline := time.Now().Add(within)
	waitFor(t, within+time.Minute, "every offset committed", func() bool {
		if s.committedAll(t) {
			return true
		}
		if time.Now().After(deadline) {
			s.diagnose(t, serverRunning(), procs...)
			t.Fatalf("not every offset committed after %s (%s); diagnostics above", within.Round(time.Second), what)
		}
		return false
	})
}

// committedAll reports whether the group committed every source partition to its end.
func (s *stack) committedAll(t *testing.T) bool {
	return s.committedVia(t, kadm.NewClient(s.kafka.Client(t)))
}

// committedVia is committedAll asked through adm (e.g. a client with Sluice's TLS and
// SASL options).
func (s *stack) committedVia(t *testing.T, adm *kadm.Client) bool {
	lags, err := adm.Lag(t.Context(), s.cfg.Kafka.Group)
	if err != nil {
		t.Logf("lag: %v", err)
		return false
	}
	l := lags[s.cfg.Kafka.Group]
	if l.Error() != nil {
		return false
	}
	// Every partition of both topics must have a commit at its end.
	n := 0
	for _, ps := range l.Lag {
		for _, m := range ps {
			if m.Err != nil || m.Commit.At < 0 || m.Lag != 0 {
				return false
			}
			n++
		}
	}
	return n > 0 && l.Lag.Total() == 0
}

// position is one record's place in Kafka.
type position struct {
	topic     string
	partition int32
	offset    int64
}

// invalidPositions reads the source topics and returns where the invalid records are,
// as the schemas' decoders judge them.
func (s *stack) invalidPositions(t *testing.T, want int64) map[position]bool {
	t.Helper()
	out := map[position]bool{}
	var p schemas.Payment
	var sh schemas.Shipment
	s.consumeAll(t, []string{"payments", "shipments"}, func(r *kgo.Record) {
		var err error
		if r.Topic == "payments" {
			err = schemas.DecodePayment(r.Value, &p, schemas.Limits{})
		} else {
			err = schemas.DecodeShipment(r.Value, &sh, schemas.Limits{})
		}
		if err != nil {
			out[position{r.Topic, r.Partition, r.Offset}] = true
		}
	})
	if int64(len(out)) != want {
		t.Fatalf("found %d invalid records in the source topics, the generator says it sent %d", len(out), want)
	}
	return out
}

// consumeAll reads topics from the start to their current end.
func (s *stack) consumeAll(t *testing.T, topics []string, fn func(*kgo.Record)) int {
	t.Helper()
	ends, err := kadm.NewClient(s.kafka.Client(t)).ListEndOffsets(t.Context(), topics...)
	if err != nil {
		t.Fatal(err)
	}
	var total int64
	ends.Each(func(o kadm.ListedOffset) { total += o.Offset })
	cl := s.kafka.Client(t, kgo.ConsumeTopics(topics...), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	n := 0
	for int64(n) < total {
		fs := cl.PollFetches(t.Context())
		if err := fs.Err0(); err != nil {
			t.Fatal(err)
		}
		fs.EachRecord(func(r *kgo.Record) { fn(r); n++ })
	}
	return n
}

// checkDeadLetters asserts the dead-letter topic holds each invalid record at least
// once (exactly once when exact), with a reason and its source position.
func (s *stack) checkDeadLetters(t *testing.T, invalid map[position]bool, exact bool) {
	t.Helper()
	seen := map[position]int{}
	reasons := map[string]int{}
	s.consumeAll(t, []string{s.cfg.Kafka.DLQTopic}, func(r *kgo.Record) {
		dl, err := producers.ParseDeadLetter(r)
		if err != nil {
			t.Errorf("dead letter at offset %d: %v", r.Offset, err)
			return
		}
		if dl.Reason == "" {
			t.Errorf("dead letter at offset %d has no reason", r.Offset)
		}
		reasons[dl.Reason]++
		seen[position{dl.SourceTopic, dl.SourcePartition, dl.SourceOffset}]++
	})
	dups := 0
	for p, n := range seen {
		if !invalid[p] {
			t.Errorf("dead letter for %v, which is a valid record", p)
		}
		dups += n - 1
	}
	for p := range invalid {
		if seen[p] == 0 {
			t.Errorf("invalid record %v has no dead letter", p)
		}
	}
	if exact && dups > 0 {
		t.Errorf("%d duplicate dead letters", dups)
	}
	t.Logf("dead letters: %d distinct invalid records, %d duplicates, by reason %v", len(seen), dups, reasons)
}

// readStored reads what ClickHouse stored, shaped like the ground truth.
func (s *stack) readStored(t *testing.T) *verify.Stored {
	t.Helper()
	var st *verify.Stored
	withCH(t, "read what ClickHouse stored", func() (err error) {
		st, err = verify.Read(t.Context(), s.ch.Conn(t), s.ch.Database, s.cfg.Pipeline.Window, "payments", "shipments")
		return err
	})
	return st
}

// finish ends a disturbed run: it waits until every offset is committed (as
// waitCommitted), stops procs with SIGTERM, each of which must exit cleanly, and
// returns what ClickHouse stored.
func (s *stack) finish(t *testing.T, within time.Duration, what string, serverRunning func() bool, procs ...*proc) *verify.Stored {
	t.Helper()
	s.waitCommitted(t, within, what, serverRunning, procs...)
	for _, p := range procs {
		p.term(t)
	}
	return s.readStored(t)
}

// checkStored compares ClickHouse with the ground truth exactly.
func (s *stack) checkStored(t *testing.T, truth *loadgen.Truth) {
	t.Helper()
	st := s.readStored(t)
	if d := st.Diff(truth, 20, s.cfg.Pipeline.RawPayments, s.cfg.Pipeline.RawShipments); len(d) > 0 {
		t.Errorf("ClickHouse differs from the ground truth:\n%s", strings.Join(d, "\n"))
	}
	t.Logf("stored: %d payments, %d shipments, %d+%d rollup keys; raw rows %d+%d",
		st.Truth.PaymentCounts.Valid, st.Truth.ShipmentCounts.Valid, len(st.Truth.Payments), len(st.Truth.Shipments), st.RawPayments, st.RawShipments)
}

// The sluice binary, built once per test process for the crash tests into a
// temporary directory that TestMain removes (removeBinary): nothing is written
// into the source tree.
var (
	binOnce sync.Once
	binDir  string
	binPath string
	binErr  error
)

func sluiceBinary(t *testing.T) string {
	t.Helper()
	binOnce.Do(func() {
		binDir, binErr = os.MkdirTemp("", "sluice-e2e-bin-")
		if binErr != nil {
			return
		}
		binPath = filepath.Join(binDir, "sluice")
		out, err := exec.Command("go", "build", "-o", binPath, "github.com/sluicehq/sluice/cmd/sluice").CombinedOutput()
		if err != nil {
			binErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

// removeBinary removes the directory sluiceBinary built into, if it did; TestMain
// calls it once every test has ended.
func removeBinary() error {
	if binDir == "" {
		return nil
	}
	return os.RemoveAll(binDir)
}

// proc is `sluice run` in its own process.
type proc struct {
	name string
	// admin is the process's admin address (status, pprof), for diagnostics.
	admin string
	cmd   *exec.Cmd
	done  chan error
	// exited is closed once cmd.Wait returned; only then may cmd.ProcessState be
	// read (Wait sets it in another goroutine).
	exited chan struct{}
}

func (s *stack) spawn(t *testing.T, name string) *proc {
	t.Helper()
	cmd := exec.Command(sluiceBinary(t), "run")
	cmd.Env = os.Environ()
	for k, v := range s.env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	// A known admin address with profiles on, so a stuck run can be inspected.
	admin := freeAddr(t)
	cmd.Env = append(cmd.Env, "SLUICE_HTTP_ADDR="+admin, "SLUICE_PPROF=true")
	cmd.Stdout = prefixWriter{t, name}
	cmd.Stderr = prefixWriter{t, name}
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &proc{name: name, admin: admin, cmd: cmd, done: make(chan error, 1), exited: make(chan struct{})}
	go func() {
		err := cmd.Wait()
		close(p.exited)
		p.done <- err
	}()
	t.Cleanup(func() { p.kill() })
	return p
}

// kill is kill -9.
func (p *proc) kill() {
	select {
	case <-p.exited:
		return
	default:
	}
	_ = p.cmd.Process.Kill()
	<-p.done
	p.done <- errors.New("killed")
}

// term sends SIGTERM and waits for a clean exit.
func (p *proc) term(t *testing.T) {
	t.Helper()
	p.waitServing(t)
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	if err := <-p.done; err != nil {
		t.Errorf("sluice run did not exit cleanly after SIGTERM: %v", err)
	}
	p.done <- nil
}

// waitServing waits until p answers on its admin address, or has exited. A
// process signalled earlier may not have installed its handler yet (the Go
// runtime is still starting) and dies of the signal; one that answers shuts
// down cleanly on SIGTERM.
func (p *proc) waitServing(t *testing.T) {
	t.Helper()
	waitFor(t, time.Minute, p.name+" to answer on its admin address", func() bool {
		select {
		case err := <-p.done:
			p.done <- err
			return true
		default:
		}
		resp, err := http.Get("http://" + p.admin + "/healthz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return true
	})
}

type prefixWriter struct {
	t    *testing.T
	name string
}

func (w prefixWriter) Write(b []byte) (int, error) {
	for _, line := range strings.Split(strings.TrimRight(string(b), "\n"), "\n") {
		w.t.Log(w.name + ": " + line)
	}
	return len(b), nil
}

// publishSome publishes the next n records of gen and returns how many it published.
func (s *stack) publishSome(t *testing.T, gen *loadgen.Generator, n int64) int64 {
	t.Helper()
	pub, err := producers.NewPublisher(producers.Brokers(s.kafka.Brokers()...))
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	rs, err := loadgen.Run(t.Context(), pub, gen, loadgen.RunOptions{Count: n})
	if err != nil {
		t.Fatalf("publish: %v", err)
	}
	return rs.Acked
}

// storedPayments counts the payment events the rollups hold now, or 0 while the
// server is briefly down (the local engine restarts after a client is killed
// mid-insert).
func (s *stack) storedPayments(t *testing.T) uint64 {
	var n uint64
	q := "SELECT sum(events) FROM `" + s.ch.Database + "`.`" + schemas.RollupTable("payments", s.cfg.Pipeline.Window) + "`"
	if err := s.ch.Conn(t).QueryRow(t.Context(), q).Scan(&n); err != nil {
		t.Logf("count stored payments: %v", err)
		return 0
	}
	return n
}

// withCH runs a ClickHouse read, retrying it while the local engine restarts: chDB's
// server mode can abort when a client goes away mid-query (a real ClickHouse does
// not), and testenv restarts it at once on the same data, so only the connection is
// lost. Any other error fails the test.
func withCH(t *testing.T, what string, fn func() error) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for attempt := 1; ; attempt++ {
		err := fn()
		if err == nil {
			return
		}
		if !connectionLost(err) || time.Now().After(deadline) {
			t.Fatalf("%s: %v", what, err)
		}
		t.Logf("%s: %v; retrying while the local engine restarts (attempt %d)", what, err, attempt)
		tm := time.NewTimer(250 * time.Millisecond)
		select {
		case <-tm.C:
		case <-t.Context().Done():
			t.Fatalf("%s: %v", what, err)
		}
	}
}

func connectionLost(err error) bool {
	if errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, io.EOF) {
		return true
	}
	msg := err.Error()
	for _, s := range []string{"connection reset", "connection refused", "failed to read packet", "broken pipe", "shutting down"} {
		if strings.Contains(msg, s) {
			return true
		}
	}
	return false
}

// freeAddr returns a loopback address whose port was free a moment ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// diagnose logs what a stuck run looks like, so a timeout explains itself: the
// group's lag per partition, whether ClickHouse answers and what it is running
// (system.processes), and each live process's /api/status and goroutines.
func (s *stack) diagnose(t *testing.T, serverRunning bool, procs ...*proc) {
	t.Helper()
	for _, p := range procs {
		select {
		case <-p.exited:
			t.Logf("diagnose: %s has exited: %v", p.name, p.cmd.ProcessState)
			continue
		default:
		}
		for _, path := range []string{"/api/status", "/debug/pprof/goroutine?debug=2"} {
			t.Logf("diagnose: %s %s:\n%s", p.name, path, fetchText("http://"+p.admin+path, 256<<10))
		}
	}
	defer s.logProcesses(t)
	lags, err := kadm.NewClient(s.kafka.Client(t)).Lag(t.Context(), s.cfg.Kafka.Group)
	if err != nil {
		t.Logf("diagnose: lag: %v", err)
	} else if l, ok := lags[s.cfg.Kafka.Group]; ok {
		t.Logf("diagnose: group state %q, members %d, total lag %d", l.State, len(l.Members), l.Lag.Total())
		for topic, ps := range l.Lag {
			for p, m := range ps {
				if m.Lag != 0 || m.Err != nil {
					member := "none"
					if m.Member != nil {
						member = m.Member.MemberID
					}
					t.Logf("diagnose: %s/%d lag %d (commit %d, end %d, member %s, err %v)", topic, p, m.Lag, m.Commit.At, m.End.Offset, member, m.Err)
				}
			}
		}
	}
	var one uint8
	err = s.ch.Conn(t).QueryRow(t.Context(), "SELECT 1").Scan(&one)
	t.Logf("diagnose: ClickHouse process running %v, answers %v (%v)", serverRunning, err == nil, err)
}

// fetchText returns up to max bytes of url's body, or what went wrong: for
// diagnostics, which must not fail the test themselves.
func fetchText(url string, max int64) string {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err.Error()
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err.Error()
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, max))
	if err != nil {
		return fmt.Sprintf("%s (after %d bytes)", err, len(b))
	}
	return resp.Status + "\n" + string(b)
}

// logProcesses logs the queries ClickHouse is running.
func (s *stack) logProcesses(t *testing.T) {
	rows, err := s.ch.Conn(t).Query(t.Context(), "SELECT query_id, user, elapsed, read_rows, written_rows, memory_usage, substring(query, 1, 300) FROM system.processes")
	if err != nil {
		t.Logf("diagnose: system.processes: %v", err)
		return
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		var id, user, q string
		var elapsed float64
		var read, written uint64
		var mem int64
		if err := rows.Scan(&id, &user, &elapsed, &read, &written, &mem, &q); err != nil {
			t.Logf("diagnose: system.processes: %v", err)
			return
		}
		n++
		t.Logf("diagnose: ClickHouse query %s (%s) running %.1fs, read %d, written %d rows, %d bytes: %s", id, user, elapsed, read, written, mem, q)
	}
	t.Logf("diagnose: ClickHouse runs %d queries (err %v)", n, rows.Err())
}

// background is a stream being published while a test disturbs Sluice.
type background struct {
	done  chan struct{}
	truth *loadgen.Truth
	err   error
}

// publishInBackground publishes gen's whole stream at rate events/s through
// wrap(publisher) (the publisher itself when wrap is nil) until it ends or the test
// does; the test's cleanup stops and waits for it.
func (s *stack) publishInBackground(t *testing.T, gen *loadgen.Generator, rate float64, wrap func(*producers.Publisher) loadgen.Sink) *background {
	t.Helper()
	b := &background{done: make(chan struct{})}
	ctx, cancel := context.WithCancel(t.Context())
	go func() {
		defer close(b.done)
		pub, err := producers.NewPublisher(producers.Brokers(s.kafka.Brokers()...))
		if err != nil {
			b.err = err
			return
		}
		defer pub.Close()
		var sink loadgen.Sink = pub
		if wrap != nil {
			sink = wrap(pub)
		}
		if _, b.err = loadgen.Run(ctx, sink, gen, loadgen.RunOptions{Rate: rate}); b.err == nil {
			b.truth = gen.Truth()
		}
	}()
	t.Cleanup(func() { cancel(); <-b.done })
	return b
}

// over reports whether the whole stream has been published (or publishing failed).
func (b *background) over() bool {
	select {
	case <-b.done:
		return true
	default:
		return false
	}
}

// wait waits for the stream's end and returns its ground truth; a failed publish
// fails the test.
func (b *background) wait(t *testing.T) *loadgen.Truth {
	t.Helper()
	<-b.done
	if b.err != nil {
		t.Fatalf("publish: %v", b.err)
	}
	return b.truth
}
