// Package loadgen generates realistic, reproducible Sluice traffic together with its
// exact ground truth, and drives it into Kafka.
//
// A Generator turns a Config into a deterministic stream of Records (topic, key,
// value): the same Config gives the same bytes. Payments follow authorized →
// captured/failed(/refunded) lifecycles with a Zipf-like merchant popularity, mostly
// INR with some USD, EUR, GBP, SGD and AED, and a UPI/card/netbanking/wallet mix with
// method-specific decline rates. Shipments move created → picked_up → scanned at each
// hub of their route → out_for_delivery → delivered, with occasional exceptions. Event
// times advance at Config.EventRate with jitter; a LateRate share lies minutes to
// hours behind. InvalidRate and DuplicateRate inject invalid records (see the kinds in
// invalid.go, each rejected by the schemas decoders) and byte-identical re-emissions.
//
// The generator's Truth counts, per topic, records, distinct valid events, invalid
// records and duplicates, and holds the exact rollups over distinct valid events
// (payments by window, merchant, currency, method, event type; shipments by window,
// hub, carrier, event type). It encodes to stable JSON and a human summary; Diff
// compares two Truths, e.g. the generator's and one rebuilt from ClickHouse.
//
// Run publishes a Generator through a Sink (any async producer; *producers.Publisher
// is one) as fast as possible or at a target rate, bounded in flight, and returns
// after every record is acknowledged.
//
// Concurrency: a Generator and a Truth belong to one goroutine. Run calls Next on the
// caller's goroutine; the sink's callbacks only release in-flight slots and record
// errors. Nothing here reads the environment or logs; there are no metrics.
//
// Usage:
//
//	gen, err := loadgen.NewGenerator(loadgen.Config{Seed: 1, Payments: 60_000, Shipments: 40_000, InvalidRate: 0.01})
//	if err != nil { return err }
//	if _, err := loadgen.Run(ctx, pub, gen, loadgen.RunOptions{Rate: 5000}); err != nil { return err }
//	gen.Truth().WriteSummary(os.Stdout)
package loadgen
