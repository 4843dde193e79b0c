package clickhouse

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"

	chgo "github.com/ClickHouse/ch-go"
	"github.com/ClickHouse/ch-go/proto"

	"github.com/sluicehq/sluice/schemas"
)

// nativeChunkRows is how many rows go in one native-protocol data block of an
// INSERT. It bounds the encoding buffer a connection keeps (a few MB) whatever the
// batch size; the server squashes the blocks of one INSERT back into one part
// (min_insert_block_size_rows), so the chunking changes neither the parts nor the
// deduplication, which stays deterministic for a given block.
const nativeChunkRows = 16384

// inserter sends Blocks over ch-go connections. ch-go is the native-protocol
// engine under clickhouse-go: using it directly lets a Block's Go slices be encoded
// straight into the wire buffer, where clickhouse-go's batch API first copies every
// value into its own columns (boxing each LowCardinality value in an interface),
// which costs more CPU than decoding the events (docs/benchmarks.md).
type inserter struct {
	opts  chgo.Options // Address is set per dial
	addrs []string
	slots chan struct{}     // one per connection in use
	idle  chan *chgo.Client // connections to reuse

	mu     sync.Mutex // guards closed and hands connections back to idle
	closed bool
}

// newInserter returns an inserter with at most maxConns connections.
func newInserter(o Options) *inserter {
	co := chgo.Options{
		Database:    "default",
		User:        o.User,
		Password:    o.Password,
		ClientName:  "sluice",
		DialTimeout: o.DialTimeout,
		ReadTimeout: o.ReadTimeout,
		TLS:         cloneTLS(o.TLS),
		Settings:    []chgo.Setting{{Key: "async_insert", Value: "0"}},
	}
	if o.Compress {
		co.Compression = chgo.CompressionLZ4
	}
	return &inserter{
		opts:  co,
		addrs: o.Addrs,
		slots: make(chan struct{}, o.MaxConns),
		idle:  make(chan *chgo.Client, o.MaxConns),
	}
}

func cloneTLS(c *tls.Config) *tls.Config {
	if c == nil {
		return nil
	}
	return c.Clone()
}

// get returns an idle connection (reused reports so) or dials one, trying the
// addresses in order so that a retry reaches the server the first attempt reached
// whenever it is up (deduplication of non-replicated tables is per server).
func (in *inserter) get(ctx context.Context) (c *chgo.Client, reused bool, err error) {
	select {
	case in.slots <- struct{}{}:
	case <-ctx.Done():
		return nil, false, ctx.Err()
	}
	for c := in.takeIdle(); c != nil; c = in.takeIdle() {
		if !c.IsClosed() {
			return c, true, nil
		}
	}
	var errs []error
	for _, addr := range in.addrs {
		o := in.opts
		o.Address = addr
		c, err := chgo.Dial(ctx, o)
		if err == nil {
			return c, false, nil
		}
		errs = append(errs, fmt.Errorf("%s: %w", addr, err))
		if ctx.Err() != nil {
			break
		}
	}
	<-in.slots
	return nil, false, errors.Join(errs...)
}

// takeIdle returns an idle connection, or nil if there is none.
func (in *inserter) takeIdle() *chgo.Client {
	select {
	case c := <-in.idle:
		return c
	default:
		return nil
	}
}

// put returns c for reuse, or closes it when its last query failed (its state is
// unknown) or the inserter is closed.
func (in *inserter) put(c *chgo.Client, failed bool) {
	defer func() { <-in.slots }()
	// Under mu, so that close cannot run between the check and the hand-back.
	in.mu.Lock()
	defer in.mu.Unlock()
	if failed || in.closed || c.IsClosed() {
		_ = c.Close()
		return
	}
	select {
	case in.idle <- c:
	default:
		_ = c.Close()
	}
}

// close closes the idle connections; connections in use are closed when put back.
func (in *inserter) close() {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.closed = true
	for c := in.takeIdle(); c != nil; c = in.takeIdle() {
		_ = c.Close()
	}
}

// insert sends b as one INSERT with settings. Each column is checked against the
// type the server announces for it before any data is sent (guarded), so a block
// that does not fit its table fails at once with a permanent ErrInvalidBlock. A
// reused connection that turns out to be broken (the server restarted since) is
// replaced once at once, so a restart does not cost every pooled connection a
// failed attempt and a backoff.
func (in *inserter) insert(ctx context.Context, query string, b *schemas.Block, settings []chgo.Setting) error {
	var (
		conn     *chgo.Client // the connection of the attempt in flight
		inferErr error        // set (before Do returns) by a guarded column
	)
	abort := func(err error) {
		inferErr = err
		_ = conn.Close()
	}
	cols := make([]nativeCol, len(b.Columns))
	input := make(proto.Input, len(b.Columns))
	for i, data := range b.Columns {
		col, err := newNativeCol(data)
		if err != nil {
			return fmt.Errorf("column %s: %w", b.Names[i], err)
		}
		cols[i] = col
		input[i] = proto.InputColumn{Name: b.Names[i], Data: guarded{nativeCol: col, name: b.Names[i], abort: abort}}
	}
	if len(input) > 0 {
		g := input[0].Data.(guarded)
		g.block = cols
		input[0].Data = g
	}
	for attempt := 0; ; attempt++ {
		c, reused, err := in.get(ctx)
		if err != nil {
			return err
		}
		conn = c
		err = c.Do(ctx, chunkedInsert(query, b.Rows, cols, input, settings))
		if inferErr != nil {
			in.put(c, true)
			return inferErr // not the closed connection it caused
		}
		in.put(c, err != nil)
		if err == nil || !reused || attempt > 0 || ctx.Err() != nil {
			return err
		}
		if _, isServer := chgo.AsException(err); isServer {
			return err
		}
	}
}

// guarded is a column whose failed Infer (the Go column cannot fill the table's
// column) closes the connection: the server is then waiting for data that will not
// come, and ch-go would wait for its answer until the read timeout.
type guarded struct {
	nativeCol
	name  string
	abort func(error)
	block []nativeCol // on a block's first column: all of them (WriteColumn)
}

// WriteColumn, on a block's first column, first grows the wire buffer by what
// the block's columns will write (blockSize): once per block, instead of by each
// column that does not fit, which copies what the block wrote before it (each of
// the pool's connections grows its own buffer to the largest block it sent).
func (g guarded) WriteColumn(w *proto.Writer) {
	if n := blockSize(g.block); n > 0 {
		w.ChainBuffer(func(b *proto.Buffer) { b.Buf = slices.Grow(b.Buf, n) })
	}
	g.nativeCol.WriteColumn(w)
}

func (g guarded) Infer(t proto.ColumnType) error {
	err := g.nativeCol.Infer(t)
	if err != nil {
		g.abort(fmt.Errorf("column %s: %w", g.name, err))
	}
	return err
}

// Prepare and EncodeState pass on what ch-go looks for on the column itself.
func (g guarded) Prepare() error {
	if p, ok := g.nativeCol.(proto.Preparable); ok {
		return p.Prepare()
	}
	return nil
}

func (g guarded) EncodeState(b *proto.Buffer) {
	if s, ok := g.nativeCol.(proto.StateEncoder); ok {
		s.EncodeState(b)
	}
}

// chunkedInsert is the ch-go query that sends rows rows of cols in blocks of at
// most nativeChunkRows.
func chunkedInsert(query string, rows int, cols []nativeCol, input proto.Input, settings []chgo.Setting) chgo.Query {
	lo := 0
	next := func() bool {
		if lo >= rows {
			return false
		}
		hi := min(lo+nativeChunkRows, rows)
		for _, c := range cols {
			c.window(lo, hi)
		}
		lo = hi
		return true
	}
	next()
	return chgo.Query{
		Body:     query + " VALUES",
		Input:    input,
		Settings: settings,
		OnInput: func(context.Context) error {
			if !next() {
				for _, c := range cols {
					c.window(rows, rows)
				}
				return io.EOF
			}
			return nil
		},
	}
}

// insertSettings are the per-INSERT settings of Store.
func insertSettings(token string) []chgo.Setting {
	return []chgo.Setting{
		{Key: "insert_deduplicate", Value: "1", Important: true},
		{Key: "insert_deduplication_token", Value: token, Important: true},
		{Key: "async_insert", Value: "0"},
		// Distributed tables (a cluster): return once every shard stored its rows.
		{Key: "distributed_foreground_insert", Value: "1"},
	}
}
