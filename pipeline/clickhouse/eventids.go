package clickhouse

import (
	"context"
	"fmt"
	"strconv"
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

// SeenIDs streams the event ids that q selects (pipeline.SeenIDs), with the rows
// without a topic id that q.TopicID owns (see ClaimTopics), calling fn with the id
// and the timestamp in Unix nanoseconds, in offset order. With q.Raw it reads the
// raw table's rows through its schemas.OffsetsProjection beside EventIDsTable's rows:
// an offset found in both (rows stored while flushes wrote both) is passed once,
// with EventIDsTable's timestamp; a raw row stored before raw tables had _timestamp
// has none (1970) and is left to EventIDsTable, which holds its id. An id stored at
// two offsets is passed twice. fn runs on the calling goroutine; SeenIDs returns
// after the last call, or at the first error.
func (c *Client) SeenIDs(ctx context.Context, q pipeline.IDQuery, fn func(id string, ts int64)) error {
	sel, args := c.seenIDsQuery(q)
	where := fmt.Sprintf("%s/%s/%d before %d", q.Group, q.Topic, q.Partition, q.Before)
	rows, err := c.conn.Query(ctx, sel, args...)
	if err != nil {
		return fmt.Errorf("clickhouse: seen ids of %s: %w", where, c.redact(err))
	}
	defer rows.Close()
	var (
		id string
		ts int64
	)
	for rows.Next() {
		if err := rows.Scan(&id, &ts); err != nil {
			return fmt.Errorf("clickhouse: seen ids of %s: scan: %w", where, err)
		}
		fn(id, ts)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("clickhouse: seen ids of %s: %w", where, c.redact(err))
	}
	return nil
}

// seenIDsQuery is SeenIDs' query and its arguments.
func (c *Client) seenIDsQuery(q pipeline.IDQuery) (string, []any) {
	tid, alt := c.claims.topicIDs(q.Topic, q.TopicID)
	sinceMs := q.Since.UnixMilli()
	if q.Since.Before(time.Unix(0, 0)) {
		sinceMs = 0
	}
	// Each source keeps its Limit highest offsets: the Limit highest of both are
	// among them.
	limit := ""
	if q.Limit > 0 {
		limit = " ORDER BY `off` DESC LIMIT " + strconv.Itoa(q.Limit)
	}
	src := "SELECT `event_id` AS `id`, `ts`, `offset` AS `off`, 0 AS `src` FROM " + qualified(c.db, EventIDsTable) +
		" WHERE `group` = ? AND `topic` = ? AND `topic_id` IN (?, ?) AND `partition` = ? AND `offset` < ?" +
		" AND `ts` >= fromUnixTimestamp64Milli(?, 'UTC')" + limit
	args := []any{q.Group, q.Topic, tid, alt, q.Partition, q.Before, sinceMs}
	if q.Raw.Table != "" {
		src = "(" + src + ") UNION ALL (SELECT " + quote(q.Raw.Column) + " AS `id`, `_timestamp` AS `ts`, `_offset` AS `off`, 1 AS `src` FROM " +
			qualified(c.db, q.Raw.Table) + " WHERE `_topic` = ? AND `_topic_id` IN (?, ?) AND `_partition` = ? AND `_offset` < ?" +
			" AND `_timestamp` >= fromUnixTimestamp64Milli(?, 'UTC') AND `_timestamp` > 0" + limit + ")"
		args = append(args, q.Topic, tid, alt, q.Partition, q.Before, sinceMs)
	}
	sel := "SELECT `id`, toUnixTimestamp64Nano(`ts`) AS `ns`, `off` FROM (" + src + ")"
	if q.Limit > 0 {
		sel = "SELECT `id`, `ns` FROM (" + sel + " ORDER BY `off` DESC, `src` LIMIT 1 BY `off` LIMIT " + strconv.Itoa(q.Limit) + ") ORDER BY `off`"
	} else {
		sel = "SELECT `id`, `ns` FROM (" + sel + " ORDER BY `off`, `src` LIMIT 1 BY `off`) ORDER BY `off`"
	}
	return sel, args
}
