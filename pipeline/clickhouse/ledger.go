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

// Intend records r in LedgerTable with one synchronous INSERT, as repairable (its
// inserts carry what Repair checks); when it returns nil the row is visible to
// Ranges on the same server. Recording the same Range twice is harmless.
func (c *Client) Intend(ctx context.Context, r pipeline.Range) error {
	if r.First > r.Last || r.First < 0 {
		return fmt.Errorf("clickhouse: intend %s/%s/%d: offsets %d-%d: first must be ≥ 0 and ≤ last", r.Group, r.Topic, r.Partition, r.First, r.Last)
	}
	q := "INSERT INTO " + qualified(c.db, LedgerTable) +
		" (`group`, `topic`, `topic_id`, `partition`, `first`, `last`, `written_at`, `repairable`) VALUES (?, ?, ?, ?, ?, ?, now64(3), 1)"
	if err := c.conn.Exec(syncInsert(ctx), q, r.Group, r.Topic, r.TopicID, r.Partition, r.First, r.Last); err != nil {
		return fmt.Errorf("clickhouse: intend %s/%s/%d [%d, %d]: %w", r.Group, r.Topic, r.Partition, r.First, r.Last, c.redact(err))
	}
	return nil
}

// Ranges returns the distinct ranges every group recorded for one partition of the
// incarnation topicID of topic whose Last is at or after from, ordered by First, Last
// and Group. Rows without a topic id are included when topicID owns them (see
// ClaimTopics), with an empty TopicID, so that their replay reuses their token.
func (c *Client) Ranges(ctx context.Context, topic, topicID string, partition int32, from int64) ([]pipeline.Range, error) {
	id, alt := c.claims.topicIDs(topic, topicID)
	q := "SELECT DISTINCT `group`, `topic_id`, `first`, `last` FROM " + qualified(c.db, LedgerTable) +
		" WHERE `topic` = ? AND `topic_id` IN (?, ?) AND `partition` = ? AND `last` >= ? AND `group` != '' ORDER BY `first`, `last`, `group`"
	rows, err := c.conn.Query(ctx, q, topic, id, alt, partition, from)
	if err != nil {
		return nil, fmt.Errorf("clickhouse: ranges of %s/%d from %d: %w", topic, partition, from, c.redact(err))
	}
	defer rows.Close()
	var out []pipeline.Range
	for rows.Next() {
		r := pipeline.Range{Topic: topic, Partition: partition}
		if err := rows.Scan(&r.Group, &r.TopicID, &r.First, &r.Last); err != nil {
			return nil, fmt.Errorf("clickhouse: ranges of %s/%d: scan: %w", topic, partition, err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("clickhouse: ranges of %s/%d from %d: %w", topic, partition, from, c.redact(err))
	}
	return out, nil
}
