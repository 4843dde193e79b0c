package app

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/sluicehq/sluice/consumers"
	"github.com/sluicehq/sluice/internal/admin"
	"github.com/sluicehq/sluice/internal/config"
	"github.com/sluicehq/sluice/internal/metrics"
	"github.com/sluicehq/sluice/schemas"
)

// lagInterval is how often the consumer lag of the owned partitions is polled.
const lagInterval = 5 * time.Second

// recentWindow is the span of Store calls the status page's latency covers.
const recentWindow = 10 * time.Second

// errorRing is how many recent warnings and errors the status page keeps.
const errorRing = 20

// HTTPAddr is the bound address of the admin listener (/metrics, /healthz, /readyz,
// the status page), or "" when SLUICE_HTTP_ADDR is empty.
func (in *Instance) HTTPAddr() string {
	if in.admin == nil {
		return ""
	}
	return in.admin.Addr()
}

// rollupTables are the rollup tables c writes, for the compression-ratio metric.
func rollupTables(c config.Config) []string {
	return []string{schemas.RollupTable("payments", c.Pipeline.Window), schemas.RollupTable("shipments", c.Pipeline.Window)}
}

// newMetrics builds the instance's metrics over its counters and its group's queues
// (read at scrape time, once in.group is set).
func (in *Instance) newMetrics() *metrics.Metrics {
	return metrics.New(metrics.Sources{
		Stats:  in.stats,
		Queues: in.queues,
		Logger: in.log.With("component", "metrics"),
	})
}

func (in *Instance) queues() []consumers.QueueState {
	if in.group == nil {
		return nil
	}
	return in.group.Queues()
}

// startAdmin starts the admin listener when c says so.
func (in *Instance) startAdmin() error {
	c := in.cfg
	if c.HTTP.Addr == "" {
		return nil
	}
	srv, err := admin.Start(admin.Options{
		Addr:     c.HTTP.Addr,
		Pprof:    c.HTTP.Pprof,
		Metrics:  in.metrics.Handler(),
		Ready:    in.ready,
		Snapshot: in.snapshot,
		Errors:   in.errs,
		// Never secrets: the status page is unauthenticated.
		Info: map[string]string{
			"group":    c.Kafka.Group,
			"topics":   strings.Join(c.Kafka.Topics(), ","),
			"database": c.ClickHouse.Database,
		},
		Logger: in.log.With("component", "admin"),
	})
	if err != nil {
		return err
	}
	in.admin = srv
	in.log.Info("admin listening", "addr", srv.Addr(), "pprof", c.HTTP.Pprof)
	return nil
}

// stopAdmin stops the admin listener, if any.
func (in *Instance) stopAdmin() {
	if in.admin == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = in.admin.Close(ctx)
}

// ready is /readyz: the member has joined the group and ClickHouse answers.
func (in *Instance) ready(ctx context.Context) error {
	switch {
	case in.stopping.Load():
		return errors.New("shutting down")
	case !in.group.Joined():
		return errors.New("not joined the consumer group yet")
	}
	// A ledger lookup of a partition that cannot exist: one round trip that also
	// proves the database and Sluice's own table are there.
	if _, err := in.ch.Ranges(ctx, "", "", -1, math.MaxInt64); err != nil {
		return fmt.Errorf("ClickHouse does not answer: %w", err)
	}
	return nil
}

// snapshot is the status page's view of the instance.
func (in *Instance) snapshot() admin.Snapshot {
	s := in.stats
	snap := admin.Snapshot{
		Records: s.Records.Load(), Valid: s.Valid.Load(), Invalid: s.Invalid.Load(),
		Duplicates: s.Duplicates.Load(), Rows: s.Rows.Load(), Flushes: s.Flushes.Load(),
		Retries: s.StoreRetries.Load(),
	}
	snap.InsertP50, snap.InsertP99, snap.Inserts = in.metrics.RecentInsertLatency(recentWindow)
	lag, at := in.metrics.Lag()
	snap.LagKnown = !at.IsZero()
	for _, q := range in.queues() {
		p := admin.Partition{Topic: q.Topic, Partition: q.Partition, Queued: q.Queued, Paused: q.Paused, Lag: -1}
		if n, ok := lag[metrics.TopicPartition{Topic: q.Topic, Partition: q.Partition}]; ok {
			p.Lag = n
			snap.Lag += n
		}
		snap.Partitions = append(snap.Partitions, p)
	}
	return snap
}

// lag returns the committed lag of the partitions the instance owns now, over the
// dead-letter client's connections (which outlive the consumer's).
func (in *Instance) lag(ctx context.Context) (map[metrics.TopicPartition]int64, error) {
	own := in.queues()
	out := make(map[metrics.TopicPartition]int64, len(own))
	if len(own) == 0 {
		return out, nil
	}
	lags, err := kadm.NewClient(in.dlqClient).Lag(ctx, in.cfg.Kafka.Group)
	if err != nil {
		return nil, err
	}
	l, ok := lags[in.cfg.Kafka.Group]
	if !ok {
		return nil, fmt.Errorf("group %s not described", in.cfg.Kafka.Group)
	}
	if err := l.Error(); err != nil {
		return nil, err
	}
	for _, q := range own {
		m, ok := l.Lag.Lookup(q.Topic, q.Partition)
		switch {
		case !ok:
			// No commit yet and not listed: unknown, left out.
		case m.Err != nil:
			return nil, m.Err
		case m.Lag >= 0:
			out[metrics.TopicPartition{Topic: q.Topic, Partition: q.Partition}] = m.Lag
		}
	}
	return out, nil
}
