package main

import (
	"context"
	"fmt"
	"io"
	"runtime"

	"github.com/sluicehq/sluice/internal/buildinfo"
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
	_, err := io.WriteString(stdout, versionText(buildinfo.Read()))
	return err
}

// versionText describes the build b: version, commit, commit time, Go and platform.
func versionText(b buildinfo.Build) string {
	dirty := ""
	if b.Dirty {
		dirty = " (dirty)"
	}
	text := fmt.Sprintf("sluice %s\ncommit %s%s\n", b.Version, b.Revision, dirty)
	if b.Time != "" {
		text += "time   " + b.Time + "\n"
	}
	return text + fmt.Sprintf("go     %s %s/%s\n", b.GoVersion, runtime.GOOS, runtime.GOARCH)
}
