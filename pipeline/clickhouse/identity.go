package clickhouse

import (
	"context"
	"fmt"
	"sort"
	"sync"
)

// Rows of LedgerTable and EventIDsTable written before topic ids were kept hold
// topic_id ''. They belong to the incarnation of their topic that existed when an
// instance that keeps topic ids first started: ClaimTopics records it in the ledger
// as a claim row (group '', partition -1, first and last -1, topic_id = the
// incarnation), once per topic, and the earliest claim wins. Ranges and SeenIDs of
// that incarnation include the '' rows; those of any other incarnation (the topic
// deleted and created again) never do. A topic without a claim (it did not exist at
// start) owns no '' rows. Claims expire with the ledger's TTL, after the rows they
// are about, which are older.

// claims maps a topic to the incarnation that owns its rows without a topic id.
type claims struct {
	mu sync.RWMutex
	m  map[string]string
}

// topicIDs returns the values of topic_id whose rows belong to the incarnation
// topicID of topic: topicID, and the empty id when topicID owns the rows without one
// (or is itself empty: a broker without topic ids).
func (c *claims) topicIDs(topic, topicID string) (string, string) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if owner, ok := c.m[topic]; topicID == "" || ok && owner == topicID {
		return topicID, ""
	}
	return topicID, topicID
}

// ClaimTopics records, for each topic of current (topic → the pipeline.TopicID of
// the incarnation that exists now), that the ledger and event-id rows without a topic
// id belong to that incarnation, unless an earlier start claimed them already; it
// then loads every claim of those topics for Ranges and SeenIDs. Call it at start,
// before consuming; topics with an empty id (brokers without topic ids) are skipped.
// It returns the claims that name another incarnation than current's: the topic was
// deleted and created again since they were made.
func (c *Client) ClaimTopics(ctx context.Context, current map[string]string) (recreated map[string]string, err error) {
	var topics []string
	for t, id := range current {
		if id != "" {
			topics = append(topics, t)
		}
	}
	if len(topics) == 0 {
		return nil, nil
	}
	sort.Strings(topics)
	got, err := c.readClaims(ctx, topics)
	if err != nil {
		return nil, err
	}
	claimed := false
	for _, t := range topics {
		if _, ok := got[t]; ok {
			continue
		}
		q := "INSERT INTO " + qualified(c.db, LedgerTable) +
			" (`group`, `topic`, `topic_id`, `partition`, `first`, `last`, `written_at`) VALUES ('', ?, ?, -1, -1, -1, now64(3))"
		if err := c.conn.Exec(syncInsert(ctx), q, t, current[t]); err != nil {
			return nil, fmt.Errorf("clickhouse: claim rows without topic id for %s: %w", t, c.redact(err))
		}
		claimed = true
	}
	// Read again after claiming: of two instances claiming at once, the earliest
	// claim wins for both. A claim found is the earliest already (a later one
	// is written later).
	if claimed {
		if got, err = c.readClaims(ctx, topics); err != nil {
			return nil, err
		}
	}
	c.claims.mu.Lock()
	c.claims.m = got
	c.claims.mu.Unlock()
	for t, id := range got {
		if id != current[t] {
			if recreated == nil {
				recreated = make(map[string]string)
			}
			recreated[t] = id
		}
	}
	return recreated, nil
}

// readClaims returns the earliest claim of each of topics that has one.
func (c *Client) readClaims(ctx context.Context, topics []string) (map[string]string, error) {
	q := "SELECT `topic`, argMin(`topic_id`, `written_at`) FROM " + qualified(c.db, LedgerTable) +
		" WHERE `group` = '' AND `topic` IN (?) AND `partition` = -1 GROUP BY `topic`"
	rows, err := c.conn.Query(ctx, q, topics)
	if err != nil {
		return nil, fmt.Errorf("clickhouse: read topic claims: %w", c.redact(err))
	}
	defer rows.Close()
	out := make(map[string]string, len(topics))
	for rows.Next() {
		var t, id string
		if err := rows.Scan(&t, &id); err != nil {
			return nil, fmt.Errorf("clickhouse: read topic claims: scan: %w", err)
		}
		out[t] = id
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("clickhouse: read topic claims: %w", c.redact(err))
	}
	return out, nil
}
