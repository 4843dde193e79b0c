package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicehq/sluice/internal/config"
)

// dlqCheckTimeout bounds the start-up check of the dead-letter topic.
const dlqCheckTimeout = 30 * time.Second

// Bounds of the dead-letter record batch size: franz-go accepts batches of 512 B to
// 1 GiB, and its broker writes are capped at 100 MiB by default.
const (
	defaultDLQRecordBytes = 1 << 20
	minDLQRecordBytes     = 1 << 10
	maxDLQRecordBytes     = 64 << 20
)

// dlqACL is what Sluice's Kafka user needs on the dead-letter topic.
const dlqACL = "CREATE on the topic or the cluster (only while it is missing), WRITE and DESCRIBE on the topic"

// prepareDeadLetterTopic makes sure the dead-letter topic exists, creating it with
// SLUICE_DLQ_PARTITIONS and SLUICE_DLQ_REPLICATION_FACTOR when it is missing (as
// Kafka Connect does for its own topics), and returns the largest record batch the
// topic accepts: its max.message.bytes, else the broker's message.max.bytes, else
// 1 MiB. A broker that refuses to describe or create the topic stops start-up with
// an error naming the topic, the variable and the ACL needed; so does any other
// error a retry cannot fix (e.g. a replication factor above the broker count). Other
// failures (timeouts, a broker not ready) are retried with backoff until ctx is done.
func prepareDeadLetterTopic(ctx context.Context, opts []kgo.Opt, c config.Config, log *slog.Logger) (int, error) {
	cl, err := kgo.NewClient(slices.Clip(opts)...)
	if err != nil {
		return 0, fmt.Errorf("kafka: %w", err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	wait := 500 * time.Millisecond
	for attempt := 1; ; attempt++ {
		actx, cancel := context.WithTimeout(ctx, dlqCheckTimeout)
		n, err := ensureDeadLetterTopic(actx, adm, c, log)
		cancel()
		if err == nil || isPermanentTopicError(err) || ctx.Err() != nil {
			return n, err
		}
		log.Warn("dead-letter topic not ready; retrying", "topic", c.Kafka.DLQTopic, "attempt", attempt, "backoff", wait, "err", err)
		if !sleep(ctx, wait) {
			return 0, err
		}
		wait = min(2*wait, 10*time.Second)
	}
}

// ensureDeadLetterTopic is one attempt of prepareDeadLetterTopic.
func ensureDeadLetterTopic(ctx context.Context, adm *kadm.Client, c config.Config, log *slog.Logger) (int, error) {
	k := c.Kafka
	topic := k.DLQTopic
	refused := func(what string, err error) error {
		return fmt.Errorf("kafka: the broker refused to %s the dead-letter topic %q (SLUICE_DLQ_TOPIC): %w; grant Sluice's Kafka user %s, or set SLUICE_DLQ_TOPIC to a topic it may use", what, topic, err, dlqACL)
	}
	details, err := adm.ListTopics(ctx, topic)
	if err != nil {
		return 0, fmt.Errorf("kafka: describe the dead-letter topic %q (SLUICE_DLQ_TOPIC): %w", topic, err)
	}
	switch err := details[topic].Err; {
	case err == nil:
	case errors.Is(err, kerr.UnknownTopicOrPartition):
		_, err = adm.CreateTopic(ctx, int32(k.DLQPartitions), int16(k.DLQReplicationFactor), nil, topic)
		switch {
		case err == nil:
			log.Info("created the dead-letter topic", "topic", topic, "partitions", k.DLQPartitions, "replication_factor", k.DLQReplicationFactor)
		case errors.Is(err, kerr.TopicAlreadyExists): // another instance was first
		case isACLError(err):
			return 0, refused("create", err)
		default:
			return 0, fmt.Errorf("kafka: create the missing dead-letter topic %q (SLUICE_DLQ_TOPIC) with SLUICE_DLQ_PARTITIONS=%d SLUICE_DLQ_REPLICATION_FACTOR=%d: %w",
				topic, k.DLQPartitions, k.DLQReplicationFactor, err)
		}
	case isACLError(err):
		return 0, refused("describe", err)
	default:
		return 0, fmt.Errorf("kafka: describe the dead-letter topic %q (SLUICE_DLQ_TOPIC): %w", topic, err)
	}
	n, from := dlqRecordLimit(ctx, adm, topic)
	log.Info("dead letters are cut to fit the topic's limit", "topic", topic, "max_record_bytes", n, "from", from)
	return n, nil
}

// dlqRecordLimit returns the largest record batch topic accepts and where that figure
// comes from.
func dlqRecordLimit(ctx context.Context, adm *kadm.Client, topic string) (int, string) {
	read := func(rcs kadm.ResourceConfigs, err error, name string) (int, bool) {
		if err != nil {
			return 0, false
		}
		for _, rc := range rcs {
			if rc.Err != nil {
				continue
			}
			for _, cf := range rc.Configs {
				if cf.Key == name && cf.Value != nil {
					if n, err := strconv.Atoi(*cf.Value); err == nil && n > 0 {
						return min(max(n, minDLQRecordBytes), maxDLQRecordBytes), true
					}
				}
			}
		}
		return 0, false
	}
	rcs, err := adm.DescribeTopicConfigs(ctx, topic)
	if n, ok := read(rcs, err, "max.message.bytes"); ok {
		return n, "max.message.bytes"
	}
	rcs, err = adm.DescribeBrokerConfigs(ctx)
	if n, ok := read(rcs, err, "message.max.bytes"); ok {
		return n, "message.max.bytes"
	}
	return defaultDLQRecordBytes, "default"
}

// isPermanentTopicError reports whether retrying the dead-letter topic's check cannot
// help: an ACL refusal, or a broker error that is not retriable (invalid replication
// factor or partitions, a policy).
func isPermanentTopicError(err error) bool {
	var ke *kerr.Error
	return isACLError(err) || errors.As(err, &ke) && !kerr.IsRetriable(ke)
}

// isACLError reports whether a broker refused an operation for lack of an ACL.
func isACLError(err error) bool {
	return errors.Is(err, kerr.TopicAuthorizationFailed) || errors.Is(err, kerr.ClusterAuthorizationFailed) ||
		errors.Is(err, kerr.PolicyViolation)
}
