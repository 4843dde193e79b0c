package main

import (
	"errors"
	"strings"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicehq/sluice/internal/app"
	"github.com/sluicehq/sluice/internal/config"
)

// kafkaClientOpts returns the client options of the loadgen and produce publishers:
// the given seed brokers (their --brokers flag) with the security settings of the
// environment (SLUICE_KAFKA_TLS*, SLUICE_KAFKA_SASL_*) turned into options by
// app.KafkaOpts, exactly as for `sluice run`. Problems with other variables do not
// concern a publisher and are ignored; problems with the security settings are
// returned, naming the variable and never showing the password.
func kafkaClientOpts(brokers []string) ([]kgo.Opt, error) {
	c, err := config.FromEnv()
	if err != nil {
		var problems []error
		for _, line := range strings.Split(err.Error(), "\n") {
			if strings.HasPrefix(line, config.Prefix+"KAFKA_TLS") || strings.HasPrefix(line, config.Prefix+"KAFKA_SASL") {
				problems = append(problems, errors.New(line))
			}
		}
		if len(problems) > 0 {
			return nil, errors.Join(append([]error{errors.New("bad Kafka security configuration (see `sluice config`):")}, problems...)...)
		}
	}
	c.Kafka.Brokers = brokers
	return app.KafkaOpts(c)
}
