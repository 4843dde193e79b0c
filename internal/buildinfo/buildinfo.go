// Package buildinfo identifies the running binary, from runtime/debug.ReadBuildInfo:
// `sluice version`, the status page and the sluice_build_info metric all show it.
package buildinfo

import (
	"runtime"
	"runtime/debug"
)

// Build identifies one binary.
type Build struct {
	// Version is the main module's version ("(devel)" for a build from a work
	// tree, "v1.2.3" for `go install …@v1.2.3`).
	Version string
	// Revision is the VCS commit the binary was built from, "unknown" when the
	// build did not stamp it (go test, -buildvcs=false).
	Revision string
	// Dirty is set when the work tree had uncommitted changes.
	Dirty bool
	// Time is the commit's time as the VCS gave it ("" when not stamped).
	Time string
	// GoVersion is the Go release that built it.
	GoVersion string
}

// Read returns the running binary's Build.
func Read() Build {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		info = &debug.BuildInfo{GoVersion: runtime.Version()}
	}
	return From(info)
}

// From reads a Build out of info.
func From(info *debug.BuildInfo) Build {
	b := Build{Version: info.Main.Version, Revision: "unknown", GoVersion: info.GoVersion}
	if b.Version == "" {
		b.Version = "(devel)"
	}
	if b.GoVersion == "" {
		b.GoVersion = runtime.Version()
	}
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			b.Revision = s.Value
		case "vcs.time":
			b.Time = s.Value
		case "vcs.modified":
			b.Dirty = s.Value == "true"
		}
	}
	return b
}

// Commit is the revision shortened to 12 characters and suffixed "-dirty" when the
// tree had changes; "unknown" when not stamped.
func (b Build) Commit() string {
	c := b.Revision[:min(12, len(b.Revision))]
	if b.Dirty && b.Revision != "unknown" {
		c += "-dirty"
	}
	return c
}

// String is the build as one line, e.g. "v1.2.3 (commit 0123456789ab, go1.26.8)".
func (b Build) String() string {
	return b.Version + " (commit " + b.Commit() + ", " + b.GoVersion + ")"
}
