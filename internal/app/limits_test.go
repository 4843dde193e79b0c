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
