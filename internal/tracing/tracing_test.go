package tracing

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/sluicehq/sluice/internal/config"
)

// A line logged with a context holding a span carries its ids; one without does not.
func TestLogHandlerAddsTraceIDs(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(LogHandler(slog.NewTextHandler(&buf, nil))).With("component", "pipeline")
	tp := sdktrace.NewTracerProvider()
	defer tp.Shutdown(context.Background())
	ctx, span := tp.Tracer("t").Start(context.Background(), "flush")
	log.WarnContext(ctx, "store batch failed; retrying")
	span.End()
	log.Warn("no span")
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	sc := span.SpanContext()
	if len(lines) != 2 || !strings.Contains(lines[0], "trace_id="+sc.TraceID().String()) || !strings.Contains(lines[0], "span_id="+sc.SpanID().String()) ||
		!strings.Contains(lines[0], "component=pipeline") {
		t.Errorf("with a span: %q", lines[0])
	}
	if strings.Contains(lines[len(lines)-1], "trace_id") {
		t.Errorf("without a span: %q", lines[len(lines)-1])
	}
}

func TestOffMeansNoTracer(t *testing.T) {
	c, err := config.Load(nil)
	if err != nil {
		t.Fatal(err)
	}
	p, err := New(context.Background(), c.Tracing, "v0")
	if err != nil || p.Tracer() != nil || p.TracerProvider() != nil || p.Shutdown(context.Background()) != nil {
		t.Errorf("tracing off: %+v, %v", p, err)
	}
}

func TestSampler(t *testing.T) {
	for name, want := range map[string]string{
		"always_on": "AlwaysOnSampler", "always_off": "AlwaysOffSampler", "traceidratio": "TraceIDRatioBased{0.5}",
		"parentbased_always_on": "ParentBased{root:AlwaysOnSampler", "parentbased_traceidratio": "ParentBased{root:TraceIDRatioBased{0.5}",
	} {
		got := Sampler(config.Tracing{Sampler: name, SamplerArg: "0.5"}).Description()
		if !strings.HasPrefix(got, want) {
			t.Errorf("%s: %s, want %s…", name, got, want)
		}
	}
}
