package clickhouse

import (
	"context"
	"fmt"
	"strings"

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

// Intend records r in LedgerTable, as repairable (its inserts carry what Repair
// checks); when it returns nil the row is visible to Ranges on the same server.
// Concurrent calls share synchronous INSERTs (intents): a call made while another's
// insert is in flight waits for it and then goes in the next insert with the others
// that waited, so the ledger costs about one insert per round trip, not one per
// flush. An error is that insert's, for every range it carried; recording the same
// Range twice is harmless, so the caller retries. A call whose ctx is done returns
// at once, unless it is sending its group's insert, which it then waits for while
// another member of the group still does.
func (c *Client) Intend(ctx context.Context, r pipeline.Range) error {
	if r.First > r.Last || r.First < 0 {
		return fmt.Errorf("clickhouse: intend %s/%s/%d: offsets %d-%d: first must be ≥ 0 and ≤ last", r.Group, r.Topic, r.Partition, r.First, r.Last)
	}
	if err := c.intents.record(ctx, r, c.insertRanges); err != nil {
		return fmt.Errorf("clickhouse: intend %s/%s/%d [%d, %d]: %w", r.Group, r.Topic, r.Partition, r.First, r.Last, err)
	}
	return nil
}

// insertRanges records rs in LedgerTable with one synchronous INSERT.
func (c *Client) insertRanges(ctx context.Context, rs []pipeline.Range) (err error) {
	ctx, end := traceInsert(ctx, LedgerTable, len(rs))
	defer func() { end(err) }()
	var q strings.Builder
	q.WriteString("INSERT INTO " + qualified(c.db, LedgerTable) +
		" (`group`, `topic`, `topic_id`, `partition`, `first`, `last`, `written_at`, `repairable`) VALUES ")
	args := make([]any, 0, 6*len(rs))
	for i, r := range rs {
		if i > 0 {
			q.WriteString(", ")
		}
		q.WriteString("(?, ?, ?, ?, ?, ?, now64(3), 1)")
		args = append(args, r.Group, r.Topic, r.TopicID, r.Partition, r.First, r.Last)
	}
	if err := c.conn.Exec(syncInsert(ctx), q.String(), args...); err != nil {
		if len(rs) == 1 {
			return c.redact(err)
		}
		return fmt.Errorf("in one insert of %d ranges: %w", len(rs), c.redact(err))
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
