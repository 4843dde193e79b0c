package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicehq/sluice/consumers"
	"github.com/sluicehq/sluice/internal/admin"
	"github.com/sluicehq/sluice/internal/config"
	"github.com/sluicehq/sluice/internal/membudget"
	"github.com/sluicehq/sluice/internal/metrics"
	"github.com/sluicehq/sluice/internal/tracing"
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
	// types are the event types the instance consumes.
	types []*schemas.EventType

	dlqClient *kgo.Client
	tracing   *tracing.Provider // see tracing.go
	// memory is the budget the fetch queues, batches and duplicate filters share
	// (SLUICE_MEMORY_LIMIT); memoryFrom says where its size came from.
	memory     *membudget.Budget
	memoryFrom string

	// Observability: metrics, the admin listener (nil when SLUICE_HTTP_ADDR is
	// empty) and the recent warnings it shows; see observe.go.
	metrics  *metrics.Metrics
	admin    *admin.Server
	errs     *admin.ErrorLog
	stopping atomic.Bool // Run's context is done: not ready any more
	// lagRefresh asks the lag poller for a poll now (after a commit or an
	// assignment); a send that finds it full is one already pending.
	lagRefresh chan struct{}
	// membersRefresh asks for the group's members now (after an assignment).
	membersRefresh chan struct{}
	// topicWatch holds the source topics found missing (see topics.go).
	topicWatch topicWatch

	// The admin listener serves from the start of New: up is closed once the
	// fields above it are set, and until then /readyz reports starting.
	up       chan struct{}
	starting waiting // what New waits for (Kafka, ClickHouse, migrations)
	joining  waiting // the group join, once connected
	chDown   waiting // ClickHouse not answering, at start-up or later
	members  members // the group's members, polled by Run
}

// OpenClickHouse connects to the ClickHouse servers of c, over TLS when
// SLUICE_CLICKHOUSE_TLS says so. Refused credentials are a permanent error
// (clickhouse.IsPermanent) that names the user and never contains the password; so
// is an HTTP port given as SLUICE_CLICKHOUSE_ADDR, which says to use the native one.
func OpenClickHouse(ctx context.Context, c config.Config) (*clickhouse.Client, error) {
	tlsCfg, err := c.ClickHouse.TLSConfig()
	if err != nil {
		return nil, fmt.Errorf("clickhouse: %w", err)
	}
	cl, err := clickhouse.Open(ctx, clickhouse.Options{
		Addrs:    c.ClickHouse.Addrs,
		Database: c.ClickHouse.Database,
		User:     c.ClickHouse.User,
		Password: c.ClickHouse.Password.Reveal(),
		MaxConns: 2*c.Pipeline.Workers + 4,
		TLS:      tlsCfg,
		Compress: c.ClickHouse.Compress,
	})
	return cl, explainClickHouse(err, c)
}

// New serves the admin endpoints at once (so /healthz answers and /readyz says what
// start-up waits for from the first second), then connects to ClickHouse (migrating
// it when c says so) and Kafka and prepares the consumer group. Nothing is consumed
// until Run. On an error the admin listener is closed again. A bad schema document
// stops start-up before anything is served or connected.
func New(ctx context.Context, c config.Config, log *slog.Logger) (*Instance, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	// Warnings and errors also go to the status page's ring.
	errs := admin.NewErrorLog(errorRing)
	log = slog.New(errs.Handler(log.Handler()))
	types, err := EventTypes(c)
	if err != nil {
		return nil, err
	}
	in := &Instance{cfg: c, log: log, errs: errs, stats: new(pipeline.Stats), types: types, up: make(chan struct{}),
		lagRefresh: make(chan struct{}, 1), membersRefresh: make(chan struct{}, 1)}
	total, from := membudget.Resolve(int64(c.MemoryLimit), "/")
	in.memory, in.memoryFrom = membudget.New(total), from
	for _, t := range topicsOf(types) {
		in.stats.Topic(t) // every topic's series exists from the start, at 0
	}
	if err := in.startTracing(ctx); err != nil {
		return nil, err
	}
	in.metrics = in.newMetrics()
	if err := in.startAdmin(); err != nil {
		in.stopTracing()
		return nil, err
	}
	if err := in.connect(ctx); err != nil {
		in.stopAdmin()
		in.stopTracing()
		return nil, err
	}
	in.starting.clear()
	close(in.up)
	return in, nil
}

// connect is New's start-up: ClickHouse and its migrations, Kafka, the dead-letter
// producer, the pipeline and the consumer group, each waited for while unreachable.
func (in *Instance) connect(ctx context.Context) error {
	c, log, types := in.cfg, in.log, in.types
	var err error
	// ClickHouse may still be starting (or down): wait for it, as for a topic that
	// does not exist yet, instead of crash-looping. Ctrl-C ends the wait.
	var ch *clickhouse.Client
	chAt := "ClickHouse at " + strings.Join(c.ClickHouse.Addrs, ", ")
	in.starting.set("waiting for "+chAt, nil)
	wait := 500 * time.Millisecond
	for attempt := 1; ; attempt++ {
		ch, err = OpenClickHouse(ctx, c)
		if err == nil {
			in.chDown.clear()
		}
		if err == nil && c.ClickHouse.Migrate {
			if err = migrate(ctx, ch, c, types); err != nil {
				ch.Close()
				in.starting.set("waiting for the migrations on "+chAt, err)
			}
		} else if err != nil {
			in.starting.set("waiting for "+chAt, err)
			in.chDown.set(chAt+" does not answer", err)
		}
		if err == nil && !c.ClickHouse.Migrate {
			if err = checkMigrated(ctx, ch, c, types); err != nil {
				ch.Close()
			}
		}
		if err == nil {
			break
		}
		if sc := (*SchemaChangeError)(nil); errors.As(err, &sc) {
			return err
		}
		if clickhouse.IsAuthFailure(err) {
			return fmt.Errorf("%w: the server refused the credentials; check SLUICE_CLICKHOUSE_USER=%q and SLUICE_CLICKHOUSE_PASSWORD", err, c.ClickHouse.User)
		}
		if isTLSError(err) {
			return fmt.Errorf("%w: TLS failed; check SLUICE_CLICKHOUSE_TLS (is this the secure port?), SLUICE_CLICKHOUSE_TLS_CA_FILE and SLUICE_CLICKHOUSE_TLS_SERVER_NAME", err)
		}
		if clickhouse.IsPermanent(err) || ctx.Err() != nil {
			return err
		}
		log.Warn("ClickHouse not ready; retrying", "attempt", attempt, "backoff", wait, "err", err)
		if !sleep(ctx, wait) {
			return err
		}
		wait = min(2*wait, 10*time.Second)
	}
	in.ch = ch

	p := c.Pipeline
	topics := map[string]func(schemas.Options) schemas.Batch{}
	rawIDs := map[string]pipeline.RawIDs{}
	for _, t := range types {
		// Each type stores raw rows as it says (SLUICE_RAW_* already applied).
		topics[t.Topic()] = func(o schemas.Options) schemas.Batch { o.Raw = t.Raw(); return t.NewBatch(o) }
		if t.Raw() && t.EventID() != "" && pipeline.RawRowsKeepIDs(t.RawTTL(), p.DedupHorizon, p.MaxLateness) {
			// Its raw rows hold the event ids: no sluice_event_ids rows.
			rawIDs[t.Topic()] = pipeline.RawIDs{Table: t.Table(), Column: t.EventID()}
		}
	}

	// Dead letters go out on their own client: produce traffic never waits behind
	// fetches, and the client exists before the group starts joining (which it does
	// as soon as the consumer client is created).
	kopts, err := KafkaOpts(c)
	if err != nil {
		ch.Close()
		return err
	}
	if c.Kafka.SASLMechanism == config.SASLPlain && !c.Kafka.TLS {
		log.Warn("SASL PLAIN without TLS sends the Kafka password in clear text; set SLUICE_KAFKA_TLS=true")
	}
	// Clients connect lazily: talk to a broker now, so refused credentials or an
	// untrusted certificate stop start-up instead of being retried forever.
	kafkaAt := "waiting for Kafka at " + strings.Join(c.Kafka.Brokers, ", ")
	in.starting.set(kafkaAt, nil)
	if err := verifyKafka(ctx, kopts, c, log, func(err error) { in.starting.set(kafkaAt, err) }); err != nil {
		ch.Close()
		return err
	}
	dlqLimit, err := prepareDeadLetterTopic(ctx, kopts, c, log)
	if err != nil {
		ch.Close()
		return err
	}
	dlqClient, err := kgo.NewClient(append(slices.Clip(kopts), kgo.ProducerBatchMaxBytes(int32(dlqLimit)))...)
	if err != nil {
		ch.Close()
		return fmt.Errorf("kafka producer: %w", err)
	}
	in.dlqClient = dlqClient
	listed := listSources(ctx, dlqClient, topicsOf(types), log)
	sources := partitionsOf(listed)
	dedupMax := membudget.DedupCap(in.memory.Total(), sources, p.DedupMaxIDs)
	in.memory.SetDedupCap(dedupMax)
	log.Info("producer-duplicate filter", "max_ids_per_partition", dedupMax, "horizon", p.DedupHorizon)
	if p.ExactlyOnce {
		err := in.untilUp(ctx, "recording the source topics' ids in "+chAt, func() error {
			return claimTopics(ctx, dlqClient, ch, topicsOf(types), listed, log)
		})
		if err != nil {
			dlqClient.Close()
			ch.Close()
			return err
		}
	}
	in.pipe = pipeline.New(pipeline.Options{
		Group:  c.Kafka.Group,
		Topics: topics,
		RawIDs: rawIDs,
		Batch: schemas.Options{
			Window:      p.Window,
			SkipRollups: !p.Rollups,
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
		DedupMaxIDs:   dedupMax,
		AtLeastOnce:   !p.ExactlyOnce,
		AllowReingest: p.AllowReingest,
		Workers:       p.Workers,
	}, pipeline.Deps{
		Sink:    in.metrics.Sink(ch, rollupTableNames(types, p.Window)...),
		Repair:  repairer(c, ch),
		Ledger:  ch,
		SeenIDs: ch,
		DLQ: producers.NewDeadLetters(dlqClient, c.Kafka.DLQTopic, producers.ConsumerGroup(c.Kafka.Group),
			producers.MaxRecordBytes(dlqLimit)),
		Logger:    log.With("component", "pipeline"),
		Stats:     in.stats,
		Permanent: clickhouse.IsPermanent,
		Observer:  in.metrics,
		Tracer:    in.tracing.Tracer(),
		Memory:    in.memory,
	})

	// Fetches are sized by the memory their records take decoded, the unit of the
	// fetch pool; the configured partition size caps them in bytes as fetched.
	fetch := consumers.FetchSizes{
		Response:     membudget.ResponseSize(in.memory.Total(), sources),
		Partition:    membudget.FetchSize(in.memory.Total(), sources),
		MaxPartition: int32(c.Kafka.FetchMaxPartitionBytes),
	}
	g, err := consumers.New(consumers.Options{
		Brokers:        c.Kafka.Brokers,
		Group:          c.Kafka.Group,
		Topics:         topicsOf(types),
		StartLatest:    c.Kafka.Start == config.StartLatest,
		DrainTimeout:   c.ShutdownTimeout * 2 / 3, // the whole shutdown takes at most 1.4 × this
		RevokeTimeout:  revokeTimeout(c.Kafka),
		QueueDepth:     c.Kafka.QueueDepth,
		Memory:         in.memory,
		Fetch:          fetch,
		CommitInterval: c.Kafka.CommitInterval,
		CaughtUp:       in.refreshLag, // a drained backlog is committed at once; its lag changed
		InstanceID:     c.Kafka.InstanceID,
		ConnOpts:       kopts,
		Logger:         log,
		ClientOpts: append([]kgo.Opt{
			kgo.WithHooks(in.metrics.KafkaHooks()...),
			kgo.SessionTimeout(c.Kafka.SessionTimeout),
			kgo.RebalanceTimeout(c.Kafka.RebalanceTimeout),
			kgo.HeartbeatInterval(c.Kafka.HeartbeatInterval),
			kgo.FetchMaxWait(c.Kafka.FetchMaxWait),
			kgo.ClientID(clientID()),
			kgo.AutoCommitCallback(in.committed),
		}, kopts...),
	}, func(topic string, partition int32) consumers.Worker {
		in.refreshLag() // a new partition's lag is unknown until polled
		poke(in.membersRefresh)
		if w := in.pipe.Worker(topic, partition); w != nil {
			return w
		}
		return nil
	})
	if err != nil {
		dlqClient.Close()
		ch.Close()
		return err
	}
	in.group = g
	in.joining.set("waiting to join the consumer group "+strconv.Quote(c.Kafka.Group), nil)
	return nil
}

// untilUp calls fn until it succeeds, backing off between attempts while its
// error is not permanent: a ClickHouse or Kafka restart during start-up is waited
// for, as an unreachable server is before it. The wait shows on /readyz as what.
func (in *Instance) untilUp(ctx context.Context, what string, fn func() error) error {
	wait := 500 * time.Millisecond
	for attempt := 1; ; attempt++ {
		err := fn()
		if err == nil {
			return nil
		}
		if clickhouse.IsPermanent(err) || ctx.Err() != nil {
			return err
		}
		in.starting.set(what, err)
		in.log.Warn("start-up step failed; retrying", "step", what, "attempt", attempt, "backoff", wait, "err", err)
		if !sleep(ctx, wait) {
			return err
		}
		wait = min(2*wait, 10*time.Second)
	}
}

// listSources reads the source topics' partitions and ids now (through cl), which
// the memory budget sizes fetches and duplicate filters by and claimTopics
// records; nil if they cannot be read (logged: the budget then leaves
// SLUICE_KAFKA_FETCH_MAX_PARTITION_BYTES and SLUICE_DEDUP_MAX_IDS as they are).
func listSources(ctx context.Context, cl *kgo.Client, topics []string, log *slog.Logger) kadm.TopicDetails {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	details, err := kadm.NewClient(cl).ListTopics(ctx, topics...)
	if err != nil {
		log.Warn("counting the source topics' partitions to divide the memory budget; using SLUICE_KAFKA_FETCH_MAX_PARTITION_BYTES and SLUICE_DEDUP_MAX_IDS as they are", "err", err)
		return nil
	}
	return details
}

// partitionsOf counts the partitions of the listed topics (a topic missing or
// unreadable counts none). Partitions added later are not counted until the
// instance restarts.
func partitionsOf(listed kadm.TopicDetails) int {
	n := 0
	for _, d := range listed {
		if d.Err == nil {
			n += len(d.Partitions)
		}
	}
	return n
}

// Memory is the memory budget the instance's partitions share; `sluice run` sets
// the Go soft memory limit from it.
func (in *Instance) Memory() *membudget.Budget { return in.memory }

// MemoryFrom says where the memory budget's size came from: SLUICE_MEMORY_LIMIT,
// the cgroup memory limit, or the default.
func (in *Instance) MemoryFrom() string { return in.memoryFrom }

// Stats are the instance's pipeline counters.
func (in *Instance) Stats() *pipeline.Stats { return in.stats }

// Assigned is the number of partitions the instance owns now.
func (in *Instance) Assigned() int { return in.group.Assigned() }

// Queues reports the input queue of every partition the instance owns now.
func (in *Instance) Queues() []consumers.QueueState { return in.group.Queues() }

// Fetched is the number of records read from Kafka and handed to the pipeline.
func (in *Instance) Fetched() int64 { return in.group.Fetched() }

// Partitions reports every partition the instance owns or has owned (for tests and
// diagnostics): whether it owns it now, how many workers it started for it, and when
// records last reached its worker.
func (in *Instance) Partitions() []consumers.PartitionState { return in.group.Partitions() }

// Run consumes until ctx is done, then drains, flushes, commits and leaves the group.
// It returns nil after a clean shutdown.
func (in *Instance) Run(ctx context.Context) error {
	// The last spans are exported after everything else stopped.
	defer in.stopTracing()
	defer in.ch.Close()
	// Closed after the group: the last dead letters are flushed before the final
	// commit, which happens inside group.Run.
	defer in.dlqClient.Close()
	// The admin listener answers until the very end (readiness says "shutting down"
	// from the moment ctx is done), and stops after the final commit.
	defer in.stopAdmin()
	stopReady := context.AfterFunc(ctx, func() { in.stopping.Store(true) })
	defer stopReady()
	// Lag is polled over the dead-letter client, so the poller is stopped before
	// that client closes.
	// So are the group's members, for the status page.
	pollCtx, stopPolls := context.WithCancel(context.Background())
	var polls sync.WaitGroup
	polls.Go(func() { in.metrics.PollLag(pollCtx, lagInterval, in.lag, in.lagRefresh) })
	polls.Go(func() { in.pollMembers(pollCtx, membersInterval) })
	defer func() { stopPolls(); polls.Wait() }()
	// Source topics are looked up over the same client, and stopped with it.
	defer in.startTopicWatch()()
	in.log.Info("sluice running", "group", in.cfg.Kafka.Group, "topics", topicsOf(in.types),
		"clickhouse", in.cfg.ClickHouse.Addrs, "database", in.cfg.ClickHouse.Database)
	start := time.Now()
	err := explainOverlap(in.group.Run(ctx), in.pipe.Overlaps(), in.cfg)
	s := in.stats
	in.log.Info("sluice stopped", "after", time.Since(start).Round(time.Millisecond),
		"records", s.Records.Load(), "valid", s.Valid.Load(), "dead_lettered", s.Invalid.Load(),
		"duplicates", s.Duplicates.Load(), "rows", s.Rows.Load(), "flushes", s.Flushes.Load())
	return err
}

// sleep waits for d or until ctx is done, and reports whether d passed.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// clientID names this instance to the brokers and in the group's member list:
// "sluice@" and the host name (a pod's name on Kubernetes).
func clientID() string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		return "sluice"
	}
	return "sluice@" + host
}

// revokeTimeout bounds the flush of revoked partitions so that it ends before the
// rebalance times out: a member notices a rebalance up to a heartbeat after it
// began, and needs a moment to rejoin.
func revokeTimeout(k config.Kafka) time.Duration {
	return max(k.RebalanceTimeout-k.HeartbeatInterval-time.Second, time.Second)
}
