package app

import (
	"testing"
	"time"

	"github.com/sluicehq/sluice/internal/config"
)

func TestRevokeTimeoutEndsBeforeTheRebalance(t *testing.T) {
	for _, c := range []struct{ rebalance, heartbeat, want time.Duration }{
		{60 * time.Second, time.Second, 58 * time.Second},
		{10 * time.Second, time.Second, 8 * time.Second},
		{2 * time.Second, time.Second, time.Second}, // never below a second
	} {
		got := revokeTimeout(config.Kafka{RebalanceTimeout: c.rebalance, HeartbeatInterval: c.heartbeat})
		if got != c.want {
			t.Errorf("rebalance %s, heartbeat %s: %s, want %s", c.rebalance, c.heartbeat, got, c.want)
		}
	}
}

func TestDedupMaxIDsIsFixedByTheSourcePartitions(t *testing.T) {
	const budget = 256 << 20
	share8 := dedupMaxIDs(0, 4*budget, 8)
	if share8 <= minDedupIDs || dedupMaxIDs(1_000_000, 4*budget, 8) != share8 {
		t.Fatalf("8 source partitions: share %d ids; with a cap of 1M: %d", share8, dedupMaxIDs(1_000_000, 4*budget, 8))
	}
	if got := dedupMaxIDs(0, budget, 96); got != minDedupIDs {
		t.Errorf("96 source partitions on 256 MiB: %d ids, want the floor %d", got, minDedupIDs)
	}
	if got := dedupMaxIDs(500, budget, 8); got != 500 {
		t.Errorf("a cap below the share: %d, want 500", got)
	}
	if got := dedupMaxIDs(0, 4*budget, 16); got >= share8 {
		t.Errorf("16 source partitions: %d ids, want fewer than at 8 (%d)", got, share8)
	}
	if got := dedupMaxIDs(123, budget, 0); got != 123 {
		t.Errorf("unknown source partitions: %d, want the configured 123", got)
	}
}
