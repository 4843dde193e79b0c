package tracing

import (
	"context"
	"fmt"
	"log/slog"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/sluicehq/sluice/internal/config"
)

// InstrumentationName names the tracer Sluice's spans come from.
const InstrumentationName = "github.com/sluicehq/sluice"

// Provider is one process's tracing: the SDK provider when tracing is on, nothing
// when it is off. Its methods are safe for concurrent use.
type Provider struct {
	tp     *sdktrace.TracerProvider
	tracer trace.Tracer
}

// New builds the provider c describes; with tracing off (config.Tracing.Enabled) it
// returns a Provider whose Tracer is nil. version is the service.version.
func New(ctx context.Context, c config.Tracing, version string) (*Provider, error) {
	if !c.Enabled() {
		return &Provider{}, nil
	}
	opts := []otlptracehttp.Option{otlptracehttp.WithEndpointURL(c.TracesURL())}
	if h := c.Headers.Reveal(); h != "" {
		opts = append(opts, otlptracehttp.WithHeaders(config.KeyValues(h)))
	}
	exp, err := otlptracehttp.New(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("tracing: OTLP exporter for %s: %w", c.TracesURL(), err)
	}
	attrs := []attribute.KeyValue{attribute.String("service.name", c.ServiceName), attribute.String("service.version", version)}
	for k, v := range config.KeyValues(c.Resource) {
		if k != "service.name" {
			attrs = append(attrs, attribute.String(k, v))
		}
	}
	tp := sdktrace.NewTracerProvider(
		sdktrace.WithBatcher(exp),
		sdktrace.WithSampler(Sampler(c)),
		sdktrace.WithResource(resource.NewSchemaless(attrs...)),
	)
	return &Provider{tp: tp, tracer: tp.Tracer(InstrumentationName)}, nil
}

// Sampler is the sampler c names (OTEL_TRACES_SAMPLER and _ARG).
func Sampler(c config.Tracing) sdktrace.Sampler {
	ratio := sdktrace.TraceIDRatioBased(c.SamplerRatio())
	switch c.Sampler {
	case "always_on":
		return sdktrace.AlwaysSample()
	case "always_off":
		return sdktrace.NeverSample()
	case "traceidratio":
		return ratio
	case "parentbased_always_off":
		return sdktrace.ParentBased(sdktrace.NeverSample())
	case "parentbased_traceidratio":
		return sdktrace.ParentBased(ratio)
	default: // parentbased_always_on, the specification's default
		return sdktrace.ParentBased(sdktrace.AlwaysSample())
	}
}

// Tracer is the tracer to make spans with, or nil with tracing off.
func (p *Provider) Tracer() trace.Tracer { return p.tracer }

// TracerProvider is the SDK provider, or nil with tracing off.
func (p *Provider) TracerProvider() trace.TracerProvider {
	if p.tp == nil {
		return nil
	}
	return p.tp
}

// Shutdown exports the spans still buffered and stops the exporter; it is a no-op
// with tracing off.
func (p *Provider) Shutdown(ctx context.Context) error {
	if p.tp == nil {
		return nil
	}
	return p.tp.Shutdown(ctx)
}

// LogHandler wraps h so that a record logged with a context holding a valid span
// (slog's *Context methods) carries trace_id and span_id.
func LogHandler(h slog.Handler) slog.Handler { return logHandler{h} }

type logHandler struct{ slog.Handler }

func (l logHandler) Handle(ctx context.Context, r slog.Record) error {
	if sc := trace.SpanContextFromContext(ctx); sc.IsValid() {
		r = r.Clone()
		r.AddAttrs(slog.String("trace_id", sc.TraceID().String()), slog.String("span_id", sc.SpanID().String()))
	}
	return l.Handler.Handle(ctx, r)
}

func (l logHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return logHandler{l.Handler.WithAttrs(as)}
}

func (l logHandler) WithGroup(name string) slog.Handler { return logHandler{l.Handler.WithGroup(name)} }
