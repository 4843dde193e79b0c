package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"

	"github.com/sluicehq/sluice/internal/config"
)

var configDoc = doc{
	name:  "config",
	brief: "print every SLUICE_* variable with its value, default and meaning",
	about: `Prints every SLUICE_* environment variable with its current value (secrets as
***; an empty one that took its default says so), its default and its meaning.
Then it lists on stderr the SLUICE_* variables that no setting reads (with the
name probably meant) and any problem with the current values, and exits 1 if
there is a problem, so the exit status says whether 'sluice run' would start. It
takes no arguments.`,
}

// configCommand implements `sluice config`: it prints every SLUICE_* variable with
// its current value (secrets as ***), default and meaning, then lists the problems
// of the current environment on stderr and returns an error if there are any, so
// the exit status says whether `sluice run` would start.
func configCommand(_ context.Context, args []string, stdout, stderr io.Writer) error {
	if err := newFlags(configDoc, stdout).parse(args); err != nil {
		return err
	}
	environ := config.Environ()
	cfg, loadErr := config.Load(environ)
	if err := config.Describe(stdout, cfg); err != nil {
		return fmt.Errorf("write: %w", err)
	}
	// Unknown variables do not stop 'sluice run' (it warns), so they do not
	// change the exit status.
	if unknown := config.UnknownVariables(environ); len(unknown) > 0 {
		fmt.Fprintf(stderr, "\n%d unknown variable(s), ignored:\n", len(unknown))
		for _, u := range unknown {
			fmt.Fprintln(stderr, "  "+u.String())
		}
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

// warnUnknownVariables logs one warning for each SLUICE_* variable of the process
// environment that no setting reads, naming the variable probably meant.
func warnUnknownVariables(log *slog.Logger) {
	for _, u := range config.UnknownVariables(config.Environ()) {
		log.Warn(u.String(), "var", u.Name, "closest", u.Closest)
	}
}
