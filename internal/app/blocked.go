package app

import (
	"fmt"
	"strings"
	"time"

	"github.com/sluicehq/sluice/pipeline"
)

// blockedShown is how many blocked partitions /readyz names before "and N more".
const blockedShown = 3

// blockedError is /readyz's reason while partitions are blocked, or nil: each
// partition with what it waits for and what to do about it.
func (in *Instance) blockedError() error {
	if in.pipe == nil {
		return nil
	}
	bs := in.pipe.Blocked()
	if len(bs) == 0 {
		return nil
	}
	parts := make([]string, 0, blockedShown+1)
	for i, b := range bs {
		if i == blockedShown {
			parts = append(parts, fmt.Sprintf("and %d more", len(bs)-blockedShown))
			break
		}
		parts = append(parts, fmt.Sprintf("partition %s/%d blocked (%s) for %s: %v%s",
			b.Topic, b.Partition, b.Reason, time.Since(b.Since).Round(time.Second), b.Err, in.blockedHint(b.Reason)))
	}
	return fmt.Errorf("%s", strings.Join(parts, "; "))
}

// blockedHint says what fixes a partition blocked for reason.
func (in *Instance) blockedHint(reason string) string {
	switch reason {
	case pipeline.BlockedDeadLetter:
		return fmt.Sprintf(" (dead letters to %q, SLUICE_DLQ_TOPIC, are retried; the topic must exist and Sluice's Kafka user needs WRITE and DESCRIBE on it)", in.cfg.Kafka.DLQTopic)
	case pipeline.BlockedClickHouse:
		// The error says what to do (the ClickHouse client's hints).
		return " (retried with backoff; the partition resumes by itself once fixed)"
	}
	return ""
}

// blocked feeds sluice_partition_blocked.
func (in *Instance) blocked() []pipeline.Blocked {
	if in.pipe == nil {
		return nil
	}
	return in.pipe.Blocked()
}
