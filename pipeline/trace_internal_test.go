package pipeline

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"
	"go.opentelemetry.io/otel/trace"
)

func TestParseTraceparent(t *testing.T) {
	sc, ok := parseTraceparent([]byte("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"))
	if !ok || sc.TraceID().String() != "4bf92f3577b34da6a3ce929d0e0e4736" || sc.SpanID().String() != "00f067aa0ba902b7" || !sc.IsSampled() || !sc.IsRemote() {
		t.Errorf("parsed %v %v", sc, ok)
	}
	for _, bad := range []string{
		"", "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
		"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7", "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
		"00-00000000000000000000000000000000-00f067aa0ba902b7-01", "00-4bf92f3577b34da6a3ce929d0e0e4736x00f067aa0ba902b7-01",
	} {
		if _, ok := parseTraceparent([]byte(bad)); ok {
			t.Errorf("%q parsed", bad)
		}
	}
}

// Collecting links keeps only sampled contexts, caps them at MaxLinks and costs no
// allocation for a record without trace context.
func TestSlotLinks(t *testing.T) {
	s := newSlot(nil)
	plain := &kgo.Record{Headers: []kgo.RecordHeader{{Key: "x", Value: []byte("y")}}}
	if n := testing.AllocsPerRun(100, func() { s.link(plain) }); n != 0 {
		t.Errorf("%v allocations for a record without traceparent", n)
	}
	unsampled := &kgo.Record{Headers: []kgo.RecordHeader{{Key: HeaderTraceparent, Value: []byte("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00")}}}
	s.link(unsampled)
	if len(s.links) != 0 {
		t.Fatalf("unsampled context linked: %v", s.links)
	}
	sampled := &kgo.Record{Headers: []kgo.RecordHeader{{Key: HeaderTraceparent, Value: []byte("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")}}}
	for range MaxLinks + 3 {
		s.link(sampled)
	}
	s.link(unsampled) // not counted as dropped
	s.link(&kgo.Record{Headers: []kgo.RecordHeader{{Key: HeaderTraceparent, Value: []byte("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0b")}}})
	if len(s.links) != MaxLinks || s.linksDropped != 4 || s.links[0].SpanContext.TraceFlags() != trace.FlagsSampled {
		t.Errorf("%d links, %d dropped", len(s.links), s.linksDropped)
	}
}
