package producers

import (
	"context"
	"encoding/hex"

	"github.com/twmb/franz-go/pkg/kgo"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// Trace-context headers (W3C Trace Context) a Publisher sets on a record published
// while a span is active, so the consumer can link its work to the publisher's trace.
const (
	HeaderTraceparent = "traceparent"
	HeaderTracestate  = "tracestate"
)

// injectTrace adds the traceparent (and tracestate) headers of the span active in
// ctx to r; without an active span it does nothing and allocates nothing.
func injectTrace(ctx context.Context, r *kgo.Record) {
	sc := trace.SpanContextFromContext(ctx)
	if !sc.IsValid() {
		return
	}
	r.Headers = append(r.Headers, kgo.RecordHeader{Key: HeaderTraceparent, Value: Traceparent(sc)})
	if ts := sc.TraceState().String(); ts != "" {
		r.Headers = append(r.Headers, kgo.RecordHeader{Key: HeaderTracestate, Value: []byte(ts)})
	}
}

// Traceparent formats sc as a version-00 W3C traceparent header value:
// 00-<trace id>-<span id>-<flags>.
func Traceparent(sc trace.SpanContext) []byte {
	b := make([]byte, 55)
	b[0], b[1], b[2] = '0', '0', '-'
	tid, sid := sc.TraceID(), sc.SpanID()
	hex.Encode(b[3:35], tid[:])
	b[35] = '-'
	hex.Encode(b[36:52], sid[:])
	b[52] = '-'
	hex.Encode(b[53:55], []byte{byte(sc.TraceFlags())})
	return b
}

// traceRecord gives r the trace context of ctx's active span or, with a Tracer and no
// active span, of a new "publish <topic>" span that done ends. It returns the context
// and done to produce with.
func (p *Publisher) traceRecord(ctx context.Context, r *kgo.Record, done func(error)) (context.Context, func(error)) {
	if p.tracer != nil && !trace.SpanContextFromContext(ctx).IsValid() {
		var span trace.Span
		ctx, span = p.tracer.Start(ctx, "publish "+r.Topic, trace.WithSpanKind(trace.SpanKindProducer),
			trace.WithAttributes(attribute.String("messaging.system", "kafka"), attribute.String("messaging.destination.name", r.Topic)))
		next := done
		done = func(err error) {
			if err != nil {
				span.RecordError(err)
				span.SetStatus(codes.Error, err.Error())
			} else {
				span.SetAttributes(attribute.Int("messaging.destination.partition.id", int(r.Partition)), attribute.Int64("messaging.kafka.offset", r.Offset))
			}
			span.End()
			call(next, err)
		}
	}
	injectTrace(ctx, r)
	return ctx, done
}
