package producers

import (
	"context"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"
	"go.opentelemetry.io/otel/trace"
)

func TestInjectTrace(t *testing.T) {
	r := &kgo.Record{}
	if n := testing.AllocsPerRun(100, func() { injectTrace(context.Background(), r) }); n != 0 || len(r.Headers) != 0 {
		t.Errorf("without a span: %v allocations, headers %v", n, r.Headers)
	}
	ts, _ := trace.ParseTraceState("vendor=v1")
	sc := trace.NewSpanContext(trace.SpanContextConfig{
		TraceID: trace.TraceID{0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6, 0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, 0x47, 0x36},
		SpanID:  trace.SpanID{0x00, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7}, TraceFlags: trace.FlagsSampled, TraceState: ts,
	})
	injectTrace(trace.ContextWithSpanContext(context.Background(), sc), r)
	if len(r.Headers) != 2 || r.Headers[0].Key != HeaderTraceparent || string(r.Headers[0].Value) != "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01" ||
		r.Headers[1].Key != HeaderTracestate || string(r.Headers[1].Value) != "vendor=v1" {
		t.Errorf("headers %v", r.Headers)
	}
}
