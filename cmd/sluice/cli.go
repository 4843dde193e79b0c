package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
)

// doc is a command's help: what `sluice help NAME`, `sluice NAME -h` and
// `sluice NAME --help` print on stdout.
type doc struct {
	name     string // as typed after "sluice": "produce", "dev kafka"
	synopsis string // what follows the name on the usage line, e.g. "[flags] [file ...]"
	brief    string // one line for a list of commands
	about    string // what the command does, in paragraphs
}

// usageError is a command line that cannot be run: an unknown command or flag, a bad
// flag value, a missing or unexpected argument. It exits 2 with a one-line hint.
type usageError struct {
	cmd string // the command's doc.name; "" for sluice itself
	msg string
}

func (e *usageError) Error() string { return e.msg }

// hint is the line printed for e: the problem and where to read the usage.
func (e *usageError) hint() string {
	if e.cmd == "" {
		return fmt.Sprintf("sluice: %s; see 'sluice help'", e.msg)
	}
	return fmt.Sprintf("sluice %s: %s; see 'sluice %[1]s --help'", e.cmd, e.msg)
}

// flags is a command's flag set: its parse prints the usage for -h and --help and
// turns every other problem into a *usageError, so that nothing is printed twice
// and no command sees flag.ErrHelp except as "done, exit 0".
type flags struct {
	*flag.FlagSet
	doc    doc
	stdout io.Writer
}

// newFlags returns an empty flag set for the command d; the help goes to stdout.
func newFlags(d doc, stdout io.Writer) *flags {
	fs := flag.NewFlagSet(d.name, flag.ContinueOnError)
	fs.SetOutput(io.Discard) // problems are returned, not printed by the flag package
	fs.Usage = func() {}     // the help is printed by parse, once
	return &flags{FlagSet: fs, doc: d, stdout: stdout}
}

// parse parses args, which must hold flags only. It returns flag.ErrHelp after
// printing the usage for -h or --help, and a *usageError for anything it cannot use.
func (f *flags) parse(args []string) error {
	if err := f.parseWithArgs(args); err != nil {
		return err
	}
	if f.NArg() > 0 {
		return f.bad("takes no arguments, got %q", f.Args())
	}
	return nil
}

// parseWithArgs is parse for a command that takes arguments after its flags.
func (f *flags) parseWithArgs(args []string) error {
	err := f.Parse(args)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, flag.ErrHelp):
		printUsage(f.stdout, f.doc, f.FlagSet)
		return flag.ErrHelp
	}
	return &usageError{cmd: f.doc.name, msg: flagMessages.Replace(err.Error())}
}

// flagMessages rewrites the flag package's errors, which are text only, to name
// flags as the help does (--name) and to say "unknown flag" plainly.
var flagMessages = strings.NewReplacer(
	"flag provided but not defined: -", "unknown flag --",
	"for flag -", "for flag --",
	"flag needs an argument: -", "flag needs an argument: --",
)

// bad returns a *usageError of this command: a flag value or argument it cannot use.
func (f *flags) bad(format string, a ...any) error {
	return &usageError{cmd: f.doc.name, msg: fmt.Sprintf(format, a...)}
}

// printUsage writes d's help: the usage line, what it does, and the flags of fs with
// their defaults.
func printUsage(w io.Writer, d doc, fs *flag.FlagSet) {
	fmt.Fprintf(w, "usage: sluice %s", d.name)
	if d.synopsis != "" {
		fmt.Fprintf(w, " %s", d.synopsis)
	}
	fmt.Fprintf(w, "\n\n%s\n\nflags:\n", strings.TrimSpace(d.about))
	fs.VisitAll(func(fl *flag.Flag) {
		kind, usage := flag.UnquoteUsage(fl)
		line := "  --" + fl.Name
		if kind != "" {
			line += " " + kind
		}
		fmt.Fprintf(w, "%s\n      %s", line, strings.ReplaceAll(usage, "\n", "\n      "))
		switch {
		case isZeroDefault(fl.DefValue):
		case kind == "string":
			fmt.Fprintf(w, " (default %q)", fl.DefValue)
		default:
			fmt.Fprintf(w, " (default %s)", fl.DefValue)
		}
		fmt.Fprintln(w)
	})
	fmt.Fprintln(w, "  -h, --help\n      print this help")
}

// isZeroDefault reports whether a flag's default is its type's zero value, which
// the help leaves unsaid.
func isZeroDefault(v string) bool {
	switch v {
	case "", "0", "false", "0s":
		return true
	}
	return false
}

// runGroup runs one of subs, the subcommands of the command group d ("dev",
// "schema"), which calls them by noun ("service", "subcommand"): args start with
// the subcommand's name.
func runGroup(ctx context.Context, d doc, noun string, subs []command, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return &usageError{cmd: d.name, msg: "name a " + noun + ": " + strings.Join(subNames(d, subs), " or ")}
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		groupUsage(stdout, d, noun, subs)
		return flag.ErrHelp
	}
	for _, sub := range subs {
		if sub.name == d.name+" "+args[0] {
			return sub.run(ctx, args[1:], stdout, stderr)
		}
	}
	if strings.HasPrefix(args[0], "-") {
		return &usageError{cmd: d.name, msg: fmt.Sprintf("unknown flag %s (name a %s first)", args[0], noun)}
	}
	return &usageError{cmd: d.name, msg: fmt.Sprintf("unknown %s %q", noun, args[0])}
}

// subNames are the names of subs as typed after d's name.
func subNames(d doc, subs []command) []string {
	names := make([]string, len(subs))
	for i, sub := range subs {
		names[i] = strings.TrimPrefix(sub.name, d.name+" ")
	}
	return names
}

// groupUsage writes the help of the command group d: its about text (or brief)
// and its subcommands.
func groupUsage(w io.Writer, d doc, noun string, subs []command) {
	about := d.about
	if about == "" {
		about = d.brief
	}
	fmt.Fprintf(w, "usage: sluice %s %s\n\n%s:\n\n", d.name, d.synopsis, strings.TrimSpace(about))
	for i, name := range subNames(d, subs) {
		fmt.Fprintf(w, "  %-11s %s\n", name, subs[i].brief)
	}
	fmt.Fprintf(w, "\n'sluice %s <%s> --help' shows its flags.\n  -h, --help\n      print this help\n", d.name, noun)
}
