package pipeline

import (
	"cmp"
	"slices"
	"sync"
	"time"
)

// The reasons of a Blocked partition.
const (
	// BlockedDeadLetter: its dead letters cannot be written.
	BlockedDeadLetter = "dead_letter"
	// BlockedClickHouse: ClickHouse refuses its stores with a permanent error
	// (Deps.Permanent), e.g. a missing table or column, a column of another type or
	// a revoked privilege.
	BlockedClickHouse = "clickhouse_permanent"
)

// blockedWarnEvery bounds how often one partition's blocked state is logged as a
// warning, per reason.
const blockedWarnEvery = time.Minute

// Blocked is a partition that makes no progress (nothing of it is committed) until
// something outside Sluice is fixed; its worker keeps retrying with backoff and
// resumes by itself.
type Blocked struct {
	Topic     string
	Partition int32
	// Reason says what the partition waits for (BlockedDeadLetter, …); it is the
	// reason label of sluice_partition_blocked.
	Reason string
	// Err is the last failure.
	Err error
	// Since is when the partition was first found blocked.
	Since time.Time
}

type blockKey struct {
	topic     string
	partition int32
	reason    string
}

// blockedSet holds the blocked partitions of a Pipeline; it is safe for concurrent
// use and touched only when a partition becomes, stays or stops being blocked.
type blockedSet struct {
	mu sync.Mutex
	m  map[blockKey]Blocked
}

func (b *blockedSet) set(x Blocked) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.m == nil {
		b.m = make(map[blockKey]Blocked)
	}
	b.m[blockKey{x.Topic, x.Partition, x.Reason}] = x
}

func (b *blockedSet) clear(topic string, partition int32, reason string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.m, blockKey{topic, partition, reason})
}

// blockage is one reason a worker's partition can be blocked for. While it is, the
// partition is in the Pipeline's registry (Pipeline.Blocked), and a warning is
// logged at most once per blockedWarnEvery with the attempts that failed since the
// last one. Both of a worker's stages may touch one (their ClickHouse calls retry
// concurrently), so its state is under mu, taken once per call, never per event.
type blockage struct {
	reason string
	mu     sync.Mutex
	since  time.Time // when the partition was reported blocked; zero while it is not
	warned time.Time // when it was last logged
	fails  int       // failed attempts since then
}

// block reports the partition blocked by err, fails more attempts having failed,
// and logs msg when the last warning is old enough.
func (w *Worker) block(b *blockage, err error, fails int, msg string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	now := time.Now()
	if b.since.IsZero() {
		b.since = now
	}
	b.fails += fails
	// Logged before it is listed, so that whoever sees it listed finds it logged.
	if now.Sub(b.warned) >= blockedWarnEvery {
		w.log.Warn(msg, "err", err, "reason", b.reason, "failed_attempts", b.fails, "blocked_for", now.Sub(b.since).Round(time.Second))
		b.warned, b.fails = now, 0
	}
	w.p.blocked.set(Blocked{Topic: w.topic, Partition: w.partition, Reason: b.reason, Err: err, Since: b.since})
}

// unblock takes the partition out of the registry if b blocked it; resumed (the
// attempt succeeded, rather than the partition stopping) logs msg with how long it
// was blocked.
func (w *Worker) unblock(b *blockage, resumed bool, msg string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.since.IsZero() {
		return
	}
	w.p.blocked.clear(w.topic, w.partition, b.reason)
	if resumed {
		w.log.Info(msg, "reason", b.reason, "blocked_for", time.Since(b.since).Round(time.Millisecond))
	}
	b.since = time.Time{}
}

// Blocked returns the partitions blocked now, ordered by topic, partition and reason.
func (p *Pipeline) Blocked() []Blocked {
	b := &p.blocked
	b.mu.Lock()
	out := make([]Blocked, 0, len(b.m))
	for _, x := range b.m {
		out = append(out, x)
	}
	b.mu.Unlock()
	slices.SortFunc(out, func(a, b Blocked) int {
		return cmp.Or(cmp.Compare(a.Topic, b.Topic), cmp.Compare(a.Partition, b.Partition), cmp.Compare(a.Reason, b.Reason))
	})
	return out
}
