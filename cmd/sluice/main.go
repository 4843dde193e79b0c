// Command sluice consumes payment and shipment events from Kafka and writes exact
// time-windowed rollups (and optionally the raw events) into ClickHouse.
//
//	sluice run        consume until SIGINT/SIGTERM (configuration: SLUICE_* variables)
//	sluice migrate    create or update the ClickHouse tables and views, then exit
//	sluice config     print every variable with its value, default and meaning
//	sluice demo       the whole thing on this machine: embedded Kafka and ClickHouse
//	sluice loadgen    publish realistic, reproducible traffic
//	sluice produce    publish newline-delimited JSON events from stdin or files
//	sluice dev        run the embedded Kafka or ClickHouse on their own
//	sluice bench      end-to-end benchmark with bare consumer and insert ceilings
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
	"time"

	"github.com/sluicehq/sluice/internal/app"
	"github.com/sluicehq/sluice/internal/dev/chlocal"
	"github.com/sluicehq/sluice/internal/config"
)

type command struct {
	run   func(ctx context.Context, args []string, stdout, stderr io.Writer) error
	brief string
}

var commands map[string]command

func init() {
	commands = map[string]command{
		"run":     {runCommand, "consume Kafka into ClickHouse until SIGINT/SIGTERM"},
		"migrate": {migrateCommand, "create or update the ClickHouse tables and views, then exit"},
		"config":  {configCommand, "print every SLUICE_* variable with its value, default and meaning"},
		"demo":    {demoCommand, "run the whole pipeline on embedded Kafka and ClickHouse and show the results"},
		"loadgen": {loadgenCommand, "publish realistic, reproducible payments and shipments traffic"},
		"produce": {produceCommand, "publish newline-delimited JSON events from stdin or files"},
		"schema":  {schemaCommand, "check event-type schema files and show the tables they imply (schema check FILE|DIR)"},
		"dev":     {devCommand, "run the embedded Kafka (dev kafka) or ClickHouse (dev clickhouse) alone"},
		"bench":   {benchCommand, "end-to-end benchmark against the bare consumer and bare insert ceilings"},
	}
}

func main() {
	// The embedded ClickHouse runs as a child process of this same binary.
	chlocal.RunIfChild()

	if len(os.Args) < 2 || os.Args[1] == "help" || os.Args[1] == "-h" || os.Args[1] == "--help" {
		usage(os.Stdout)
		return
	}
	cmd, ok := commands[os.Args[1]]
	if !ok {
		fmt.Fprintf(os.Stderr, "sluice: unknown command %q\n\n", os.Args[1])
		usage(os.Stderr)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := cmd.run(ctx, os.Args[2:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintf(os.Stderr, "sluice %s: %v\n", os.Args[1], err)
		stop()
		os.Exit(1)
	}
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: sluice <command> [flags]\n\ncommands:")
	for _, name := range []string{"run", "migrate", "config", "demo", "loadgen", "produce", "schema", "dev", "bench"} {
		fmt.Fprintf(w, "  %-8s %s\n", name, commands[name].brief)
	}
	fmt.Fprintln(w, "\nConfiguration is read from SLUICE_* environment variables; `sluice config` lists them.")
}

// loadConfig reads the environment; a bad value stops start-up naming the variable.
func loadConfig() (config.Config, error) {
	c, err := config.FromEnv()
	if err != nil {
		return c, fmt.Errorf("bad configuration (see `sluice config`):\n%w", err)
	}
	return c, nil
}

func newLogger(c config.Log, w io.Writer) *slog.Logger {
	o := &slog.HandlerOptions{Level: c.Level}
	if c.Format == config.FormatJSON {
		return slog.New(slog.NewJSONHandler(w, o))
	}
	return slog.New(slog.NewTextHandler(w, o))
}

// runCommand is `sluice run`. Shutdown order on SIGINT/SIGTERM, enforced by
// consumers.Group.Run: stop fetching → drain and flush every partition worker →
// commit marked offsets → leave the group → close ClickHouse. If that takes longer
// than SLUICE_SHUTDOWN_TIMEOUT the process exits with an error; nothing is lost,
// since uncommitted records are replayed and deduplicated by the next owner.
func runCommand(ctx context.Context, args []string, _, stderr io.Writer) error {
	if len(args) > 0 {
		return fmt.Errorf("run takes no arguments (configuration is SLUICE_* variables), got %q", args)
	}
	c, err := loadConfig()
	if err != nil {
		return err
	}
	log := newLogger(c.Log, stderr)
	if c.MemoryLimit > 0 {
		debug.SetMemoryLimit(int64(c.MemoryLimit))
	}
	in, err := app.New(ctx, c, log)
	if err != nil {
		if ctx.Err() != nil {
			// SIGINT/SIGTERM while waiting for Kafka or ClickHouse: nothing was
			// consumed, so stopping now is a clean shutdown.
			log.Info("stopped before consuming", "reason", err)
			return nil
		}
		return err
	}
	done := make(chan error, 1)
	go func() { done <- in.Run(ctx) }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down", "deadline", c.ShutdownTimeout)
	t := time.NewTimer(c.ShutdownTimeout)
	defer t.Stop()
	select {
	case err := <-done:
		return err
	case <-t.C:
		return errors.New("shutdown did not finish within SLUICE_SHUTDOWN_TIMEOUT; uncommitted records will be replayed")
	}
}

func migrateCommand(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("migrate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dryRun := fs.Bool("dry-run", false, "print the statements instead of running them (against the live tables: ALTERs for schema changes, then the CREATE set)")
	offline := fs.Bool("offline", false, "with --dry-run: do not connect; print the full CREATE set")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("migrate takes no arguments, got %q", fs.Args())
	}
	if *dryRun || *offline {
		return migrateDryRun(ctx, *offline, stdout)
	}
	c, err := loadConfig()
	if err != nil {
		return err
	}
	if err := app.Migrate(ctx, c); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "migrated database %s on %v\n", c.ClickHouse.Database, c.ClickHouse.Addrs)
	return nil
}
