//go:build nodev

package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
)

// devTools stand in for the development commands, which this build leaves out:
// they run the embedded ClickHouse, whose loader would make the binary dynamically
// linked, so a production build (go build -tags nodev, as the container image is
// built) holds only what runs against a real Kafka and ClickHouse.
var devTools = map[string]command{
	"demo":  notInBuild("demo", "the end-to-end demo on embedded Kafka and ClickHouse"),
	"dev":   notInBuild("dev", "the embedded ClickHouse or Kafka alone"),
	"bench": notInBuild("bench", "the end-to-end benchmark"),
}

// devServices are the subcommands of `sluice dev`: none in this build.
var devServices []command

// runIfChild returns at once: this build has no embedded ClickHouse to serve.
func runIfChild() {}

// notInBuild is the stand-in for the development command name: its help says what
// it would do and that it is not in this build; running it fails saying so.
func notInBuild(name, what string) command {
	const why = "development tools (demo, dev, bench) are left out of production builds (go build -tags nodev, as the container image is built)"
	d := doc{
		name:     name,
		synopsis: "(not in this build)",
		brief:    "not in this build (development tools: " + what + ")",
		about:    "Not in this build: " + what + ".\n\nThe " + why + ". From a source tree:\n\n  go run ./cmd/sluice " + name,
	}
	return command{d, func(_ context.Context, args []string, stdout, _ io.Writer) error {
		if err := newFlags(d, stdout).parseWithArgs(args); errors.Is(err, flag.ErrHelp) {
			return err
		}
		return fmt.Errorf("not in this build: the %s; from a source tree run `go run ./cmd/sluice %s`", why, name)
	}}
}
