package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/sluicehq/sluice/internal/buildinfo"
	"github.com/sluicehq/sluice/internal/config"
	"github.com/sluicehq/sluice/internal/tracing"
	"github.com/sluicehq/sluice/producers"
)

// publisherTracer is the producers.Tracer option of the loadgen and produce
// publishers from the environment's OTEL_* variables: with tracing on, every record
// is published in a span of its own and carries its traceparent. stop exports the
// last spans; call it after the publisher is closed. Problems with the OTEL_*
// variables are returned; with tracing off the option does nothing.
func (p publisherConfig) publisherTracer(ctx context.Context, stderr io.Writer) (opt producers.Option, stop func(), err error) {
	var problems []error
	for _, e := range config.Problems(p.err) {
		var ve *config.VarError
		if errors.As(e, &ve) && strings.HasPrefix(ve.Var, config.OTelPrefix) {
			problems = append(problems, e)
		}
	}
	if len(problems) > 0 {
		return nil, nil, errors.Join(append([]error{errors.New("bad tracing configuration (see `sluice config`):")}, problems...)...)
	}
	tp, err := tracing.New(ctx, p.cfg.Tracing, buildinfo.Read().Version)
	if err != nil {
		return nil, nil, err
	}
	stop = func() {
		if err := tp.Shutdown(context.Background()); err != nil {
			fmt.Fprintf(stderr, "exporting the last spans failed: %v\n", err)
		}
	}
	return producers.Tracer(tp.Tracer()), stop, nil
}
