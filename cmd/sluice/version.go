package main

import (
	"context"
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
)

var versionDoc = doc{
	name:  "version",
	brief: "print the version, VCS commit and Go version of this binary",
	about: `Prints the module version ("(devel)" for a build from a working tree), the
commit it was built from with "(dirty)" if the tree had uncommitted changes, the
commit time, and the Go version and platform. 'sluice --version' is the same.`,
}

// versionCommand is `sluice version`.
func versionCommand(_ context.Context, args []string, stdout, _ io.Writer) error {
	if err := newFlags(versionDoc, stdout).parse(args); err != nil {
		return err
	}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		bi = &debug.BuildInfo{GoVersion: runtime.Version()}
	}
	_, err := io.WriteString(stdout, versionText(bi))
	return err
}

// versionText describes the build bi: version, commit, commit time, Go and platform.
func versionText(bi *debug.BuildInfo) string {
	version := bi.Main.Version
	if version == "" {
		version = "(devel)"
	}
	commit, when, dirty := "unknown", "", ""
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			commit = s.Value
		case "vcs.time":
			when = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				dirty = " (dirty)"
			}
		}
	}
	text := fmt.Sprintf("sluice %s\ncommit %s%s\n", version, commit, dirty)
	if when != "" {
		text += "time   " + when + "\n"
	}
	return text + fmt.Sprintf("go     %s %s/%s\n", bi.GoVersion, runtime.GOOS, runtime.GOARCH)
}
