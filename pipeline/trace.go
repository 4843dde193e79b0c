package pipeline

import (
	"context"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/sluicehq/sluice/schemas"
)

// Tracing: with Deps.Tracer set, every flush is one span, "flush <topic>", from the
// moment its batch opened until its offsets were marked, with the attributes
// sluice.topic, sluice.partition, sluice.offset.first, sluice.offset.last,
// sluice.records, sluice.events, sluice.token and sluice.rows.<table>, linked to
// the sampled trace contexts (W3C traceparent headers) of up to MaxLinks of the events
// it stored. Its children are "decode" (the batch filling: decode, validate,
// aggregate), "dedup" (building the EventIDsTable block, for topics without
// RawIDs), "ledger" (the ledger write), "store" (every insert of the flush, with a
// child per table from the sink) and "commit" (the offsets marked for the next
// commit). The traceparent header is
// read only with a Tracer set, and a record without one costs a length check.

// MaxLinks is the most record trace contexts one flush span links to (the SDK's
// default link limit); sluice.links_dropped counts the others.
const MaxLinks = 128

// HeaderTraceparent is the W3C trace-context header a publisher sets on a record.
const HeaderTraceparent = "traceparent"

// link records r's trace context for the flush span, if r carries a sampled one.
func (s *slot) link(r *kgo.Record) {
	for i := range r.Headers {
		h := &r.Headers[i]
		if h.Key != HeaderTraceparent {
			continue
		}
		if len(s.links) == MaxLinks {
			// Full: only the sampled flag matters, for the count of dropped links.
			if len(h.Value) >= 55 {
				if flags, ok := fromHex(h.Value[54]); ok && flags&byte(trace.FlagsSampled) != 0 {
					s.linksDropped++
				}
			}
			return
		}
		sc, ok := parseTraceparent(h.Value)
		if !ok || !sc.IsSampled() {
			return
		}
		if s.links == nil {
			s.links = make([]trace.Link, 0, MaxLinks)
		}
		s.links = append(s.links, trace.Link{SpanContext: sc})
		return
	}
}

// parseTraceparent reads a version-00 traceparent, "00-<32 hex>-<16 hex>-<2 hex>",
// without allocating.
func parseTraceparent(v []byte) (trace.SpanContext, bool) {
	if len(v) < 55 || v[0] != '0' || v[1] != '0' || v[2] != '-' || v[35] != '-' || v[52] != '-' {
		return trace.SpanContext{}, false
	}
	var tid trace.TraceID
	var sid trace.SpanID
	var flags [1]byte
	if !unhex(tid[:], v[3:35]) || !unhex(sid[:], v[36:52]) || !unhex(flags[:], v[53:55]) {
		return trace.SpanContext{}, false
	}
	sc := trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: sid, TraceFlags: trace.TraceFlags(flags[0]), Remote: true})
	return sc, sc.IsValid()
}

func unhex(dst, src []byte) bool {
	for i := range dst {
		hi, ok1 := fromHex(src[2*i])
		lo, ok2 := fromHex(src[2*i+1])
		if !ok1 || !ok2 {
			return false
		}
		dst[i] = hi<<4 | lo
	}
	return true
}

func fromHex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	}
	return 0, false
}

// flushTrace is the flush span of one stored slot.
type flushTrace struct {
	span trace.Span
	s    *slot
}

// traceFlush starts the flush span of s (and its finished "decode" child) when
// tracing is on. It returns the context the store runs in, mark wrapped to record
// the "commit" span, and the flush trace to end; without a Tracer they are ctx, mark
// and nil.
func (w *Worker) traceFlush(ctx context.Context, s *slot, mark func(*kgo.Record)) (context.Context, func(*kgo.Record), *flushTrace) {
	tr := w.p.deps.Tracer
	if tr == nil {
		return ctx, mark, nil
	}
	now := time.Now()
	opened := s.opened
	if opened.IsZero() || opened.After(now) {
		opened = now
	}
	invalid := int64(0)
	for _, n := range s.reasons {
		invalid += n
	}
	valid := s.fresh.seen
	ctx, span := tr.Start(ctx, "flush "+w.topic, trace.WithTimestamp(opened), trace.WithLinks(s.links...),
		trace.WithSpanKind(trace.SpanKindConsumer),
		trace.WithAttributes(
			attribute.String("sluice.topic", w.topic),
			attribute.Int("sluice.partition", int(w.partition)),
			attribute.Int64("sluice.offset.first", s.r.First),
			attribute.Int64("sluice.offset.last", s.r.Last),
			attribute.Int64("sluice.records", s.n),
			attribute.Int64("sluice.events", valid),
			attribute.String("sluice.token", Token(s.r)),
			attribute.Bool("sluice.replay", s.replay),
			attribute.Int("sluice.links_dropped", s.linksDropped),
		))
	_, dec := tr.Start(ctx, "decode", trace.WithTimestamp(opened), trace.WithAttributes(
		attribute.Int64("sluice.records", s.n),
		attribute.Int64("sluice.events", valid),
		attribute.Int64("sluice.invalid", invalid),
		attribute.Int64("sluice.duplicates", s.n-valid-invalid),
	))
	dec.End(trace.WithTimestamp(now))
	traced := func(r *kgo.Record) {
		_, c := tr.Start(ctx, "commit", trace.WithAttributes(attribute.Int64("sluice.offset.marked", r.Offset)))
		mark(r)
		c.End()
	}
	return ctx, traced, &flushTrace{span: span, s: s}
}

// end ends the flush span with err's outcome and empties the slot's links.
func (f *flushTrace) end(err error) {
	if f == nil {
		return
	}
	if err != nil {
		f.span.RecordError(err)
		f.span.SetStatus(codes.Error, err.Error())
	}
	f.span.End()
	f.s.links, f.s.linksDropped = f.s.links[:0], 0
}

// dedupBlock is idsBlock in a "dedup" span (under the flush span in ctx, if any).
func (w *Worker) dedupBlock(ctx context.Context, s *slot) schemas.Block {
	tr := w.p.deps.Tracer
	if tr == nil {
		return w.idsBlock(s)
	}
	_, span := tr.Start(ctx, "dedup", trace.WithAttributes(attribute.Int("sluice.ids", s.pending.len())))
	b := w.idsBlock(s)
	span.End()
	return b
}

// tracedLedger puts every Intend in a "ledger" span.
type tracedLedger struct {
	Ledger
	tr trace.Tracer
}

func (l tracedLedger) Intend(ctx context.Context, r Range) error {
	ctx, span := l.tr.Start(ctx, "ledger", trace.WithAttributes(attribute.String("sluice.token", Token(r))))
	err := l.Ledger.Intend(ctx, r)
	endSpan(span, err)
	return err
}

// tracedSink puts every Store in a "store" span and sets the rows per table on the
// flush span around it.
type tracedSink struct {
	Sink
	tr trace.Tracer
}

func (t tracedSink) Store(ctx context.Context, token string, blocks []schemas.Block) error {
	flush := trace.SpanFromContext(ctx)
	attrs := make([]attribute.KeyValue, 0, len(blocks))
	for i := range blocks {
		attrs = append(attrs, attribute.Int("sluice.rows."+blocks[i].Table, blocks[i].Rows))
	}
	flush.SetAttributes(attrs...)
	ctx, span := t.tr.Start(ctx, "store", trace.WithAttributes(attribute.String("sluice.token", token), attribute.Int("sluice.blocks", len(blocks))))
	err := t.Sink.Store(ctx, token, blocks)
	endSpan(span, err)
	return err
}

func endSpan(span trace.Span, err error) {
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
	}
	span.End()
}

// traced decorates d's Ledger and Sink with spans when d has a Tracer.
func traced(d Deps) Deps {
	if d.Tracer == nil {
		return d
	}
	d.Ledger = tracedLedger{d.Ledger, d.Tracer}
	d.Sink = tracedSink{d.Sink, d.Tracer}
	return d
}
