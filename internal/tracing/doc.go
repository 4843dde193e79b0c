// Package tracing sets up OpenTelemetry tracing for one Sluice process from
// config.Tracing (the standard OTEL_* variables): the SDK's tracer provider with a
// batching OTLP/HTTP exporter, the sampler and the resource, and a slog handler that
// adds trace_id and span_id to the lines logged while a span is active.
//
// It owns the provider and its exporter goroutine: New starts them, Shutdown flushes
// the spans still buffered and stops them. With tracing off, New returns a Provider
// whose Tracer is nil, which pipeline.Deps, the publishers and the log handler take
// as "off": they then do nothing, per flush or per record. Nothing here reads the
// environment or sets OpenTelemetry's global provider.
//
// Usage:
//
//	tp, err := tracing.New(ctx, cfg.Tracing, version)
//	defer tp.Shutdown(context.Background())
//	deps.Tracer = tp.Tracer()                       // nil when off
//	log := slog.New(tracing.LogHandler(handler))    // trace_id, span_id from the context
package tracing
