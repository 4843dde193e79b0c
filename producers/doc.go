// Package producers is what upstream services, the load generator and Sluice's
// dead-letter path publish to Kafka with.
//
// It owns: the typed Publisher (payments keyed by merchant_id, shipments by
// shipment_id, validated with package schemas before anything is sent, JSON-encoded
// with segmentio/encoding), the deterministic EventID helper, and the DeadLetters
// writer (which cuts a dead letter to the topic's limit, MaxRecordBytes, and marks it
// with the sluice.truncated headers) with its reader ParseDeadLetter. It does not own
// topic creation, consuming, or retry policy beyond franz-go's own (idempotent
// producer, unlimited retries).
//
// Tracing: a record published with a context holding an OpenTelemetry span carries
// that span's W3C trace context (traceparent, tracestate headers), so the consumer can
// link its work to the publisher's trace; without a span nothing is added. Dead
// letters keep the source record's headers, trace context included.
//
// Concurrency: a Publisher and a DeadLetters are safe for concurrent use. Async
// callbacks (done) run on franz-go's goroutines, are called exactly once, and must not
// block. Sync publishes return only after the broker acknowledged (or failed) the
// record. Close flushes everything accepted before it (it blocks until each record is
// acknowledged or failed, and so can wait as long as the brokers are unreachable) and
// then closes the client it built; a Client passed in with the Client option belongs
// to the caller.
//
// Errors: *InvalidEventError (wrapping the schemas error) for an event rejected before
// sending; ErrClosed after Close; ErrNotDeadLetter from ParseDeadLetter; otherwise
// franz-go's errors wrapped with the topic and event id. The package exports no
// metrics; use kgo hooks (e.g. plugin/kprom) through ClientOptions.
//
// Usage:
//
//	pub, err := producers.NewPublisher(producers.Brokers("localhost:9092"), producers.Linger(5*time.Millisecond))
//	if err != nil { return err }
//	defer pub.Close() // flushes
//	p := &schemas.Payment{EventID: producers.EventID("order-42", "captured"), /* … */}
//	err = pub.PublishPayment(ctx, p) // returns once acknowledged
package producers
