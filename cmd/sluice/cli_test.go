package main

import (
	"bytes"
	"context"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/internal/buildinfo"
)

// sluice runs the command line args through dispatch, as main does, and returns the
// exit status and what was written to stdout and stderr.
//
// Its context is already cancelled: a command that wrongly went on to work instead
// of answering its help stops at once rather than waiting for Kafka or ClickHouse.
// SLUICE_CACHE_DIR points into the test's temporary directory, so that a demo
// started by mistake cannot empty a real data directory.
func sluice(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	t.Setenv("SLUICE_CACHE_DIR", filepath.Join(t.TempDir(), "cache"))
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	var out, errOut bytes.Buffer
	code = dispatch(ctx, args, &out, &errOut)
	return code, out.String(), errOut.String()
}

// allCommands are the names of every command and subcommand, as typed after
// "sluice".
func allCommands() [][]string {
	var names [][]string
	for _, c := range commands {
		names = append(names, []string{c.name})
	}
	for _, svc := range append(append([]command{}, devServices...), schemaCommands...) {
		names = append(names, strings.Fields(svc.name))
	}
	return names
}

// TestHelp asks every command for its help in the three ways an operator would and
// checks that each prints the command's usage on stdout, nothing on stderr, and
// exits 0. It sets process environment variables, so it does not run in parallel.
func TestHelp(t *testing.T) {
	for _, name := range allCommands() {
		full := strings.Join(name, " ")
		for _, args := range [][]string{
			append(append([]string{}, name...), "-h"),
			append(append([]string{}, name...), "--help"),
			append([]string{"help"}, name...),
		} {
			code, stdout, stderr := sluice(t, args...)
			if code != 0 || stderr != "" {
				t.Errorf("sluice %s: exit %d, stderr %q; want 0 and nothing", strings.Join(args, " "), code, stderr)
			}
			if !strings.HasPrefix(stdout, "usage: sluice "+full) {
				t.Errorf("sluice %s: stdout does not start with %q:\n%s", strings.Join(args, " "), "usage: sluice "+full, stdout)
			}
			if name[0] != "help" && name[0] != "dev" && !strings.Contains(stdout, "-h, --help") {
				t.Errorf("sluice %s: the help lists no flags:\n%s", strings.Join(args, " "), stdout)
			}
		}
	}
	for _, args := range [][]string{{"help"}, {"-h"}, {"--help"}} {
		code, stdout, stderr := sluice(t, args...)
		if code != 0 || stderr != "" || !strings.Contains(stdout, "commands:") {
			t.Errorf("sluice %s: exit %d, stderr %q, stdout:\n%s\nwant 0, nothing and the command list", args[0], code, stderr, stdout)
		}
		for _, c := range commands {
			if !strings.Contains(stdout, "  "+c.name+" ") {
				t.Errorf("sluice %s: the command list lacks %s", args[0], c.name)
			}
		}
	}
}

// TestHelpShowsFlags checks that a command's help lists its flags with defaults.
func TestHelpShowsFlags(t *testing.T) {
	code, stdout, _ := sluice(t, "help", "loadgen")
	for _, want := range []string{"--seed int", "(default 1)", "--brokers string", `(default "localhost:9092")`, "--truth-json string"} {
		if code != 0 || !strings.Contains(stdout, want) {
			t.Errorf("sluice help loadgen: exit %d, stdout lacks %q:\n%s", code, want, stdout)
		}
	}
}

// TestUsageErrors checks that command lines that cannot be run exit 2 with one line
// on stderr that names the problem and where to read the usage, and print nothing on
// stdout. It sets process environment variables, so it does not run in parallel.
func TestUsageErrors(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"nosuch"}, `sluice: unknown command "nosuch"; see 'sluice help'`},
		{[]string{"help", "nosuch"}, `sluice: unknown command "nosuch"; see 'sluice help'`},
		{[]string{"--foo"}, `sluice: unknown flag --foo (flags follow the command); see 'sluice help'`},
		{[]string{"produce", "--foo"}, `sluice produce: unknown flag --foo; see 'sluice produce --help'`},
		{[]string{"run", "extra"}, `sluice run: takes no arguments, got ["extra"]; see 'sluice run --help'`},
		{[]string{"config", "extra"}, `sluice config: takes no arguments, got ["extra"]; see 'sluice config --help'`},
		{[]string{"produce", "--topic", "orders"}, `sluice produce: --topic="orders": must be payments or shipments (or give --schema FILE); see 'sluice produce --help'`},
		{[]string{"loadgen", "--rate", "fast"}, `sluice loadgen: invalid value "fast" for flag --rate: parse error; see 'sluice loadgen --help'`},
		{[]string{"produce", "--topic"}, `sluice produce: flag needs an argument: --topic; see 'sluice produce --help'`},
		{[]string{"dev"}, `sluice dev: name a service: clickhouse or kafka; see 'sluice dev --help'`},
		{[]string{"dev", "redis"}, `sluice dev: unknown service "redis"; see 'sluice dev --help'`},
		{[]string{"dev", "kafka", "--partitions", "0"}, `sluice dev kafka: --partitions must be at least 1; see 'sluice dev kafka --help'`},
	}
	// Every command refuses a flag it does not have.
	for _, name := range allCommands() {
		full := strings.Join(name, " ")
		want := "sluice " + full + ": unknown flag --no-such-flag; see 'sluice " + full + " --help'"
		switch full {
		case "dev":
			want = "sluice dev: unknown flag --no-such-flag (name a service first); see 'sluice dev --help'"
		case "schema":
			want = "sluice schema: unknown flag --no-such-flag (name a subcommand first); see 'sluice schema --help'"
		}
		tests = append(tests, struct {
			args []string
			want string
		}{append(append([]string{}, name...), "--no-such-flag"), want})
	}
	for _, tt := range tests {
		code, stdout, stderr := sluice(t, tt.args...)
		if code != 2 || stderr != tt.want+"\n" || stdout != "" {
			t.Errorf("sluice %s: exit %d, stderr %q, stdout %q; want exit 2 and stderr\n%s", strings.Join(tt.args, " "), code, stderr, stdout, tt.want)
		}
		if strings.Contains(stderr, "flag: help requested") {
			t.Errorf("sluice %s: stderr shows the flag package's error: %s", strings.Join(tt.args, " "), stderr)
		}
	}

	// No command at all: the command list, on stderr.
	code, stdout, stderr := sluice(t)
	if code != 2 || stdout != "" || !strings.Contains(stderr, "commands:") {
		t.Errorf("sluice: exit %d, stdout %q, stderr:\n%s\nwant 2 and the command list on stderr", code, stdout, stderr)
	}
}

// TestErrorsDoNotStutter checks that a failing command says "sluice CMD: " once,
// followed by the error without the command's name again.
func TestErrorsDoNotStutter(t *testing.T) {
	t.Parallel()
	missing := filepath.Join(t.TempDir(), "missing.ndjson")
	var stdout, stderr bytes.Buffer
	code := dispatch(t.Context(), []string{"produce", "--topic", "payments", "--dry-run", missing}, &stdout, &stderr)
	want := "sluice produce: open " + missing + ": no such file or directory\n"
	if code != 1 || stderr.String() != want {
		t.Errorf("exit %d, stderr %q; want 1 and %q", code, stderr.String(), want)
	}
}

// TestVersion checks `sluice version` and `sluice --version` against the build
// information of the test binary.
func TestVersion(t *testing.T) {
	_, stdout, _ := sluice(t, "version")
	for _, args := range [][]string{{"version"}, {"--version"}} {
		code, out, stderr := sluice(t, args...)
		if code != 0 || stderr != "" || out != stdout {
			t.Errorf("sluice %s: exit %d, stderr %q, stdout %q; want 0, nothing and %q", args[0], code, stderr, out, stdout)
		}
	}
	for _, want := range []string{"sluice ", "commit ", "go     " + runtime.Version() + " " + runtime.GOOS + "/" + runtime.GOARCH} {
		if !strings.Contains(stdout, want) {
			t.Errorf("sluice version lacks %q:\n%s", want, stdout)
		}
	}
}

// TestVersionText checks the version text of a build from a dirty checkout and of a
// build without version or VCS information.
func TestVersionText(t *testing.T) {
	t.Parallel()
	stamped := versionText(buildinfo.From(&debug.BuildInfo{
		GoVersion: "go1.99.1",
		Main:      debug.Module{Version: "v1.4.0"},
		Settings: []debug.BuildSetting{
			{Key: "vcs.revision", Value: "0123abcd"},
			{Key: "vcs.time", Value: "2026-01-02T03:04:05Z"},
			{Key: "vcs.modified", Value: "true"},
		},
	}))
	want := "sluice v1.4.0\ncommit 0123abcd (dirty)\ntime   2026-01-02T03:04:05Z\ngo     go1.99.1 " + runtime.GOOS + "/" + runtime.GOARCH + "\n"
	if stamped != want {
		t.Errorf("stamped build:\n%s\nwant\n%s", stamped, want)
	}
	bare := versionText(buildinfo.From(&debug.BuildInfo{GoVersion: "go1.99.1"}))
	want = "sluice (devel)\ncommit unknown\ngo     go1.99.1 " + runtime.GOOS + "/" + runtime.GOARCH + "\n"
	if bare != want {
		t.Errorf("bare build:\n%s\nwant\n%s", bare, want)
	}
}
