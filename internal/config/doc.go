// Package config owns Sluice's configuration: one Config struct, read from SLUICE_*
// environment variables once in main, validated, and handed down by value, one
// sub-struct per concern (Kafka, ClickHouse, Pipeline, HTTP, Log, and Dev for the
// development tooling).
//
// It is the only package that reads SLUICE_* variables: FromEnv is for main,
// Environ for a command that sets some variables itself before Load (demo, bench),
// DevFromEnv for the development tools that need only Dev (they pass it on, e.g. as
// chlocal.Options.CacheDir), Load takes an explicit map (tests pass their own), and
// no other package calls os.Getenv for settings. The struct tags are the single list
// of variables: name (env), default (envDefault), meaning (desc) and secret:"true".
// Describe, String, LogValue and Variables are generated from them by reflection;
// tests check that compose.yaml, the Kubernetes manifests and the README's tables
// name no variable Config does not know, and that the README lists every one.
//
// Errors: Load and Validate return every problem at once, joined with errors.Join,
// one per line in the form "SLUICE_WINDOW=\"abc\": not a duration; use e.g. 1m or 30s"
// or "SLUICE_BATCH_MAX_ROWS=0: must be ≥ 1". Problems splits them again; each is a
// *VarError naming its variable, for a caller that cares about some variables only
// (a publisher, about the Kafka security settings: IsKafkaSecurity). There are no
// sentinels. Secrets (type Secret) never appear in errors, Describe, String,
// GoString, LogValue or JSON; call Reveal to use one.
//
// Everything here is pure apart from FromEnv, Environ and DevFromEnv, and safe for
// concurrent use on values the caller owns. The package has no metrics.
//
// Usage:
//
//	cfg, err := config.FromEnv()
//	if err != nil {
//		return fmt.Errorf("configuration:\n%w", err) // every problem, one per line
//	}
//	logger.Info("starting", "config", cfg) // secrets redacted
//	inst, err := app.New(ctx, cfg, logger)
package config
