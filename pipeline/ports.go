package pipeline

import (
	"context"
	"time"

	"github.com/sluicehq/sluice/schemas"
)

// Sink durably stores the blocks of one flush. Store blocks until every block is stored
// or ctx is done, and is safe for concurrent use. token identifies the flush: storing
// the same token again (a replay after a crash, or a retry after an unknown outcome)
// must not store any row twice. An error means the outcome is unknown; the caller
// retries with the same token.
type Sink interface {
	Store(ctx context.Context, token string, blocks []schemas.Block) error
}

// Ledger remembers, per partition, the ranges that flushes were about to store, so a
// replay after a crash cuts its batches exactly where the first attempt did. It is safe
// for concurrent use.
type Ledger interface {
	// Intend durably records r before its blocks are stored.
	Intend(ctx context.Context, r Range) error
	// Ranges returns the ranges that any group recorded for one partition of the
	// incarnation topicID of topic whose Last is at or after from, ordered by First
	// (then Last, then Group). Ranges recorded without a topic id belong to the
	// incarnation the adapter assigns them to (see docs/exactly-once.md).
	Ranges(ctx context.Context, topic, topicID string, partition int32, from int64) ([]Range, error)
}

// SeenIDs loads the event ids a partition already stored, so producer duplicates
// are recognised across restarts and rebalances.
type SeenIDs interface {
	// SeenIDs calls fn, in offset order, for each event id group stored from
	// partition of the incarnation topicID of topic at an offset before `before`
	// whose timestamp is at or after since; with limit > 0, only for the limit ids
	// with the highest offsets.
	SeenIDs(ctx context.Context, group, topic, topicID string, partition int32, before int64, since time.Time, limit int, fn func(id string, ts int64)) error
}

// Repairer completes a flush that ClickHouse may have lost after keeping its
// token: a non-replicated table records an insert's token before its part
// becomes active, so a server killed in between drops the part while a retry or
// replay with the same token is dropped as a duplicate (docs/exactly-once.md).
// Repair is called with the flush's Range after Sink.Store(ctx, Token(r),
// blocks) succeeded, when the flush's outcome was unknown at some point: a Store
// attempt failed, or the flush replays a range an earlier owner may have stored.
// Where the store may have been hit (the server restarted since r was recorded),
// it finds the rows of blocks that ClickHouse does not hold and stores exactly
// those under tokens derived from Token(r), the same way on every call, until
// none is missing; it returns how many rows it found
// missing, and how many it could not make stay (something removes them, e.g. a
// TTL; retrying does not help). An error means the repair did not finish; the
// caller retries it with the same arguments. It is safe for concurrent use.
type Repairer interface {
	Repair(ctx context.Context, r Range, blocks []schemas.Block) (lost, unrepaired int, err error)
}
