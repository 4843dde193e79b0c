package pipeline

import (
	"slices"
	"sync"
	"sync/atomic"
)

// Stats counts what the workers did. Workers add to it once per fetched slice or per
// flush, never per event. All fields are safe to read at any time.
type Stats struct {
	Records      atomic.Int64 // records read from Kafka
	Valid        atomic.Int64 // valid events added to batches
	Invalid      atomic.Int64 // records sent to the dead-letter topic
	Duplicates   atomic.Int64 // valid events dropped as producer duplicates
	Flushes      atomic.Int64 // batches stored
	Committable  atomic.Int64 // records stored or dead-lettered and marked for commit
	Rows         atomic.Int64 // rows inserted, all tables
	StoreRetries atomic.Int64 // failed store attempts that were retried
	Replays      atomic.Int64 // flushes cut at a ledger range (replays after a crash or rebalance)
	StoreNanos   atomic.Int64 // time spent in successful stores
	Verified     atomic.Int64 // flushes checked after an unknown outcome (Deps.Repair)
	Repaired     atomic.Int64 // rows those checks found missing and stored again

	topicsMu sync.Mutex
	topics   map[string]*TopicStats
}

// TopicStats are the per-record counters of one topic. A worker looks its topic's
// up once, when it is created, and then adds to it beside the totals of Stats.
type TopicStats struct {
	Records     atomic.Int64 // records read from Kafka
	Valid       atomic.Int64 // valid events added to batches
	Invalid     atomic.Int64 // records sent to the dead-letter topic
	Duplicates  atomic.Int64 // valid events dropped as producer duplicates
	Committable atomic.Int64 // records stored or dead-lettered and marked for commit

	reasonsMu sync.Mutex
	reasons   map[string]int64 // dead-lettered records of flushed batches, by reason
}

// Topic returns the counters of topic, creating them on first use. It takes a lock:
// call it once per worker or per scrape, not per slice.
func (s *Stats) Topic(topic string) *TopicStats {
	s.topicsMu.Lock()
	defer s.topicsMu.Unlock()
	t, ok := s.topics[topic]
	if !ok {
		if s.topics == nil {
			s.topics = make(map[string]*TopicStats)
		}
		t = new(TopicStats)
		s.topics[topic] = t
	}
	return t
}

// Topics calls fn with the counters of every topic, in name order.
func (s *Stats) Topics(fn func(topic string, t *TopicStats)) {
	s.topicsMu.Lock()
	names := make([]string, 0, len(s.topics))
	for name := range s.topics {
		names = append(names, name)
	}
	ts := make([]*TopicStats, len(names))
	slices.Sort(names)
	for i, name := range names {
		ts[i] = s.topics[name]
	}
	s.topicsMu.Unlock()
	for i, name := range names {
		fn(name, ts[i])
	}
}

// addInvalidReasons adds a worker's per-reason dead-letter counts; workers call it
// once per flush, not per record.
func (t *TopicStats) addInvalidReasons(m map[string]int64) {
	t.reasonsMu.Lock()
	defer t.reasonsMu.Unlock()
	if t.reasons == nil {
		t.reasons = make(map[string]int64, len(m))
	}
	for r, n := range m {
		t.reasons[r] += n
	}
}

// InvalidByReason calls fn with the number of dead-lettered records of each reason
// (schemas.Invalid.Reason) in the topic's batches flushed so far, in reason order.
// Records of a batch that was abandoned unflushed (cancelled, lost partition) are in
// Invalid but not here.
func (t *TopicStats) InvalidByReason(fn func(reason string, n int64)) {
	t.reasonsMu.Lock()
	reasons := make([]string, 0, len(t.reasons))
	for r := range t.reasons {
		reasons = append(reasons, r)
	}
	slices.Sort(reasons)
	ns := make([]int64, len(reasons))
	for i, r := range reasons {
		ns[i] = t.reasons[r]
	}
	t.reasonsMu.Unlock()
	for i, r := range reasons {
		fn(r, ns[i])
	}
}

// InvalidByReason calls fn with the number of dead-lettered records of each reason
// (schemas.Invalid.Reason) in the batches flushed so far, summed over topics.
func (s *Stats) InvalidByReason(fn func(reason string, n int64)) {
	sum := map[string]int64{}
	s.Topics(func(_ string, t *TopicStats) {
		t.InvalidByReason(func(r string, n int64) { sum[r] += n })
	})
	reasons := make([]string, 0, len(sum))
	for r := range sum {
		reasons = append(reasons, r)
	}
	slices.Sort(reasons)
	for _, r := range reasons {
		fn(r, sum[r])
	}
}
