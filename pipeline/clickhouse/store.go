package clickhouse

import (
	"context"
	"fmt"
	"strings"

	"github.com/sourcegraph/conc/pool"

	"github.com/sluicehq/sluice/schemas"
)

// Store inserts each block with Rows > 0 into Database().Table as one synchronous
// INSERT carrying insert_deduplication_token = token, so storing the same token again
// (within the tables' non_replicated_deduplication_window) stores nothing twice. It
// makes one attempt per block, all blocks at once, and returns their errors joined:
// the caller retries the whole call with the same token, and blocks already stored
// are dropped by the server as duplicates. token must be non-empty and identify the flush (see
// pipeline.Range). Blocks are checked before anything is sent; an invalid block is an
// ErrInvalidBlock. Store is safe for concurrent use.
func (c *Client) Store(ctx context.Context, token string, blocks []schemas.Block) error {
	if token == "" {
		return fmt.Errorf("%w: empty deduplication token", ErrInvalidBlock)
	}
	for i := range blocks {
		if err := checkBlock(&blocks[i]); err != nil {
			return err
		}
	}
	settings := insertSettings(token)
	// The blocks go to different tables, each deduplicated by its own copy of the
	// token: insert them at the same time, so a flush costs one round trip, not one
	// per table.
	p := pool.New().WithErrors().WithContext(ctx)
	for i := range blocks {
		b := &blocks[i]
		if b.Rows == 0 {
			continue
		}
		p.Go(func(ctx context.Context) (err error) {
			ctx, end := traceInsert(ctx, b.Table, b.Rows)
			defer func() { end(err) }()
			if err := c.ins.insert(ctx, insertQuery(c.db, b.Table, b.Names), b, settings); err != nil {
				return fmt.Errorf("clickhouse: insert %d rows into %s: %w", b.Rows, b.Table, c.redact(err))
			}
			return nil
		})
	}
	return p.Wait()
}

// insertQuery is INSERT INTO `db`.`table` (`a`, `b`, …).
func insertQuery(db, table string, names []string) string {
	var q strings.Builder
	q.WriteString("INSERT INTO ")
	q.WriteString(qualified(db, table))
	q.WriteString(" (")
	for i, n := range names {
		if i > 0 {
			q.WriteString(", ")
		}
		q.WriteString(quote(n))
	}
	q.WriteString(")")
	return q.String()
}

// checkBlock verifies b's shape: a table, one name per column, unique names, and
// every column a slice of length Rows.
func checkBlock(b *schemas.Block) error {
	if err := validIdent("table", b.Table); err != nil {
		return fmt.Errorf("%w: %v", ErrInvalidBlock, err)
	}
	if b.Rows < 0 {
		return fmt.Errorf("%w: table %s: Rows = %d", ErrInvalidBlock, b.Table, b.Rows)
	}
	if b.Rows == 0 {
		return nil
	}
	if len(b.Names) == 0 || len(b.Names) != len(b.Columns) {
		return fmt.Errorf("%w: table %s: %d names for %d columns", ErrInvalidBlock, b.Table, len(b.Names), len(b.Columns))
	}
	for i, n := range b.Names {
		if err := validIdent("column", n); err != nil {
			return fmt.Errorf("%w: table %s: %v", ErrInvalidBlock, b.Table, err)
		}
		for _, m := range b.Names[:i] {
			if m == n {
				return fmt.Errorf("%w: table %s: column %s named twice", ErrInvalidBlock, b.Table, n)
			}
		}
		if err := checkFlat(b.Columns[i]); err != nil {
			return fmt.Errorf("%w: table %s: column %s: %v", ErrInvalidBlock, b.Table, n, err)
		}
		rows := schemas.ColumnLen(b.Columns[i])
		if rows < 0 {
			return fmt.Errorf("%w: table %s: column %s is a %T, not a slice", ErrInvalidBlock, b.Table, n, b.Columns[i])
		}
		if rows != b.Rows {
			return fmt.Errorf("%w: table %s: column %s has %d values for %d rows", ErrInvalidBlock, b.Table, n, rows, b.Rows)
		}
	}
	return nil
}

// checkFlat verifies that a flat column's offsets and keys stay inside its data,
// so that encoding it cannot go out of bounds.
func checkFlat(c any) error {
	switch c := c.(type) {
	case schemas.StringColumn:
		return checkEnds(c.Ends, len(c.Data))
	case schemas.DictColumn:
		for _, k := range c.Keys {
			if int(k) >= len(c.Dict) {
				return fmt.Errorf("key %d past its %d-value dictionary", k, len(c.Dict))
			}
		}
	case schemas.MapColumn:
		if c.Keys.Len() != c.Values.Len() {
			return fmt.Errorf("%d keys for %d values", c.Keys.Len(), c.Values.Len())
		}
		if err := checkFlat(c.Keys); err != nil {
			return err
		}
		if err := checkFlat(c.Values); err != nil {
			return err
		}
		return checkEnds(c.Ends, c.Keys.Len())
	}
	return nil
}

// checkEnds verifies that ends never decrease and stay within n.
func checkEnds(ends []uint32, n int) error {
	prev := uint32(0)
	for _, e := range ends {
		if e < prev || int(e) > n {
			return fmt.Errorf("offsets out of order or past the %d values", n)
		}
		prev = e
	}
	return nil
}
