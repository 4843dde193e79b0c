package pipeline

// cutter holds the replay-cut rule (docs/exactly-once.md, point 5): a worker that
// replays a partition closes its batches exactly at the ranges the ledger recorded
// for it, whatever its own flush interval, size limits or fetch boundaries, so that
// each replayed flush stores the first attempt's records under the first attempt's
// token. Elsewhere, where no recorded range is ahead, batches are cut freely.
//
// It knows the offsets of the batch being filled and the recorded ranges still
// ahead. For each record the worker asks whether to flush before the record joins
// the batch (before) and after it joined (add); when a timer or the end of input
// may flush (timerMayFlush, drainMayFlush); and, at a flush, which Range the batch
// stores (take). Offsets may skip (transaction markers, compaction): a range is
// matched by its first offset and ends at its last recorded offset, whether or not
// a record at that offset arrives. A cutter belongs to one worker and is not safe
// for concurrent use.
type cutter struct {
	part        Range   // Group, Topic and Partition of every Range taken
	ranges      []Range // recorded ranges not yet replayed, ordered by First
	first, last int64   // offsets of the batch's first and last records; first < 0 when empty
}

func newCutter(group, topic string, partition int32) cutter {
	return cutter{part: Range{Group: group, Topic: topic, Partition: partition}, first: -1}
}

// load sets the recorded ranges of the partition whose Last is at or after from, the
// offset of the first record the worker reads (Ledger.Ranges). A range that starts
// before from (only an operator's offset reset starts inside one) cannot be replayed
// whole: it is dropped and returned with ok true, and its remainder is batched like
// new records.
func (c *cutter) load(rs []Range, from int64) (dropped Range, ok bool) {
	c.ranges = rs
	if len(rs) > 0 && rs[0].First < from {
		dropped, ok = rs[0], true
		c.ranges = rs[1:]
	}
	return dropped, ok
}

// ahead returns the recorded ranges not yet replayed; the caller must not modify them.
func (c *cutter) ahead() []Range { return c.ranges }

// open reports whether the batch holds a record.
func (c *cutter) open() bool { return c.first >= 0 }

// before reports whether the batch must be flushed before the record at off joins
// it: the record would otherwise take a batch that started before a recorded range
// into that range, or take the recorded range the batch replays past its end.
func (c *cutter) before(off int64) bool {
	if c.first < 0 || len(c.ranges) == 0 {
		return false
	}
	r := c.ranges[0]
	return (c.first < r.First && off >= r.First) || off > r.Last
}

// add records that the record at off joined the batch; a record that starts a batch
// first forgets the recorded ranges that end before it. end reports that the batch
// replays a recorded range and reached its last offset: flush it now. limits reports
// whether the size limits may close the batch: not inside a recorded range, where
// only the range ends it.
func (c *cutter) add(off int64) (end, limits bool) {
	if c.first < 0 {
		for len(c.ranges) > 0 && c.ranges[0].Last < off {
			c.ranges = c.ranges[1:]
		}
		c.first = off
	}
	c.last = off
	if len(c.ranges) > 0 && c.first >= c.ranges[0].First {
		return off >= c.ranges[0].Last, false
	}
	return false, true
}

// timerMayFlush reports whether the flush interval may close the batch: only when it
// holds records and no recorded range is ahead.
func (c *cutter) timerMayFlush() bool { return c.first >= 0 && len(c.ranges) == 0 }

// drainMayFlush reports whether the batch may be flushed when the input ends (a
// revoke). Not while it replays a recorded range it has only received part of: a
// partial flush under the range's token would be dropped by ClickHouse, yet mark its
// records done. The next owner replays the whole range instead.
func (c *cutter) drainMayFlush() bool {
	if c.first < 0 {
		return false
	}
	return len(c.ranges) == 0 || c.first != c.ranges[0].First || c.last >= c.ranges[0].Last
}

// take closes the batch and returns the Range it stores. A batch that starts where a
// recorded range starts takes that range, and replay is true: its records and token
// are the first attempt's. Any other batch is a new range, [first, last].
func (c *cutter) take() (r Range, replay bool) {
	r = c.part
	r.First, r.Last = c.first, c.last
	if len(c.ranges) > 0 && c.ranges[0].First == c.first {
		r, replay = c.ranges[0], true
		c.ranges = c.ranges[1:]
	}
	c.first = -1
	return r, replay
}
