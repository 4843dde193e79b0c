package pipeline

import (
	"cmp"
	"slices"
	"sync"
	"time"
)

// BlockedDeadLetter is the Blocked.Reason of a partition whose dead letters cannot be
// written.
const BlockedDeadLetter = "dead_letter"

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
