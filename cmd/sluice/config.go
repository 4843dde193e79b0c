package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/sluicehq/sluice/internal/config"
)

// configCommand implements `sluice config`: it prints every SLUICE_* variable with
// its current value (secrets as ***), default and meaning, then lists the problems
// of the current environment on stderr and returns an error if there are any, so
// the exit status says whether `sluice run` would start.
func configCommand(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("config", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: sluice config\n\n"+
			"Prints every SLUICE_* environment variable with its current value, default and\n"+
			"meaning, then any problem with the current values. Exits non-zero if there is one.")
	}
	if err := fs.Parse(args); errors.Is(err, flag.ErrHelp) {
		return nil // usage already printed
	} else if err != nil {
		return err
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return fmt.Errorf("takes no arguments (configuration is SLUICE_* variables), got %q", fs.Args())
	}

	cfg, loadErr := config.FromEnv()
	if err := config.Describe(stdout, cfg); err != nil {
		return fmt.Errorf("write: %w", err)
	}
	if loadErr == nil {
		return nil
	}
	problems := strings.Split(loadErr.Error(), "\n")
	fmt.Fprintf(stderr, "\n%d problem(s):\n", len(problems))
	for _, p := range problems {
		fmt.Fprintln(stderr, "  "+p)
	}
	return errors.New("the environment is not a valid configuration (problems listed above)")
}
