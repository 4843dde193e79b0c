package bench

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	ch "github.com/ClickHouse/clickhouse-go/v2"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicehq/sluice/internal/app"
	"github.com/sluicehq/sluice/internal/config"
	"github.com/sluicehq/sluice/internal/dev/verify"
)

// Peer is the peer ingester measured beside Sluice in every run: clickhouse_sinker
// (housepower), built by ../shared/peers/build.sh. It consumes the same preloaded
// topic from the same kfake broker into its own raw payments table on the same
// ClickHouse, configured as ../shared/peers/run-sinker.sh configures it.
type Peer struct {
	// Path is the clickhouse_sinker binary.
	Path string
	// Output receives its stdout and stderr; nil discards them.
	Output io.Writer
	// Procs is its GOMAXPROCS; 0 leaves Go's default.
	Procs int
}

// PeerResult is one run of the peer, measured as Sluice's process is.
type PeerResult struct {
	Events        int           // as preloaded
	Elapsed       time.Duration // its start until its group committed every record
	CPU           time.Duration // its user+sys, start-up included
	ClickHouseCPU time.Duration // the ClickHouse child's meanwhile; 0 if unknown
	PeakRSS, HWM  uint64        // its VmRSS sampled every 100 ms, and VmHWM, bytes
	Rows          int64         // rows in its table after it stopped
	Parts         int           // insert parts (level 0) it created (insertParts); -1 if unknown
	Lag           int64         // its group's lag after it stopped; -1 if unknown
	Diff          []string      // its raw rows against the ground truth; empty means exact
	// ServerEvents and ActiveParts are Result's, over the peer's run and in its
	// database.
	ServerEvents, ActiveParts map[string]int64
	db                        string // its database
}

// EventsPerSec is the peer's throughput.
func (p PeerResult) EventsPerSec() float64 { return perSec(float64(p.Events), p.Elapsed) }

// CPUPerMillion is the peer's CPU seconds per million events.
func (p PeerResult) CPUPerMillion() float64 { return p.CPU.Seconds() / (float64(p.Events) / 1e6) }

// ClickHouseCPUPerMillion is the ClickHouse child's CPU seconds per million events
// while the peer ran.
func (p PeerResult) ClickHouseCPUPerMillion() float64 {
	return p.ClickHouseCPU.Seconds() / (float64(p.Events) / 1e6)
}

// Exact reports whether the peer stored every event once and committed everything.
func (p PeerResult) Exact() bool { return len(p.Diff) == 0 && p.Lag == 0 }

// The peer's configuration: that of ../shared/peers/run-sinker.sh (its README: up to
// 262,144 rows per table per batch, a flush every second, gjson, columns read from
// the table).
const (
	peerBufferSize    = 262144
	peerFlushInterval = 1 // seconds
)

// peerConfig is the peer's hjson configuration for one run.
func peerConfig(brokers []string, topic, group, chAddr, db, table string) string {
	host, port, _ := strings.Cut(chAddr, ":")
	return fmt.Sprintf(`{
  clickhouse: { hosts: [[ %q ]], port: %s, db: %q, username: "default", password: "", retryTimes: 0 }
  kafka: { brokers: %q }
  task: {
    name: "peer"
    topic: %q
    consumerGroup: %q
    earliest: true
    parser: "gjson"
    tableName: %q
    autoSchema: true
    bufferSize: %d
    flushInterval: %d
  }
  logLevel: "warn"
}
`, host, port, db, strings.Join(brokers, ","), topic, group, table, peerBufferSize, peerFlushInterval)
}

// peerRun runs the peer once over the preloaded topic into a fresh database holding
// Sluice's own raw payments table (same columns, engine and order; the peer fills the
// columns named like JSON fields and leaves Sluice's _topic, _partition, _offset and
// _ingested_at at their defaults), measured as sluiceProcess measures Sluice; then it
// stops the peer and checks its rows against the ground truth.
func peerRun(ctx context.Context, run int, opts Options, r *rig, conn ch.Conn) (*PeerResult, error) {
	env := runEnv(opts, r, "peer_r"+strconv.Itoa(run), Raw)
	cfg, err := config.Load(env)
	if err != nil {
		return nil, fmt.Errorf("peer: configuration: %w", err)
	}
	if err := app.Migrate(ctx, cfg); err != nil {
		return nil, fmt.Errorf("peer: %w", err)
	}
	db, topic, group := cfg.ClickHouse.Database, cfg.Kafka.PaymentsTopic, "peer-bench-r"+strconv.Itoa(run)
	dir, err := os.MkdirTemp("", "sluice-bench-peer-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	cfgFile := filepath.Join(dir, "cfg.hjson")
	if err := os.WriteFile(cfgFile, []byte(peerConfig(r.brokers, topic, group, r.srv.Addr(), db, "payments")), 0o600); err != nil {
		return nil, err
	}
	admCl, err := kgo.NewClient(kgo.SeedBrokers(r.brokers...))
	if err != nil {
		return nil, err
	}
	defer admCl.Close()
	adm := kadm.NewClient(admCl)

	start := func() (*child, error) {
		cmd := exec.Command(opts.Peer.Path, "--local-cfg-file", cfgFile, "--log-paths", "stdout", "--http-port", "0")
		cmd.Dir = dir // where it would write anything else
		cmd.Env = withProcs(os.Environ(), opts.Peer.Procs)
		return startChild(cmd, opts.Peer.Output)
	}
	first := fmt.Sprintf("SELECT count() FROM `%s`.`payments`", db)
	parts0, events0 := insertParts(ctx, conn), readEvents(ctx, conn, opts)
	c, m, err := measureChild(ctx, start, adm, group, topic, int64(opts.Events), r.srv, conn, first, nil)
	if c != nil {
		defer c.kill()
	}
	if err != nil {
		return nil, fmt.Errorf("peer: %w", err)
	}
	res := &PeerResult{Events: opts.Events, Elapsed: m.elapsed, CPU: m.cpu, ClickHouseCPU: m.clickHouseCPU, PeakRSS: m.peakRSS, HWM: m.hwm, Lag: -1, db: db}
	// Its exit status is not the point: what it stored and committed is checked
	// below (term kills it if it does not exit in time).
	_ = c.term(20 * time.Second)
	var rows uint64
	if err := conn.QueryRow(ctx, first).Scan(&rows); err != nil {
		return nil, fmt.Errorf("peer: %w", err)
	}
	res.Rows = int64(rows)
	res.Parts = int(delta(parts0, insertParts(ctx, conn)))
	res.ServerEvents = eventDeltas(events0, readEvents(ctx, conn, opts))
	stored, err := verify.ReadFromRaw(ctx, conn, db, cfg.Pipeline.Window, topic, "")
	if err != nil {
		return nil, fmt.Errorf("peer: %w", err)
	}
	res.Diff = stored.Diff(r.truth, 10, true, false)
	if res.Lag, err = groupLag(ctx, adm, group); err != nil {
		return nil, fmt.Errorf("peer: %w", err)
	}
	if res.Lag != 0 {
		res.Diff = append(res.Diff, fmt.Sprintf("group %s: lag %d after it stopped, want 0", group, res.Lag))
	}
	return res, nil
}
