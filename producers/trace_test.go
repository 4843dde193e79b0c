package producers_test

import (
	"bytes"
	"context"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/sluicehq/sluice/producers"
)

// A record published under an active span carries its traceparent; with a Tracer, a
// record published without one gets its own "publish <topic>" span, ended with the
// broker's answer; without either, no header is added.
func TestPublisherTraceContext(t *testing.T) {
	addrs := newCluster(t, "payments", "shipments")
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })

	plain, err := producers.NewPublisher(producers.Brokers(addrs...))
	if err != nil {
		t.Fatal(err)
	}
	traced, err := producers.NewPublisher(producers.Brokers(addrs...), producers.Tracer(tp.Tracer("test")))
	if err != nil {
		t.Fatal(err)
	}
	ctx, parent := tp.Tracer("test").Start(t.Context(), "checkout")
	produce := func(p *producers.Publisher, ctx context.Context, value string) {
		errc := make(chan error, 1)
		p.Produce(ctx, "payments", []byte("k"), []byte(value), func(err error) { errc <- err })
		if err := <-errc; err != nil {
			t.Fatal(err)
		}
	}
	produce(plain, ctx, "under-span")
	produce(plain, t.Context(), "no-span")
	produce(traced, t.Context(), "own-span")
	parent.End()
	plain.Close()
	traced.Close()

	var own []byte
	for _, s := range rec.Ended() {
		if s.Name() == "publish payments" {
			if own != nil {
				t.Fatal("more than one publish span")
			}
			own = producers.Traceparent(s.SpanContext())
		}
	}
	if own == nil {
		t.Fatal("no publish span for the record published without one")
	}
	want := map[string][]byte{"under-span": producers.Traceparent(parent.SpanContext()), "no-span": nil, "own-span": own}
	for _, r := range consume(t.Context(), t, addrs, "payments", 3) {
		var got []byte
		for _, h := range r.Headers {
			if h.Key == producers.HeaderTraceparent {
				got = h.Value
			}
		}
		if w := want[string(r.Value)]; !bytes.Equal(got, w) {
			t.Errorf("%s: traceparent %q, want %q", r.Value, got, w)
		}
	}
}
