package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"testing"

	"github.com/sluicehq/sluice/pipeline/clickhouse"
)

func TestUntilUpRetriesTransientErrors(t *testing.T) {
	in := &Instance{log: slog.New(slog.DiscardHandler)}
	calls := 0
	err := in.untilUp(context.Background(), "claiming", func() error {
		calls++
		if calls < 3 {
			return errors.New("connection reset by peer")
		}
		return nil
	})
	if err != nil || calls != 3 {
		t.Fatalf("untilUp = %v after %d calls, want nil after 3", err, calls)
	}
	if in.starting.what != "claiming" {
		t.Errorf("starting shows %q, want the step waited for", in.starting.what)
	}
}

func TestUntilUpStopsAtAPermanentError(t *testing.T) {
	in := &Instance{log: slog.New(slog.DiscardHandler)}
	calls := 0
	perm := fmt.Errorf("claim: %w", clickhouse.ErrInvalidBlock)
	err := in.untilUp(context.Background(), "claiming", func() error { calls++; return perm })
	if !errors.Is(err, perm) || calls != 1 {
		t.Fatalf("untilUp = %v after %d calls, want the permanent error after 1", err, calls)
	}
}

func TestUntilUpEndsWithItsContext(t *testing.T) {
	in := &Instance{log: slog.New(slog.DiscardHandler)}
	ctx, cancel := context.WithCancel(context.Background())
	calls := 0
	err := in.untilUp(ctx, "claiming", func() error {
		calls++
		cancel()
		return errors.New("connection refused")
	})
	if err == nil || calls != 1 {
		t.Fatalf("untilUp = %v after %d calls, want the error after 1 once ctx is done", err, calls)
	}
}
