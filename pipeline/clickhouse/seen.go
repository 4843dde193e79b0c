package clickhouse

import (
	"context"
	"fmt"
	"time"

	"github.com/sluicehq/sluice/pipeline"
	"github.com/sluicehq/sluice/schemas"
)

// EventIDsColumns are the column names, in order, of the Block the pipeline stores
// into EventIDsTable (pipeline.EventIDsColumns; the DDL here must match it).
var EventIDsColumns = pipeline.EventIDsColumns

// EventIDsBlock builds the Block that stores the event ids of one partition's flush:
// ids[i] was read at offsets[i] and occurred at ts[i]. The three slices must have the
// same length; the Block refers to them without copying. Rows older than the table's
// TTL (DDLOptions.Horizon plus one day) are dropped by the server on insert.
func EventIDsBlock(group, topic string, partition int32, offsets []int64, ids []string, ts []time.Time) schemas.Block {
	n := len(ids)
	groups := make([]string, n)
	topics := make([]string, n)
	parts := make([]int32, n)
	for i := range n {
		groups[i], topics[i], parts[i] = group, topic, partition
	}
	return schemas.Block{
		Table:   EventIDsTable,
		Names:   EventIDsColumns,
		Columns: []any{groups, topics, parts, offsets, ids, ts},
		Rows:    n,
	}
}

// SeenIDs streams the event ids stored for group/topic/partition at an offset before
// `before` whose timestamp is at or after since, calling fn with the id and the
// timestamp in Unix nanoseconds, in offset order; with limit > 0 only the limit ids
// with the highest offsets. An id stored twice (at two offsets) is passed twice. fn
// runs on the calling goroutine; SeenIDs returns after the last call, or at the first
// error.
func (c *Client) SeenIDs(ctx context.Context, group, topic string, partition int32, before int64, since time.Time, limit int, fn func(id string, ts int64)) error {
	sinceMs := since.UnixMilli()
	if since.Before(time.Unix(0, 0)) {
		sinceMs = 0
	}
	q := "SELECT `event_id`, toUnixTimestamp64Nano(`ts`) AS `ns`, `offset` FROM " + qualified(c.db, EventIDsTable) +
		" WHERE `group` = ? AND `topic` = ? AND `partition` = ? AND `offset` < ?" +
		" AND `ts` >= fromUnixTimestamp64Milli(?, 'UTC')"
	args := []any{group, topic, partition, before, sinceMs}
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
