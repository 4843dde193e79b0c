package clickhouse

import (
	"context"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// tracerName names the spans this package makes.
const tracerName = "github.com/sluicehq/sluice/pipeline/clickhouse"

// traceInsert starts an "insert <table>" span under the span in ctx, with the
// tracer provider that made it, when that span is recording; otherwise it returns ctx
// and a no-op end, and costs nothing. The caller must call end with the insert's
// result.
func traceInsert(ctx context.Context, table string, rows int) (context.Context, func(error)) {
	parent := trace.SpanFromContext(ctx)
	if !parent.IsRecording() {
		return ctx, func(error) {}
	}
	ctx, span := parent.TracerProvider().Tracer(tracerName).Start(ctx, "insert "+table,
		trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(attribute.String("db.system.name", "clickhouse"), attribute.String("sluice.table", table), attribute.Int("sluice.rows", rows)))
	return ctx, func(err error) {
		if err != nil {
			span.RecordError(err)
			span.SetStatus(codes.Error, err.Error())
		}
		span.End()
	}
}
