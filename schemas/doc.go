// Package schemas owns Sluice's event types: their JSON decoding and validation, the
// rows they become, and the ClickHouse tables those rows land in.
//
// It is pure: no I/O, no goroutines, no global state. Everything here is safe to call
// from any goroutine on values the caller owns; a Batch belongs to one goroutine at a time.
//
// Event types are data: an EventType is compiled from a JSON Schema document with
// an x-sluice block (ParseEventType, LoadEventTypes; docs/event-types.md), and its
// NewBatch, TypeDDL and Evolve give the batches, tables and migrations of any
// stream. The built-in payments and shipments are such documents
// (BuiltinEventTypes, from jsonschema/*.schema.json); the hand-written Payment and
// Shipment decoders and batches below are kept beside them, and a differential
// test holds the two to the same Blocks and Invalid reasons.
//
// For payments (Payment) and shipments (Shipment), a Batch
// accumulates the valid events of one Kafka partition between two flushes, as raw rows
// and as per-window rollup partials, and hands them out as column Blocks ready for a
// ClickHouse columnar insert. Raw rows are kept in flat columns (StringColumn,
// DictColumn for LowCardinality strings, MapColumn, MillisColumn) that hold a row in
// less memory than its JSON record and need no allocation per row; the batch's
// decoder reuses one scratch arena per record, and only what a column keeps is
// copied. A record that cannot be decoded or fails validation is
// reported as an *Invalid error carrying a short machine-readable reason.
//
// Every rollup table ends with a hidden key column, FlushColumn. An EventType's
// batch is a FlushMarker: given its flush's token, its rollup blocks carry one
// neutral marker row per table partition, by which a lost insert is told from a
// stored one (docs/exactly-once.md); SelectRows cuts the rows to store again out of
// a Block.
//
// Usage:
//
//	b := schemas.NewPaymentBatch(schemas.Options{Window: time.Minute, Raw: true})
//	if err := b.Add(value, &schemas.Meta{Topic: "payments", Partition: 3, Offset: 42}); err != nil {
//		var inv *schemas.Invalid // dead-letter the record with inv.Reason
//	}
//	for _, blk := range b.Blocks() { /* insert blk.Columns into blk.Table */ }
//
// and for any event type:
//
//	types, err := schemas.LoadEventTypes(os.DirFS(dir)) // err lists every mistake
//	stmts := schemas.TypeDDL(schemas.DDLOptions{Window: time.Minute}, types...)
//	b := types[0].NewBatch(schemas.Options{Raw: types[0].Raw()})
package schemas
