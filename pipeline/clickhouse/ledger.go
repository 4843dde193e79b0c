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
	q := "INSERT INTO " + qualified(c.db, LedgerTable) +
		" (`group`, `topic`, `topic_id`, `partition`, `first`, `last`, `written_at`, `repairable`) VALUES " +
		repeated("(?, ?, ?, ?, ?, ?, now64(3), 1)", ", ", len(rs))
	args := make([]any, 0, 6*len(rs))
	for _, r := range rs {
		args = append(args, r.Group, r.Topic, r.TopicID, r.Partition, r.First, r.Last)
	}
	if err := c.conn.Exec(syncInsert(ctx), q, args...); err != nil {
		return c.shared(err, "insert", len(rs), "ranges")
	}
	return nil
}

// repeated is term n (≥ 1) times, separated by sep: the rows or conditions of
// the statement that n calls share.
func repeated(term, sep string, n int) string {
	return strings.Repeat(term+sep, n-1) + term
}

// shared is err, redacted, of a statement (what) that n calls (of kind) shared.
func (c *Client) shared(err error, what string, n int, kind string) error {
	if n == 1 {
		return c.redact(err)
	}
	return fmt.Errorf("in one %s of %d %s: %w", what, n, kind, c.redact(err))
}

// Ranges returns the distinct ranges every group recorded for one partition of the
// incarnation topicID of topic whose Last is at or after from, ordered by First, Last
// and Group. Rows without a topic id are included when topicID owns them (see
// ClaimTopics), with an empty TopicID, so that their replay reuses their token.
// Concurrent calls share queries (intents), as Intend's share inserts: the new
// owners of a rebalance's partitions read the ledger in a few queries, not one
// each; every call gets exactly the rows its own query would have returned.
func (c *Client) Ranges(ctx context.Context, topic, topicID string, partition int32, from int64) ([]pipeline.Range, error) {
	id, alt := c.claims.topicIDs(topic, topicID)
	r := &rangesRead{topic: topic, id: id, alt: alt, partition: partition, from: from}
	if err := c.reads.record(ctx, r, c.readRanges); err != nil {
		return nil, fmt.Errorf("clickhouse: ranges of %s/%d from %d: %w", topic, partition, from, err)
	}
	return r.out, nil
}

// rangesRead is one Ranges call in a shared query: the rows it selects (those of
// topic and partition whose topic_id is id or alt and whose last is at or after
// from), and out, its ranges, once the query returned.
type rangesRead struct {
	topic, id, alt string
	partition      int32
	from           int64
	out            []pipeline.Range
}

// wants reports whether the ledger row (topic, topicID, partition, last) is one r
// selects.
func (r *rangesRead) wants(topic, topicID string, partition int32, last int64) bool {
	return topic == r.topic && partition == r.partition && (topicID == r.id || topicID == r.alt) && last >= r.from
}

// readRanges reads the ledger rows of rs with one query and gives each its own,
// in order.
func (c *Client) readRanges(ctx context.Context, rs []*rangesRead) error {
	q := "SELECT DISTINCT `topic`, `partition`, `group`, `topic_id`, `first`, `last` FROM " + qualified(c.db, LedgerTable) +
		" WHERE `group` != '' AND (" +
		repeated("(`topic` = ? AND `topic_id` IN (?, ?) AND `partition` = ? AND `last` >= ?)", " OR ", len(rs)) +
		") ORDER BY `first`, `last`, `group`"
	args := make([]any, 0, 5*len(rs))
	for _, r := range rs {
		args = append(args, r.topic, r.id, r.alt, r.partition, r.from)
		r.out = nil
	}
	rows, err := c.conn.Query(ctx, q, args...)
	if err != nil {
		return c.shared(err, "query", len(rs), "partitions")
	}
	defer rows.Close()
	for rows.Next() {
		var g pipeline.Range
		if err := rows.Scan(&g.Topic, &g.Partition, &g.Group, &g.TopicID, &g.First, &g.Last); err != nil {
			return fmt.Errorf("scan: %w", err)
		}
		for _, r := range rs {
			if r.wants(g.Topic, g.TopicID, g.Partition, g.Last) {
				r.out = append(r.out, g)
			}
		}
	}
	if err := rows.Err(); err != nil {
		return c.shared(err, "query", len(rs), "partitions")
	}
	return nil
}
