package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"runtime/debug"
	"strings"
	"time"

	"github.com/sluicehq/sluice/internal/app"
	"github.com/sluicehq/sluice/internal/config"
)

// serve runs one Sluice instance with c until ctx is done (SIGINT, SIGTERM: it
// returns nil, nil after a clean shutdown), the instance fails (its error), or a
// SIGHUP on hup brings a configuration load accepts: then it shuts the instance
// down just as cleanly and returns that configuration to start again with. A
// SIGHUP whose configuration is bad is logged and changes nothing.
func serve(ctx context.Context, c config.Config, log *slog.Logger, hup <-chan os.Signal, load func() (config.Config, error)) (*config.Config, error) {
	ictx, stop := context.WithCancel(ctx)
	var next *config.Config // set by the watcher before it stops ictx
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		for {
			select {
			case <-ictx.Done():
				return
			case <-hup:
				nc, err := load()
				if err != nil {
					log.Error("SIGHUP: the configuration read again is bad; running on with the current one", "err", err)
					continue
				}
				log.Info("SIGHUP: restarting with the configuration read again: stop fetching, flush, commit, leave the group, start again")
				next = &nc
				stop()
				return
			}
		}
	}()
	// finish stops the watcher and says what comes next: nil after SIGINT/SIGTERM
	// (they win over a SIGHUP at the same moment), else the reloaded configuration.
	finish := func() *config.Config {
		stop()
		<-watched
		if ctx.Err() != nil {
			return nil
		}
		return next
	}

	in, err := app.New(ictx, c, log)
	if err != nil {
		if ictx.Err() != nil {
			// A signal while waiting for Kafka or ClickHouse: nothing was consumed,
			// so stopping (or starting again) now is clean.
			log.Info("stopped before consuming", "reason", err)
			return finish(), nil
		}
		finish()
		return nil, err
	}
	setMemoryLimit(in, log)
	done := make(chan error, 1)
	go func() { done <- in.Run(ictx) }()
	select {
	case err := <-done:
		finish()
		return nil, err
	case <-ictx.Done():
	}
	log.Info("shutting down", "deadline", c.ShutdownTimeout)
	t := time.NewTimer(c.ShutdownTimeout)
	defer t.Stop()
	select {
	case err := <-done:
		if err != nil {
			finish()
			return nil, err
		}
		return finish(), nil
	case <-t.C:
		finish()
		return nil, errors.New("shutdown did not finish within SLUICE_SHUTDOWN_TIMEOUT; uncommitted records will be replayed")
	}
}

// setMemoryLimit sets the Go soft memory limit that goes with the instance's memory
// budget, unless GOMEMLIMIT sets one, and logs where the budget goes.
func setMemoryLimit(in *app.Instance, log *slog.Logger) {
	b := in.Memory()
	goLimit := b.GoLimit()
	if env := os.Getenv("GOMEMLIMIT"); env != "" {
		goLimit = debug.SetMemoryLimit(-1) // the runtime parsed it
	} else {
		debug.SetMemoryLimit(goLimit)
	}
	log.Info("memory budget", "bytes", b.Total(), "from", in.MemoryFrom(), "go_memory_limit", goLimit)
}

// loadRunConfig reads the configuration of `sluice run`: the environment, with the
// assignments of envFile (when not "") over it.
func loadRunConfig(envFile string) (config.Config, error) {
	if envFile == "" {
		return loadConfig()
	}
	environ := config.Environ()
	over, err := readEnvFile(envFile)
	if err != nil {
		return config.Config{}, err
	}
	for k, v := range over {
		environ[k] = v
	}
	c, err := config.Load(environ)
	if err != nil {
		return c, fmt.Errorf("bad configuration (see `sluice config`; --env-file %s):\n%w", envFile, err)
	}
	return c, nil
}

// readEnvFile reads KEY=VALUE lines, as Docker's --env-file: blank lines and lines
// starting with # are skipped, values are taken as they are (no quotes or
// expansion). Every key must be a SLUICE_ variable.
func readEnvFile(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("--env-file: %w", err)
	}
	defer f.Close()
	out := map[string]string{}
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok || !strings.HasPrefix(k, "SLUICE_") {
			return nil, fmt.Errorf("--env-file %s:%d: want SLUICE_NAME=value, got %q", path, n, line)
		}
		out[k] = v
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("--env-file %s: %w", path, err)
	}
	return out, nil
}
