package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/sluicehq/sluice/internal/config"
)

var configDoc = doc{
	name:  "config",
	brief: "print every SLUICE_* variable with its value, default and meaning",
	about: `Prints every SLUICE_* environment variable with its current value (secrets as
***), its default and its meaning, then lists any problem with the current values
on stderr and exits 1 if there is one, so the exit status says whether 'sluice run'
would start. It takes no arguments.`,
}

// configCommand implements `sluice config`: it prints every SLUICE_* variable with
// its current value (secrets as ***), default and meaning, then lists the problems
// of the current environment on stderr and returns an error if there are any, so
// the exit status says whether `sluice run` would start.
func configCommand(_ context.Context, args []string, stdout, stderr io.Writer) error {
	if err := newFlags(configDoc, stdout).parse(args); err != nil {
		return err
	}
	cfg, loadErr := config.FromEnv()
	if err := config.Describe(stdout, cfg); err != nil {
		return fmt.Errorf("write: %w", err)
	}
	if loadErr == nil {
		return nil
	}
	problems := config.Problems(loadErr)
	fmt.Fprintf(stderr, "\n%d problem(s):\n", len(problems))
	for _, p := range problems {
		fmt.Fprintln(stderr, "  "+p.Error())
	}
	return errors.New("the environment is not a valid configuration (problems listed above)")
}
