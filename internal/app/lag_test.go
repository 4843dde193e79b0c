package app

import (
	"errors"
	"log/slog"
	"testing"
)

// TestCommitRefreshesLag checks that a successful offset commit asks the lag poller
// for a poll at once, that requests coalesce without blocking, and that a failed
// commit (nothing changed) asks for none.
func TestCommitRefreshesLag(t *testing.T) {
	in := &Instance{log: slog.New(slog.DiscardHandler), lagRefresh: make(chan struct{}, 1)}
	in.committed(nil, nil, nil, errors.New("rebalance in progress"))
	if len(in.lagRefresh) != 0 {
		t.Fatal("a failed commit asked for a lag poll")
	}
	in.committed(nil, nil, nil, nil)
	in.committed(nil, nil, nil, nil) // must not block
	if len(in.lagRefresh) != 1 {
		t.Fatalf("%d lag polls pending after two commits, want 1", len(in.lagRefresh))
	}
}
