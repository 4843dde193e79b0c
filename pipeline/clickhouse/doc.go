// Package clickhouse is the pipeline's ClickHouse adapter: one Client, over the
// native protocol, implements pipeline.Sink (Store), pipeline.Ledger (Intend,
// Ranges), pipeline.SeenIDs (SeenIDs) and pipeline.Repairer (Repair), and runs
// schema migrations.
//
// Queries, DDL and the ledger go through clickhouse-go. Store's inserts go through
// ch-go, the native-protocol engine clickhouse-go is built on, with column encoders
// of this package (nativecol.go) that write a Block's columns, including the flat
// schemas.StringColumn, DictColumn, MapColumn and MillisColumn, straight into the
// wire buffer, in blocks of at most 16,384 rows. clickhouse-go's batch API first
// copies every value into its own column types and boxes each LowCardinality value
// in an interface, which costs more CPU than decoding the events
// (docs/benchmarks.md). Each column is checked against the type the server
// announces for it before any of its data is sent.
//
// It owns the SQL: the INSERT of each schemas.Block, the internal tables
// sluice_ledger and sluice_event_ids (DDL), and the queries that read them back
// (SeenIDs also reads raw tables' event ids, through their schemas.OffsetsProjection). It
// does not own the event tables' schemas (package schemas builds their DDL and
// Blocks), retries (the pipeline retries with backoff; every method makes one
// attempt) or Kafka offsets.
//
// # Exactly once
//
// Store inserts each block as one synchronous INSERT (async_insert=0) with
// insert_deduplicate=1 and insert_deduplication_token set to the flush's token. A
// server that has seen the token for that table within the table's
// non_replicated_deduplication_window (replicated_deduplication_window for
// Replicated tables) drops the insert, so storing a token again stores nothing twice.
// This holds per server for non-replicated tables: the Client connects to Addrs in
// order and stays on the first that answers, so a retry reaches the same server. The
// window must cover every insert into a table between a flush and its last replay.
// Replicated deduplication itself cannot be tested with the local engine
// (docs/exactly-once.md, Clusters).
//
// On one server a crash between writing a token to a table's deduplication log and
// activating its part keeps the token and loses the rows; Repair (repair.go) finds
// what a flush left (raw rows and event ids by offset, rollup rows by their flush
// markers, schemas.FlushColumn) and stores the missing rows under derived tokens,
// for ranges recorded before the server's last start.
//
// Ledger ranges and event ids carry the topic id of their topic's incarnation
// (topic_id), and Ranges and SeenIDs read only those of the incarnation asked for.
// Rows written before topic ids were kept have an empty one; they belong to the
// incarnation ClaimTopics finds at start (identity.go), which callers run before
// consuming.
//
// # Concurrency
//
// A Client is safe for concurrent use. Each call holds one pooled connection for its
// duration; Options.MaxConns bounds them, and a call waits for a free connection
// until its context is done. Close ends every connection. Concurrent Intend calls
// share the ledger's inserts (group commit, intents.go): while one is in flight the
// calls that arrive wait, then go together in the next, sent by one of them.
// Concurrent Ranges calls share the ledger's queries the same way (one query
// selects every call's rows, and each call gets its own). The Client runs no
// goroutine of its own.
//
// # Errors
//
// Errors are wrapped with what was being done ("clickhouse: insert 100 rows into
// payments: …") and never contain the password. IsPermanent reports errors that
// cannot succeed on retry: ErrInvalidBlock (a column that does not fit its table's
// type among them), values clickhouse-go cannot convert, and
// server errors about the schema, the statement or the credentials (UNKNOWN_TABLE,
// NO_SUCH_COLUMN_IN_TABLE, UNKNOWN_DATABASE, TYPE_MISMATCH, SYNTAX_ERROR,
// ACCESS_DENIED, AUTHENTICATION_FAILED, …). Any other error leaves the outcome
// unknown: retry with the same token. An error whose cause has a known fix has a
// Hint() method saying it and ends with it: run `sluice migrate` for a missing
// table, database or column, change a retyped column back, or the GRANT that an
// ACCESS_DENIED asks for.
//
// # Metrics
//
// The package exports no metrics; callers time Store and count its errors.
//
// # Usage
//
//	c, err := clickhouse.Open(ctx, clickhouse.Options{Addrs: []string{"127.0.0.1:9000"}, Database: "sluice"})
//	if err != nil { return err }
//	defer c.Close()
//	if err := c.Migrate(ctx, clickhouse.DDL(clickhouse.DDLOptions{Database: "sluice"})); err != nil { return err }
//	err = c.Store(ctx, "g:payments:3:100-199", batch.Blocks())
package clickhouse
