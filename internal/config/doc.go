// Package config owns Sluice's configuration: one Config struct, read from SLUICE_*
// environment variables once in main, validated, and handed down by value, one
// sub-struct per concern (Kafka, ClickHouse, Pipeline, HTTP, Log).
//
// It does not read the environment on anyone's behalf: FromEnv is for main, Load
// takes an explicit map (tests pass their own), and no other package should import
// os.Getenv for settings. The struct tags are the single list of variables: name
// (env), default (envDefault), meaning (desc) and secret:"true". Describe, String,
// LogValue and Variables are generated from them by reflection, and a test checks
// that compose.yaml sets no variable Config does not know.
//
// Errors: Load and Validate return every problem at once, joined with errors.Join,
// one per line in the form "SLUICE_WINDOW=\"abc\": not a duration; use e.g. 1m or 30s"
// or "SLUICE_BATCH_MAX_ROWS=0: must be ≥ 1". There are no sentinels: a bad
// configuration is reported, not branched on. Secrets (type Secret) never appear in
// errors, Describe, String, GoString, LogValue or JSON; call Reveal to use one.
//
// Everything here is pure apart from FromEnv, and safe for concurrent use on values
// the caller owns. The package has no metrics.
//
// Usage:
//
//	cfg, err := config.FromEnv()
//	if err != nil {
//		return fmt.Errorf("configuration:\n%w", err) // every problem, one per line
//	}
//	logger.Info("starting", "config", cfg) // secrets redacted
//	group, err := consumers.New(consumers.Options{Brokers: cfg.Kafka.Brokers, Group: cfg.Kafka.Group}, workers)
package config
