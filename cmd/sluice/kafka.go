package main

import (
	"errors"
	"strings"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicehq/sluice/internal/app"
	"github.com/sluicehq/sluice/internal/config"
)

// publisherConfig is the configuration of the loadgen and produce publishers: the
// environment's, of which only the Kafka settings concern them. Problems with the
// other variables are kept for kafkaClientOpts, which ignores them, so that the
// --brokers default can come from SLUICE_KAFKA_BROKERS before flags are parsed.
type publisherConfig struct {
	cfg config.Config
	err error // config.FromEnv's problems, all of them
}

// loadPublisherConfig reads the environment for a publisher.
func loadPublisherConfig() publisherConfig {
	c, err := config.FromEnv()
	return publisherConfig{cfg: c, err: err}
}

// brokers is the --brokers default: SLUICE_KAFKA_BROKERS or its default.
func (p publisherConfig) brokers() string { return strings.Join(p.cfg.Kafka.Brokers, ",") }

// kafkaClientOpts returns the client options of a publisher: the given seed brokers
// (its --brokers flag) with the security settings of the environment
// (SLUICE_KAFKA_TLS*, SLUICE_KAFKA_SASL_*) turned into options by app.KafkaOpts,
// exactly as for `sluice run`. Problems with other variables do not concern a
// publisher and are ignored; problems with the security settings are returned,
// naming the variable and never showing the password.
func (p publisherConfig) kafkaClientOpts(brokers []string) ([]kgo.Opt, error) {
	var problems []error
	for _, e := range config.Problems(p.err) {
		var ve *config.VarError
		if errors.As(e, &ve) && config.IsKafkaSecurity(ve.Var) {
			problems = append(problems, e)
		}
	}
	if len(problems) > 0 {
		return nil, errors.Join(append([]error{errors.New("bad Kafka security configuration (see `sluice config`):")}, problems...)...)
	}
	c := p.cfg
	c.Kafka.Brokers = brokers
	return app.KafkaOpts(c)
}
