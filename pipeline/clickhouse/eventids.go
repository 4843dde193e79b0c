package clickhouse

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/sluicehq/sluice/pipeline"
	"github.com/sluicehq/sluice/schemas"
)

// EventIDsTable is the internal table of the event ids each partition stored, with
// their offsets: pipeline.EventIDsTable, whose columns pipeline.EventIDsColumns and
// pipeline.EventIDsTypes define.
const EventIDsTable = pipeline.EventIDsTable

// eventIDsDDL is the CREATE TABLE of EventIDsTable: table is its qualified name
// (with ON CLUSTER when sharded), engine and settings are DDL's. Rows live horizon
// plus one day after they were stored.
func eventIDsDDL(table, engine string, horizon time.Duration, settings string) string {
	var b strings.Builder
	b.WriteString("CREATE TABLE IF NOT EXISTS " + table + " (\n")
	for i, name := range pipeline.EventIDsColumns {
		col := quote(name) + " " + pipeline.EventIDsTypes[i]
		if name == "topic_id" {
			col = topicIDColumn
		}
		b.WriteString("\t" + col + ",\n")
	}
	ttl := int64((horizon + 24*time.Hour + time.Second - 1) / time.Second)
	// Kept for the horizon after it was stored, not after ts: a stream published
	// with old timestamps (a backfill) still needs its ids.
	fmt.Fprintf(&b, "\t`stored_at` DateTime('UTC') DEFAULT now()\n"+
		") ENGINE = %s\n"+
		"ORDER BY (`group`, `topic`, `partition`, `offset`)\n"+
		"TTL `stored_at` + INTERVAL %d SECOND\n"+
		"SETTINGS %s", engine, ttl, settings)
	return b.String()
}

// EventIDsBlock builds, from plain slices, a Block that stores event ids of one
// partition of the incarnation topicID as a flush does: ids[i] was read at offsets[i] and occurred at ts[i].
// The three slices must have the same length; the Block refers to them without
// copying. Rows older than the table's TTL (DDLOptions.Horizon plus one day) are
// dropped by the server on insert. It is for tests and tools (the pipeline builds
// its own, flat, block).
func EventIDsBlock(group, topic, topicID string, partition int32, offsets []int64, ids []string, ts []time.Time) schemas.Block {
	n := len(ids)
	groups := make([]string, n)
	topics := make([]string, n)
	topicIDs := make([]string, n)
	parts := make([]int32, n)
	for i := range n {
		groups[i], topics[i], topicIDs[i], parts[i] = group, topic, topicID, partition
	}
	return schemas.Block{
		Table:   EventIDsTable,
		Names:   pipeline.EventIDsColumns,
		Columns: []any{groups, topics, topicIDs, parts, offsets, ids, ts},
		Rows:    n,
	}
}

// SeenIDs streams the event ids stored for group/topic/partition of the incarnation
// topicID (with the rows without a topic id that it owns, see ClaimTopics) at an offset before
// `before` whose timestamp is at or after since, calling fn with the id and the
// timestamp in Unix nanoseconds, in offset order; with limit > 0 only the limit ids
// with the highest offsets. An id stored twice (at two offsets) is passed twice. fn
// runs on the calling goroutine; SeenIDs returns after the last call, or at the first
// error.
func (c *Client) SeenIDs(ctx context.Context, group, topic, topicID string, partition int32, before int64, since time.Time, limit int, fn func(id string, ts int64)) error {
	tid, alt := c.claims.topicIDs(topic, topicID)
	sinceMs := since.UnixMilli()
	if since.Before(time.Unix(0, 0)) {
		sinceMs = 0
	}
	q := "SELECT `event_id`, toUnixTimestamp64Nano(`ts`) AS `ns`, `offset` FROM " + qualified(c.db, EventIDsTable) +
		" WHERE `group` = ? AND `topic` = ? AND `topic_id` IN (?, ?) AND `partition` = ? AND `offset` < ?" +
		" AND `ts` >= fromUnixTimestamp64Milli(?, 'UTC')"
	args := []any{group, topic, tid, alt, partition, before, sinceMs}
	if limit > 0 {
		q = "SELECT `event_id`, `ns` FROM (" + q + " ORDER BY `offset` DESC LIMIT ?) ORDER BY `offset`"
		args = append(args, limit)
	} else {
		q = "SELECT `event_id`, `ns` FROM (" + q + ") ORDER BY `offset`"
	}
	rows, err := c.conn.Query(ctx, q, args...)
	if err != nil {
		return fmt.Errorf("clickhouse: seen ids of %s/%s/%d before %d: %w", group, topic, partition, before, c.redact(err))
	}
	defer rows.Close()
	var (
		id string
		ts int64
	)
	for rows.Next() {
		if err := rows.Scan(&id, &ts); err != nil {
			return fmt.Errorf("clickhouse: seen ids of %s/%s/%d: scan: %w", group, topic, partition, err)
		}
		fn(id, ts)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("clickhouse: seen ids of %s/%s/%d before %d: %w", group, topic, partition, before, c.redact(err))
	}
	return nil
}
