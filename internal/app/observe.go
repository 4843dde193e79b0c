package app

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluicehq/sluice/consumers"
	"github.com/sluicehq/sluice/internal/admin"
	"github.com/sluicehq/sluice/internal/metrics"
	"github.com/sluicehq/sluice/pipeline"
	"github.com/sluicehq/sluice/pipeline/clickhouse"
)

// lagInterval is how often the consumer lag of the owned partitions is polled.
const lagInterval = 5 * time.Second

// recentWindow is the span of Store calls the status page's latency covers.
const recentWindow = 10 * time.Second

// freshnessWindow is the span of stored events the status page's freshness covers.
const freshnessWindow = 5 * time.Minute

// errorRing is how many recent warnings and errors the status page keeps.
const errorRing = 20

// membersInterval is how often the group's members are described for the status page.
const membersInterval = 5 * time.Second

// isUp reports whether New has finished connecting, so that the fields it sets may
// be read.
func (in *Instance) isUp() bool {
	select {
	case <-in.up:
		return true
	default:
		return false
	}
}

// HTTPAddr is the bound address of the admin listener (/metrics, /healthz, /readyz,
// the status page), or "" when SLUICE_HTTP_ADDR is empty.
func (in *Instance) HTTPAddr() string {
	if in.admin == nil {
		return ""
	}
	return in.admin.Addr()
}

// newMetrics builds the instance's metrics over its counters and its group's queues
// (read at scrape time, once in.group is set).
func (in *Instance) newMetrics() *metrics.Metrics {
	return metrics.New(metrics.Sources{
		Stats:   in.stats,
		Queues:  in.queues,
		Blocked: in.blocked,
		Memory:  in.memory.Usage,
		Logger:  in.log.With("component", "metrics"),
	})
}

func (in *Instance) queues() []consumers.QueueState {
	if !in.isUp() {
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
		Version:  in.metrics.Build().String(),
		// Never secrets: the status page is unauthenticated. Addresses only: user
		// names and passwords stay out.
		Info: map[string]string{
			"consumer group":    c.Kafka.Group,
			"topics":            strings.Join(topicsOf(in.types), ", "),
			"dead-letter topic": c.Kafka.DLQTopic,
			"Kafka brokers":     strings.Join(c.Kafka.Brokers, ", "),
			"ClickHouse":        strings.Join(c.ClickHouse.Addrs, ", ") + " database " + c.ClickHouse.Database,
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

// ready is /readyz: start-up is done, every source topic exists, the member has
// joined the group and ClickHouse answers. Otherwise it says what the instance waits
// for, since when and why, e.g. "waiting for ClickHouse at 127.0.0.1:9000 since
// 12:01:02 (14s): dial tcp …".
func (in *Instance) ready(ctx context.Context) error {
	now := time.Now()
	switch {
	case in.stopping.Load():
		return errors.New("shutting down")
	case !in.isUp():
		if err := in.starting.reason(now); err != nil {
			return err
		}
		return errors.New("starting")
	}
	// Before the join: a group whose topics are all missing may never join.
	if m := in.MissingTopics(); len(m) > 0 {
		return missingTopicsError(m)
	}
	switch {
	case !in.group.Joined():
		// New began the first wait; a later one (a rebalance) begins when first seen.
		in.joining.begin("waiting to rejoin the consumer group " + strconv.Quote(in.cfg.Kafka.Group))
		return in.joining.reason(now)
	}
	in.joining.clear()
	if err := in.blockedError(); err != nil {
		return err
	}
	// A ledger lookup of a partition that cannot exist: one round trip that also
	// proves the database and Sluice's own table are there.
	if _, err := in.ch.Ranges(ctx, "", "", -1, math.MaxInt64); err != nil {
		what := "ClickHouse at " + strings.Join(in.cfg.ClickHouse.Addrs, ", ") + " does not answer"
		if clickhouse.IsPermanent(err) {
			what = "ClickHouse at " + strings.Join(in.cfg.ClickHouse.Addrs, ", ") + " refuses Sluice's queries"
		}
		in.chDown.set(what, err)
		return in.chDown.reason(now)
	}
	in.chDown.clear()
	return nil
}

// waiting is one thing the instance waits for, since when, and the last error that
// kept it waiting: the reason /readyz and the status page give. It is safe for
// concurrent use; the zero value waits for nothing.
type waiting struct {
	mu    sync.Mutex
	what  string
	since time.Time
	err   error
}

// set records that the instance waits for what (keeping the time it began when it
// already waited for the same), failing with err (nil: no answer yet).
func (w *waiting) set(what string, err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if what != w.what {
		w.what, w.since = what, time.Now()
	}
	w.err = err
}

// begin is set(what, nil) unless something is waited for already.
func (w *waiting) begin(what string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.what == "" {
		w.what, w.since, w.err = what, time.Now(), nil
	}
}

// clear records that nothing is waited for.
func (w *waiting) clear() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.what, w.since, w.err = "", time.Time{}, nil
}

// Since is when the wait began, zero when nothing is waited for.
func (w *waiting) Since() time.Time {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.since
}

// reason is the wait as an operator reads it: what, since when and for how long,
// and the cause of the last failure (admin.Cause, without internal detail); nil
// when nothing is waited for.
func (w *waiting) reason(now time.Time) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.what == "" {
		return nil
	}
	msg := fmt.Sprintf("%s since %s (%s)", w.what, w.since.Format("15:04:05"), now.Sub(w.since).Round(time.Second))
	if w.err != nil {
		msg += ": " + admin.Cause(w.err)
	}
	return errors.New(msg)
}

// snapshot is the status page's view of the instance.
func (in *Instance) snapshot() admin.Snapshot {
	s := in.stats
	snap := admin.Snapshot{
		Records: s.Records.Load(), Valid: s.Valid.Load(), Invalid: s.Invalid.Load(),
		Duplicates: s.Duplicates.Load(), Rows: s.Rows.Load(), Flushes: s.Flushes.Load(),
		Retries:        s.StoreRetries.Load(),
		LastInsert:     in.metrics.LastInsert(),
		ClickHouseDown: in.chDown.Since(),
	}
	s.Topics(func(topic string, t *pipeline.TopicStats) {
		at := admin.Topic{Topic: topic, Records: t.Records.Load(), Valid: t.Valid.Load(), DeadLettered: t.Invalid.Load(),
			Duplicates: t.Duplicates.Load(), Committable: t.Committable.Load()}
		t.InvalidByReason(func(reason string, n int64) {
			at.DeadLetters = append(at.DeadLetters, admin.ReasonCount{Reason: reason, Count: n})
		})
		snap.Topics = append(snap.Topics, at)
	})
	snap.Members, snap.MembersAt, snap.MembersError = in.members.get()
	u := in.memory.Usage()
	snap.Memory = &admin.Memory{BudgetBytes: u.Total, From: in.memoryFrom, GoLimitBytes: u.GoLimit, Partitions: u.Partitions,
		FetchShareBytes: u.Fetch, BatchShareBytes: u.Batch, DedupShareIDs: u.DedupCap,
		FetchedBytes: u.Fetched, BatchesBytes: u.Batched, DedupBytes: u.Dedup}
	snap.InsertP50, snap.InsertP99, snap.Inserts = in.metrics.RecentInsertLatency(recentWindow)
	// The total is known once every owned partition's lag is: a partition not
	// polled since it was assigned would otherwise count as 0.
	snap.FreshnessWindow = freshnessWindow
	snap.FreshnessP50, snap.FreshnessP99, snap.FreshEvents = in.metrics.RecentFreshness(freshnessWindow)
	snap.FreshNowP50, snap.FreshNowP99, snap.FreshNowEvents = in.metrics.RecentFreshness(recentWindow)
	lag, at := in.metrics.Lag()
	snap.LagKnown = !at.IsZero() && in.group != nil && in.group.Joined()
	for _, q := range in.queues() {
		p := admin.Partition{Topic: q.Topic, Partition: q.Partition, Queued: q.Queued, Paused: q.Paused, Lag: -1}
		if n, ok := lag[metrics.TopicPartition{Topic: q.Topic, Partition: q.Partition}]; ok {
			p.Lag = n
			snap.Lag += n
		} else {
			snap.LagKnown = false
		}
		snap.Partitions = append(snap.Partitions, p)
	}
	if !snap.LagKnown {
		snap.Lag = 0
	}
	return snap
}

// members is the consumer group's membership as last described. It is safe for
// concurrent use.
type members struct {
	mu   sync.Mutex
	list []admin.Member
	at   time.Time
	err  string
}

func (m *members) get() ([]admin.Member, time.Time, string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.list), m.at, m.err
}

// pollMembers describes the group at once and then every interval until ctx is
// done, for the status page; it runs beside the pipeline, never in its way.
func (in *Instance) pollMembers(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	adm := kadm.NewClient(in.dlqClient)
	for {
		pctx, cancel := context.WithTimeout(ctx, interval)
		list, err := in.describeMembers(pctx, adm)
		cancel()
		if ctx.Err() != nil {
			return
		}
		in.members.mu.Lock()
		if err != nil {
			in.members.err = admin.Cause(err)
		} else {
			in.members.list, in.members.at, in.members.err = list, time.Now(), ""
		}
		in.members.mu.Unlock()
		select {
		case <-t.C:
		case <-in.membersRefresh:
		case <-ctx.Done():
			return
		}
	}
}

// describeMembers lists the group's members, this instance marked Self.
func (in *Instance) describeMembers(ctx context.Context, adm *kadm.Client) ([]admin.Member, error) {
	gs, err := adm.DescribeGroups(ctx, in.cfg.Kafka.Group)
	if err != nil {
		return nil, err
	}
	g, ok := gs[in.cfg.Kafka.Group]
	if !ok {
		return nil, fmt.Errorf("group %s not described", in.cfg.Kafka.Group)
	}
	if g.Err != nil {
		return nil, g.Err
	}
	self, _ := in.group.Client().GroupMetadata()
	out := make([]admin.Member, 0, len(g.Members))
	for _, m := range g.Members {
		am := admin.Member{ID: m.MemberID, ClientID: m.ClientID, Host: m.ClientHost, Self: m.MemberID == self}
		if a, ok := m.Assigned.AsConsumer(); ok {
			for _, t := range a.Topics {
				am.Partitions += len(t.Partitions)
			}
		}
		out = append(out, am)
	}
	return out, nil
}

// refreshLag asks the lag poller for a poll now; it never blocks (a poll already
// asked for covers this request too).
func (in *Instance) refreshLag() { poke(in.lagRefresh) }

// poke asks the poller reading c for a poll now; it never blocks (a poll already
// asked for covers this request too).
func poke(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// committed is the consumer's auto-commit callback: the committed lag changed, so
// it is polled again now rather than at the next interval.
func (in *Instance) committed(_ *kgo.Client, _ *kmsg.OffsetCommitRequest, _ *kmsg.OffsetCommitResponse, err error) {
	if err != nil {
		in.log.Debug("offset commit failed; the next one retries", "err", err)
		return
	}
	in.refreshLag()
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
