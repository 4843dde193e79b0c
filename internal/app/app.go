package app

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicehq/sluice/consumers"
	"github.com/sluicehq/sluice/internal/config"
	"github.com/sluicehq/sluice/pipeline"
	"github.com/sluicehq/sluice/pipeline/clickhouse"
	"github.com/sluicehq/sluice/producers"
	"github.com/sluicehq/sluice/schemas"
)

// Instance is one running Sluice member of the consumer group.
type Instance struct {
	cfg   config.Config
	log   *slog.Logger
	ch    *clickhouse.Client
	group *consumers.Group
	pipe  *pipeline.Pipeline
	stats *pipeline.Stats

	dlqClient *kgo.Client
}

// kafkaOpts are the client options every Kafka client of c shares (security lives
// here once it is configurable).
func kafkaOpts(c config.Config) []kgo.Opt { return nil }

// Migrations returns every statement `sluice migrate` runs for c, in order.
func Migrations(c config.Config) []string {
	stmts := schemas.DDL(schemas.DDLOptions{
		Database:     c.ClickHouse.Database,
		Window:       c.Pipeline.Window,
		DedupWindow:  c.ClickHouse.DedupWindow,
		RawPayments:  c.Pipeline.RawPayments,
		RawShipments: c.Pipeline.RawShipments,
	})
	return append(stmts, clickhouse.DDL(clickhouse.DDLOptions{
		Database:    c.ClickHouse.Database,
		DedupWindow: c.ClickHouse.DedupWindow,
		Horizon:     c.Pipeline.DedupHorizon,
	})...)
}

// OpenClickHouse connects to the ClickHouse servers of c.
func OpenClickHouse(ctx context.Context, c config.Config) (*clickhouse.Client, error) {
	return clickhouse.Open(ctx, clickhouse.Options{
		Addrs:       c.ClickHouse.Addrs,
		Database:    c.ClickHouse.Database,
		User:        c.ClickHouse.User,
		Password:    c.ClickHouse.Password.Reveal(),
		DedupWindow: c.ClickHouse.DedupWindow,
		MaxConns:    2*c.Pipeline.Workers + 4,
	})
}

// Migrate applies the migrations of c; it is idempotent and safe to run from several
// instances at once.
func Migrate(ctx context.Context, c config.Config) error {
	ch, err := OpenClickHouse(ctx, c)
	if err != nil {
		return err
	}
	defer ch.Close()
	return ch.Migrate(ctx, Migrations(c))
}

// New connects to ClickHouse (migrating it when c says so) and prepares the consumer
// group. Nothing is consumed until Run.
func New(ctx context.Context, c config.Config, log *slog.Logger) (*Instance, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	// ClickHouse may still be starting (or down): wait for it, as for a topic that
	// does not exist yet, instead of crash-looping. Ctrl-C ends the wait.
	var ch *clickhouse.Client
	wait := 500 * time.Millisecond
	for attempt := 1; ; attempt++ {
		var err error
		ch, err = OpenClickHouse(ctx, c)
		if err == nil && c.ClickHouse.Migrate {
			if err = ch.Migrate(ctx, Migrations(c)); err != nil {
				ch.Close()
			}
		}
		if err == nil {
			break
		}
		if clickhouse.IsPermanent(err) || ctx.Err() != nil {
			return nil, err
		}
		log.Warn("ClickHouse not ready; retrying", "attempt", attempt, "backoff", wait, "err", err)
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return nil, err
		}
		wait = min(2*wait, 10*time.Second)
	}
	in := &Instance{cfg: c, log: log, ch: ch, stats: new(pipeline.Stats)}

	p := c.Pipeline
	topics := map[string]func(schemas.Options) schemas.Batch{}
	raw := map[string]bool{}
	if t := c.Kafka.PaymentsTopic; t != "" {
		topics[t] = schemas.NewPaymentBatch
		raw[t] = p.RawPayments
	}
	if t := c.Kafka.ShipmentsTopic; t != "" {
		topics[t] = schemas.NewShipmentBatch
		raw[t] = p.RawShipments
	}
	// Raw rows are switched per topic: wrap each constructor with its own setting.
	for t, mk := range topics {
		on := raw[t]
		topics[t] = func(o schemas.Options) schemas.Batch { o.Raw = on; return mk(o) }
	}

	// Dead letters go out on their own client: produce traffic never waits behind
	// fetches, and the client exists before the group starts joining (which it does
	// as soon as the consumer client is created).
	dlqClient, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(c.Kafka.Brokers...)}, kafkaOpts(c)...)...)
	if err != nil {
		ch.Close()
		return nil, fmt.Errorf("kafka producer: %w", err)
	}
	in.dlqClient = dlqClient
	in.pipe = pipeline.New(pipeline.Options{
		Group:  c.Kafka.Group,
		Topics: topics,
		Batch: schemas.Options{
			Window: p.Window,
			Limits: schemas.Limits{
				MaxRecordBytes:     p.MaxRecordBytes,
				MaxStringBytes:     p.MaxStringBytes,
				MaxMetadataEntries: p.MaxMetadataEntries,
				MaxLateness:        p.MaxLateness,
				MaxClockSkew:       p.MaxClockSkew,
			},
		},
		FlushInterval: p.FlushInterval,
		MaxRows:       p.BatchMaxRows,
		MaxBytes:      int(p.BatchMaxBytes),
		DedupHorizon:  p.DedupHorizon,
		AtLeastOnce:   !p.ExactlyOnce,
		Workers:       p.Workers,
	}, pipeline.Deps{
		Sink:    ch,
		Ledger:  ch,
		SeenIDs: ch,
		DLQ:     producers.NewDeadLetters(dlqClient, c.Kafka.DLQTopic, producers.ConsumerGroup(c.Kafka.Group)),
		Logger:  log.With("component", "pipeline"),
		Stats:   in.stats,
	})

	g, err := consumers.New(consumers.Options{
		Brokers:      c.Kafka.Brokers,
		Group:        c.Kafka.Group,
		Topics:       c.Kafka.Topics(),
		StartLatest:  c.Kafka.Start == config.StartLatest,
		DrainTimeout: c.ShutdownTimeout * 2 / 3,
		Logger:       log,
		ClientOpts: append([]kgo.Opt{
			kgo.SessionTimeout(c.Kafka.SessionTimeout),
			kgo.RebalanceTimeout(c.Kafka.RebalanceTimeout),
			kgo.FetchMaxPartitionBytes(int32(c.Kafka.FetchMaxPartitionBytes)),
		}, kafkaOpts(c)...),
	}, func(topic string, partition int32) consumers.Worker {
		if w := in.pipe.Worker(topic, partition); w != nil {
			return w
		}
		return nil
	})
	if err != nil {
		dlqClient.Close()
		ch.Close()
		return nil, err
	}
	in.group = g
	return in, nil
}

// Stats are the instance's pipeline counters.
func (in *Instance) Stats() *pipeline.Stats { return in.stats }

// Assigned is the number of partitions the instance owns now.
func (in *Instance) Assigned() int { return in.group.Assigned() }

// Fetched is the number of records read from Kafka and handed to the pipeline.
func (in *Instance) Fetched() int64 { return in.group.Fetched() }

// Run consumes until ctx is done, then drains, flushes, commits and leaves the group.
// It returns nil after a clean shutdown.
func (in *Instance) Run(ctx context.Context) error {
	defer in.ch.Close()
	// Closed after the group: the last dead letters are flushed before the final
	// commit, which happens inside group.Run.
	defer in.dlqClient.Close()
	in.log.Info("sluice running", "group", in.cfg.Kafka.Group, "topics", in.cfg.Kafka.Topics(),
		"clickhouse", in.cfg.ClickHouse.Addrs, "database", in.cfg.ClickHouse.Database)
	start := time.Now()
	err := in.group.Run(ctx)
	s := in.stats
	in.log.Info("sluice stopped", "after", time.Since(start).Round(time.Millisecond),
		"records", s.Records.Load(), "valid", s.Valid.Load(), "dead_lettered", s.Invalid.Load(),
		"duplicates", s.Duplicates.Load(), "rows", s.Rows.Load(), "flushes", s.Flushes.Load())
	if err != nil {
		return fmt.Errorf("sluice: %w", err)
	}
	return nil
}
