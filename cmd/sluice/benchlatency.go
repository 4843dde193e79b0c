//go:build !nodev

package main

import (
	"context"
	"io"

	"github.com/sluicehq/sluice/internal/dev/bench"
)

// benchLatency is `sluice bench --latency RATE`: publish → visible in ClickHouse at a
// constant rate, measured from outside, printed beside Sluice's own freshness.
func benchLatency(ctx context.Context, o bench.LatencyOptions, stdout io.Writer) error {
	res, err := bench.LatencyRun(ctx, o)
	if res.Events > 0 {
		io.WriteString(stdout, "\n")
		bench.PrintLatency(stdout, res)
	}
	return err
}
