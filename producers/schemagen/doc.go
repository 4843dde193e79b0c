// Package schemagen generates random valid events of any event type
// (schemas.EventType) from its declared properties, with a share of invalid
// records and producer retries, together with the exact ground truth of every
// rollup the type defines: what `sluice loadgen --schema` publishes and what the
// end-to-end tests of event types compare ClickHouse with.
//
// Values respect each property's type, enum, bounds (minimum, maximum and their
// exclusive forms), minLength/maxLength (UTF-8 bytes), pattern, maxItems and
// maxProperties, nested objects, maps, arrays, nullable and optional properties;
// decimals (x-clickhouse-type Decimal(P, S)) are exact, written as JSON numbers
// (as decimal strings when the property's type is "string"). Patterns are generated from their syntax tree
// (regexp/syntax: literals, classes, repetitions, alternations) and checked with
// the compiled pattern; a pattern the generator cannot satisfy (look-arounds are
// not RE2, but e.g. a class intersected with a length bound may be) is an error of
// New. Floats are multiples of 0.25, so their sums are exact in Float64. The event
// time advances from Config.Start at Config.EventRate events per second; each
// record's Kafka timestamp is its event time plus at most half a second.
//
// The truth is computed from the generated values alone, never through the
// schemas package's decoders or batches, so it is an oracle for them: per rollup
// table, one row per (window, dimensions) with each measure exact (counts, sums,
// minima and maxima as canonical decimal text), plus the record counts, the raw
// rows expected and the dead-letter reason of every invalid record. A producer
// retry (a byte-identical copy of an earlier valid record with the same key)
// counts once when the type has an event_id and twice when it has none (Sluice
// cannot tell the copies apart then). An absent property counts as its column's
// default (0, "" or false), which is what the raw table stores.
//
// Invalid records are valid events with one deliberate mistake, each with the
// reason Sluice must dead-letter it with (Record.InvalidKind): malformed_json,
// missing_field, bad_enum, out_of_range, bad_type, bad_timestamp, bad_format,
// string_too_long, duplicate_field, and, against the default SLUICE_MAX_LATENESS
// and SLUICE_MAX_CLOCK_SKEW (Config.MaxLateness, Config.MaxClockSkew), too_late
// and from_future. A kind is used only when the type has a property it applies to.
//
// Concurrency: a Generator and its Truth belong to one goroutine; loadgen.Run
// publishes a Generator (it is a loadgen.Source). Nothing here reads the
// environment, logs or does I/O.
//
// Usage:
//
//	gen, err := schemagen.New(eventType, schemagen.Config{Seed: 1, Records: 10_000, InvalidRate: 0.01})
//	if err != nil { return err }
//	if _, err := loadgen.Run(ctx, pub, gen, loadgen.RunOptions{}); err != nil { return err }
//	json.NewEncoder(f).Encode(gen.Truth())
package schemagen
