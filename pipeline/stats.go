package pipeline

import (
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

	reasonsMu sync.Mutex
	reasons   map[string]int64 // dead-lettered records of flushed batches, by reason
}

// addInvalidReasons adds a worker's per-reason dead-letter counts; workers call it
// once per flush, not per record.
func (s *Stats) addInvalidReasons(m map[string]int64) {
	s.reasonsMu.Lock()
	defer s.reasonsMu.Unlock()
	if s.reasons == nil {
		s.reasons = make(map[string]int64, len(m))
	}
	for r, n := range m {
		s.reasons[r] += n
	}
}

// InvalidByReason calls fn with the number of dead-lettered records of each reason
// (schemas.Invalid.Reason) in the batches flushed so far. Records of a batch that was
// abandoned unflushed (cancelled, lost partition) are in Invalid but not here.
func (s *Stats) InvalidByReason(fn func(reason string, n int64)) {
	s.reasonsMu.Lock()
	defer s.reasonsMu.Unlock()
	for r, n := range s.reasons {
		fn(r, n)
	}
}
