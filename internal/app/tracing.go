package app

import (
	"context"
	"log/slog"
	"time"

	"github.com/sluicehq/sluice/internal/buildinfo"
	"github.com/sluicehq/sluice/internal/tracing"
)

// tracingShutdown bounds exporting the last spans when the instance stops.
const tracingShutdown = 5 * time.Second

// startTracing builds the tracer provider of the instance's OTEL_* configuration
// (nil Tracer when off) and, with tracing on, makes log lines written under a span
// carry its trace_id and span_id.
func (in *Instance) startTracing(ctx context.Context) error {
	tp, err := tracing.New(ctx, in.cfg.Tracing, buildinfo.Read().Version)
	if err != nil {
		return err
	}
	in.tracing = tp
	if tp.Tracer() != nil {
		in.log = slog.New(tracing.LogHandler(in.log.Handler()))
		in.log.Info("tracing on", "endpoint", in.cfg.Tracing.TracesURL(), "sampler", in.cfg.Tracing.Sampler, "service", in.cfg.Tracing.ServiceName)
	}
	return nil
}

// stopTracing exports the spans still buffered; it is a no-op with tracing off.
func (in *Instance) stopTracing() {
	if in.tracing == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), tracingShutdown)
	defer cancel()
	if err := in.tracing.Shutdown(ctx); err != nil {
		in.log.Warn("exporting the last spans failed", "err", err)
	}
}
