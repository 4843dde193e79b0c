package clickhouse

import (
	"context"
	"fmt"

	ch "github.com/ClickHouse/clickhouse-go/v2"

	"github.com/sluicehq/sluice/pipeline"
)

// syncInsert makes an insert synchronous: it returns once the rows are in a part on
// the server, visible to any later query there.
func syncInsert(ctx context.Context) context.Context {
	return ch.Context(ctx, ch.WithSettings(ch.Settings{
		"async_insert":          0,
		"wait_for_async_insert": 1,
		// Through a Distributed table (a cluster), return only once the shard
		// stored the row: a ledger row still queued for a shard is invisible to
		// the next owner's Ranges.
		"distributed_foreground_insert": 1,
	}))
}

// Intend records r in LedgerTable with one synchronous INSERT; when it returns nil
// the row is visible to Ranges on the same server. Recording the same Range twice is
// harmless.
func (c *Client) Intend(ctx context.Context, r pipeline.Range) error {
	if r.First > r.Last {
		return fmt.Errorf("clickhouse: intend %s/%s/%d: first offset %d after last %d", r.Group, r.Topic, r.Partition, r.First, r.Last)
	}
	q := "INSERT INTO " + qualified(c.db, LedgerTable) +
		" (`group`, `topic`, `partition`, `first`, `last`, `written_at`) VALUES (?, ?, ?, ?, ?, now64(3))"
	if err := c.conn.Exec(syncInsert(ctx), q, r.Group, r.Topic, r.Partition, r.First, r.Last); err != nil {
		return fmt.Errorf("clickhouse: intend %s/%s/%d [%d, %d]: %w", r.Group, r.Topic, r.Partition, r.First, r.Last, c.redact(err))
	}
	return nil
}

// Ranges returns the distinct ranges recorded for one partition whose Last is at or
// after from, ordered by First (then Last).
func (c *Client) Ranges(ctx context.Context, group, topic string, partition int32, from int64) ([]pipeline.Range, error) {
	q := "SELECT DISTINCT `first`, `last` FROM " + qualified(c.db, LedgerTable) +
		" WHERE `group` = ? AND `topic` = ? AND `partition` = ? AND `last` >= ? ORDER BY `first`, `last`"
	rows, err := c.conn.Query(ctx, q, group, topic, partition, from)
	if err != nil {
		return nil, fmt.Errorf("clickhouse: ranges of %s/%s/%d from %d: %w", group, topic, partition, from, c.redact(err))
	}
	defer rows.Close()
	var out []pipeline.Range
	for rows.Next() {
		r := pipeline.Range{Group: group, Topic: topic, Partition: partition}
		if err := rows.Scan(&r.First, &r.Last); err != nil {
			return nil, fmt.Errorf("clickhouse: ranges of %s/%s/%d: scan: %w", group, topic, partition, err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("clickhouse: ranges of %s/%s/%d from %d: %w", group, topic, partition, from, c.redact(err))
	}
	return out, nil
}
