package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicehq/sluice/internal/config"
	"github.com/sluicehq/sluice/pipeline"
	"github.com/sluicehq/sluice/pipeline/clickhouse"
)

// claimTimeout bounds the start-up look-up of the source topics' ids.
const claimTimeout = 30 * time.Second

// claimTopics looks up the topic id of every source topic that exists now and
// records it as the owner of the ledger and event-id rows written without topic id
// (clickhouse.Client.ClaimTopics), so a topic deleted and created again later never
// reads them. The ids are listed's (listSources read them a moment ago) or, when
// it is nil, read through cl. A topic whose first claim names another incarnation
// was deleted and created again since: that is logged.
func claimTopics(ctx context.Context, cl *kgo.Client, ch *clickhouse.Client, sources []string, listed kadm.TopicDetails, log *slog.Logger) error {
	ctx, cancel := context.WithTimeout(ctx, claimTimeout)
	defer cancel()
	topics := listed
	if topics == nil {
		var err error
		if topics, err = kadm.NewClient(cl).ListTopics(ctx, sources...); err != nil {
			return fmt.Errorf("kafka: topic ids of %v: %w", sources, err)
		}
	}
	current := map[string]string{}
	for _, t := range topics {
		if t.Err == nil {
			current[t.Topic] = pipeline.TopicID(t.ID)
		}
	}
	recreated, err := ch.ClaimTopics(ctx, current)
	if err != nil {
		return err
	}
	for t, first := range recreated {
		log.Info("topic was deleted and created again since Sluice first recorded it; the new incarnation is stored as new data, the earlier one's rows stay",
			"topic", t, "topic_id", current[t], "first_topic_id", first)
	}
	return nil
}

// explainOverlap turns a worker's refusal to store offsets another group stored into
// one message with every refused partition (all, the pipeline's Overlaps) and what
// the operator can do about it.
func explainOverlap(err error, all []*pipeline.OverlapError, c config.Config) error {
	var ov *pipeline.OverlapError
	if !errors.As(err, &ov) || len(ov.Others) == 0 {
		return err
	}
	var b strings.Builder
	for _, o := range all {
		for _, s := range o.Others {
			fmt.Fprintf(&b, "\n  %s/%d: group %q stored offsets %d-%d", o.Topic, o.Partition, s.Group, s.First, s.Last)
		}
	}
	return fmt.Errorf("%w; every partition refused:%s\nSLUICE_KAFKA_GROUP=%s would count these events twice: to continue where the other group stopped, run with SLUICE_KAFKA_GROUP=%s; to re-ingest on purpose (into emptied tables), set SLUICE_ALLOW_REINGEST=true",
		err, b.String(), c.Kafka.Group, ov.Others[0].Group)
}
