package pipeline

import (
	"time"

	"github.com/sluicehq/sluice/schemas"
)

// EventIDsTable is the table the admitted event ids of a flush go to, in the
// flush's own insert (same token), so that the producer-duplicate filter of a later
// owner can be rebuilt from them (SeenIDs), for topics whose raw rows are not stored
// (Options.RawIDs): a raw row already holds its event id, Kafka timestamp and
// offset, and the filter is rebuilt from those.
const EventIDsTable = "sluice_event_ids"

// RawIDs names where a topic's raw rows keep their event ids: the raw table and the
// column of the event id. Every raw row also holds _topic, _topic_id, _partition,
// _offset and _timestamp (the Kafka record timestamp).
type RawIDs struct {
	Table, Column string
}

// RawRowsKeepIDs reports whether raw rows that ClickHouse deletes ttl after their
// event time (0: never) still hold every id a filter rebuild can ask for (SeenIDs
// reads back the horizon and its slack before a record's Kafka timestamp), when an
// event time may be up to maxLateness before its record's Kafka timestamp (0: any
// amount). When they may not, a topic keeps its ids in EventIDsTable (no RawIDs).
func RawRowsKeepIDs(ttl, horizon, maxLateness time.Duration) bool {
	switch {
	case ttl == 0:
		return true
	case maxLateness == 0:
		return false
	}
	return ttl >= horizon+dedupSlack+maxLateness
}

// IDQuery selects the event ids that rebuild one partition's producer-duplicate
// filter (SeenIDs).
type IDQuery struct {
	Group, Topic string
	// TopicID is the topic's incarnation (Range.TopicID).
	TopicID   string
	Partition int32
	// Before is the first offset the worker consumes: ids stored before it.
	Before int64
	// Since is the oldest Kafka timestamp of interest (the horizon and its slack
	// before the first record's).
	Since time.Time
	// Limit > 0 keeps only the ids of the Limit highest offsets.
	Limit int
	// Raw, when set, is where the topic's raw rows keep their ids; EventIDsTable is
	// read too, for the ids stored there before the topic's raw rows held them.
	Raw RawIDs
}

// eventIDsSchema lists the columns of EventIDsTable in the order of the Block the
// worker builds (idsBlock), with their ClickHouse types. The Block's columns are
// three schemas.DictColumn, an []int32, an []int64, a schemas.StringColumn and a
// schemas.MillisColumn. topic_id is the incarnation of the topic (Range.TopicID).
var eventIDsSchema = [...]struct{ name, typ string }{
	{"group", "LowCardinality(String)"},
	{"topic", "LowCardinality(String)"},
	{"topic_id", "LowCardinality(String)"},
	{"partition", "Int32"},
	{"offset", "Int64"},
	{"event_id", "String"},
	{"ts", "DateTime64(3, 'UTC')"},
}

// EventIDsColumns are the names of EventIDsTable's columns in Block order, and
// EventIDsTypes their ClickHouse types, index by index: the ClickHouse adapter
// creates the table from them. Callers must not modify them.
var EventIDsColumns, EventIDsTypes = func() (names, types []string) {
	for _, c := range eventIDsSchema {
		names, types = append(names, c.name), append(types, c.typ)
	}
	return names, types
}()

// pendingIDs are the ids the dedup filter admitted into one batch, with the offset
// and Kafka timestamp of their records, stored flat: they are the event-ids block's
// columns as they are.
type pendingIDs struct {
	ids    schemas.StringColumn
	offset []int64
	ts     schemas.MillisColumn
}

func (p *pendingIDs) add(id string, ts, offset int64) {
	p.ids.Append(id)
	p.offset = append(p.offset, offset)
	p.ts = append(p.ts, ts/int64(time.Millisecond))
}

func (p *pendingIDs) len() int { return len(p.offset) }

// pendingIDBytes is what a pending id takes besides its bytes: its end, offset and
// timestamp, and in the block a flush builds its group, topic, topic id and
// partition (idColumns).
const pendingIDBytes = 4 + 8 + 8 + 3*4 + 4

// bytes is the memory the pending ids take, as Batch.Bytes counts a batch's.
func (p *pendingIDs) bytes() int { return len(p.ids.Data) + pendingIDBytes*len(p.offset) }

func (p *pendingIDs) reset() {
	p.ids.Reset()
	p.offset, p.ts = p.offset[:0], p.ts[:0]
}

// idColumns holds the event-ids block's columns that the pending ids do not
// have, reused across flushes.
type idColumns struct {
	group, topic, topicID schemas.DictColumn
	partition             []int32
}

// idsBlock is the event-ids block of the batch in s: its pending ids, with the
// worker's group, topic, topic id and partition.
func (w *Worker) idsBlock(s *slot) schemas.Block {
	c := &s.ids
	c.group.Reset()
	c.topic.Reset()
	c.topicID.Reset()
	c.partition = c.partition[:0]
	c.group.AppendN(w.p.opts.Group, s.pending.len())
	c.topic.AppendN(w.topic, s.pending.len())
	c.topicID.AppendN(w.topicID, s.pending.len())
	for range s.pending.len() {
		c.partition = append(c.partition, w.partition)
	}
	return schemas.Block{
		Table:   EventIDsTable,
		Names:   EventIDsColumns,
		Columns: []any{c.group, c.topic, c.topicID, c.partition, s.pending.offset, s.pending.ids, s.pending.ts},
		Rows:    s.pending.len(),
	}
}
