// Command sluice consumes payment and shipment events from Kafka and writes exact
// time-windowed rollups (and optionally the raw events) into ClickHouse.
//
//	sluice run        consume until SIGINT/SIGTERM (configuration: SLUICE_* variables)
//	sluice migrate    create or update the ClickHouse tables and views, then exit
//	sluice config     print every variable with its value, default and meaning
//	sluice demo       the whole thing on this machine: embedded Kafka and ClickHouse
//	sluice loadgen    publish realistic, reproducible traffic
//	sluice produce    publish newline-delimited JSON events from stdin or files
//	sluice dlq        print dead letters, or republish fixed ones to their source topic
//	sluice dev        run the embedded Kafka or ClickHouse on their own
//	sluice bench      end-to-end benchmark with bare consumer and insert ceilings
//	sluice version    the version, VCS commit and Go version of this binary
//	sluice help CMD   a command's usage and flags (as `sluice CMD --help`)
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
	"runtime"
	"strings"
	"syscall"

	"github.com/sluicehq/sluice/internal/app"
	"github.com/sluicehq/sluice/internal/config"
)

// command is one entry of sluice's command list.
type command struct {
	doc
	run func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

// commands is sluice's command list, in the order `sluice help` shows it.
var commands []command

func init() {
	commands = []command{
		{runDoc, runCommand},
		{migrateDoc, migrateCommand},
		{configDoc, configCommand},
		devTools["demo"],
		{loadgenDoc, loadgenCommand},
		{produceDoc, produceCommand},
		{schemaDoc, schemaCommand},
		{dlqDoc, dlqCommand},
		devTools["dev"],
		devTools["bench"],
		{versionDoc, versionCommand},
		{helpDoc, helpCommand},
	}
}

// lookup returns the command called name.
func lookup(name string) (command, bool) {
	for _, c := range commands {
		if c.name == name {
			return c, true
		}
	}
	return command{}, false
}

func main() {
	// The embedded ClickHouse of the development tools runs as a child process
	// of this same binary.
	runIfChild()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := dispatch(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// dispatch runs the command line args (without the program name) and returns the
// exit status: 0 when the command succeeded or its help was asked for, 2 for a
// command line that cannot be run (with a one-line hint on stderr), 1 when the
// command failed ("sluice CMD: error" on stderr), or the status of an *exitError.
func dispatch(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return 2
	}
	name := args[0]
	switch name {
	case "-h", "-help", "--help":
		name = "help"
	case "-version", "--version":
		name = "version"
	}
	cmd, ok := lookup(name)
	var err error
	if ok {
		err = cmd.run(ctx, args[1:], stdout, stderr)
	} else {
		err = unknownCommand(name)
	}
	var ue *usageError
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, &ue):
		fmt.Fprintln(stderr, ue.hint())
		return 2
	}
	// A library error may begin with its package's name, which can be the
	// command's (loadgen); it is not said twice.
	fmt.Fprintf(stderr, "sluice %s: %s\n", name, strings.TrimPrefix(err.Error(), name+": "))
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	return 1
}

// unknownCommand is the usage error for a command sluice does not have.
func unknownCommand(name string) error {
	if strings.HasPrefix(name, "-") {
		return &usageError{msg: fmt.Sprintf("unknown flag %s (flags follow the command)", name)}
	}
	return &usageError{msg: fmt.Sprintf("unknown command %q", name)}
}

// usage writes sluice's own help: the commands and where to read more.
func usage(w io.Writer) {
	fmt.Fprint(w, `usage: sluice <command> [flags]

Sluice consumes payment and shipment events from Kafka and writes exact
time-windowed rollups (and the raw events) into ClickHouse, exactly once.

commands:
`)
	for _, c := range commands {
		fmt.Fprintf(w, "  %-8s %s\n", c.name, c.brief)
	}
	fmt.Fprint(w, `
Configuration is read from SLUICE_* environment variables; 'sluice config' lists
them. 'sluice help <command>' or 'sluice <command> --help' shows a command's flags.
`)
}

var helpDoc = doc{
	name:     "help",
	synopsis: "[command [subcommand]]",
	brief:    "show sluice's commands, or one command's usage and flags",
	about:    "Without a command, lists sluice's commands. With one, prints its usage, as\n'sluice <command> --help' does.",
}

// helpCommand is `sluice help [command]`: the command's own --help.
func helpCommand(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	f := newFlags(helpDoc, stdout)
	if err := f.parseWithArgs(args); err != nil {
		return err
	}
	if f.NArg() == 0 {
		usage(stdout)
		return nil
	}
	name := f.Arg(0)
	cmd, ok := lookup(name)
	if !ok {
		return unknownCommand(name)
	}
	// Every command answers --help without doing anything else; subcommands
	// (sluice help dev kafka) are passed on.
	return cmd.run(ctx, append(f.Args()[1:], "--help"), stdout, stderr)
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

var runDoc = doc{
	name:  "run",
	brief: "consume Kafka into ClickHouse until SIGINT/SIGTERM",
	about: `Consumes the source topics as a member of the consumer group and writes the
rollups and raw events to ClickHouse until SIGINT or SIGTERM; then it stops
fetching, flushes, commits, leaves the group and exits 0. If that takes longer
than SLUICE_SHUTDOWN_TIMEOUT it exits 1; nothing is lost, the next owner replays
the uncommitted records exactly once.

SIGHUP restarts it in place with the configuration read again (the environment,
with --env-file's assignments over it, and every TLS file it names): if the new
configuration is bad, it says why and runs on unchanged; otherwise it shuts the
instance down as above (flush, commit, leave the group) and starts a new one.

The configuration is the SLUICE_* environment variables ('sluice config' lists
them with their values). A bad value stops start-up with a message naming the
variable.`,
}

// runCommand is `sluice run`. Shutdown order on SIGINT/SIGTERM, enforced by
// consumers.Group.Run: stop fetching → drain and flush every partition worker →
// commit marked offsets → leave the group → close ClickHouse. If that takes longer
// than SLUICE_SHUTDOWN_TIMEOUT the process exits with an error; nothing is lost,
// since uncommitted records are replayed and deduplicated by the next owner.
// SIGHUP runs the same shutdown and then starts again with the configuration read
// again (serve).
func runCommand(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags(runDoc, stdout)
	envFile := fs.String("env-file", "", "also read SLUICE_* assignments (KEY=VALUE lines, # comments) from this file, over the environment; re-read on SIGHUP")
	if err := fs.parse(args); err != nil {
		return err
	}
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	load := func() (config.Config, error) { return loadRunConfig(*envFile) }
	c, err := load()
	if err != nil {
		return err
	}
	warnUnknownVariables(newLogger(c.Log, stderr))
	for {
		runtime.MemProfileRate = memProfileRate(c.HTTP.Pprof)
		next, err := serve(ctx, c, newLogger(c.Log, stderr), hup, load)
		if err != nil || next == nil {
			return err
		}
		c = *next
	}
}

// memProfileRate is runtime.MemProfileRate for an instance: Go's default when
// /debug/pprof/ is served (SLUICE_PPROF), else 0. Nothing else reads the heap
// profile's samples, and recording one costs the allocation it samples a stack walk.
func memProfileRate(pprof bool) int {
	if pprof {
		return defaultMemProfileRate
	}
	return 0
}

// defaultMemProfileRate is runtime.MemProfileRate's initial value.
var defaultMemProfileRate = runtime.MemProfileRate

var migrateDoc = doc{
	name:  "migrate",
	brief: "create or update the ClickHouse tables and views, then exit",
	about: `Creates the database, tables and views in ClickHouse, or whatever of them is
missing, then exits. It is idempotent and safe to run from several instances at
once; 'sluice run' does the same at start unless SLUICE_MIGRATE=false. With
SLUICE_CLICKHOUSE_CLUSTER set it creates them ON CLUSTER.

With SLUICE_SCHEMA_DIR, a compatible schema change (a new optional property or
measure) is applied with ALTER TABLE … ADD COLUMN, and an incompatible one is refused
with the column, both types and what to do instead (docs/schema-evolution.md).

It takes no arguments: the configuration is the SLUICE_* environment variables.`,
}

// migrateCommand is `sluice migrate`.
func migrateCommand(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	f := newFlags(migrateDoc, stdout)
	dryRun := f.Bool("dry-run", false, "print the statements instead of running them: against the live tables (the ALTERs of schema changes, then the CREATE set)")
	offline := f.Bool("offline", false, "with --dry-run: do not connect; print the full CREATE set")
	if err := f.parse(args); err != nil {
		return err
	}
	if *offline && !*dryRun {
		return f.bad("--offline goes with --dry-run")
	}
	if *dryRun {
		return migrateDryRun(ctx, *offline, stdout)
	}
	c, err := loadConfig()
	if err != nil {
		return err
	}
	warnUnknownVariables(newLogger(c.Log, stderr))
	if err := app.Migrate(ctx, c); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "migrated database %s on %v\n", c.ClickHouse.Database, c.ClickHouse.Addrs)
	return nil
}
