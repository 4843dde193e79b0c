package metrics

import (
	"runtime"
	"runtime/debug"
)

// Build identifies the running binary, from runtime/debug.ReadBuildInfo.
type Build struct {
	// Version is the main module's version ("(devel)" for a build from a work
	// tree, "v1.2.3" for `go install …@v1.2.3`).
	Version string
	// Commit is the VCS revision the binary was built from, shortened to 12
	// characters and suffixed "-dirty" when the tree had changes; "unknown" when
	// the build did not stamp it (go test, -buildvcs=false).
	Commit string
	// GoVersion is the Go release that built it.
	GoVersion string
}

// ReadBuild returns the running binary's Build.
func ReadBuild() Build {
	b := Build{Version: "unknown", Commit: "unknown", GoVersion: runtime.Version()}
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return b
	}
	if v := info.Main.Version; v != "" {
		b.Version = v
	}
	if info.GoVersion != "" {
		b.GoVersion = info.GoVersion
	}
	dirty := false
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			b.Commit = s.Value[:min(12, len(s.Value))]
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	if dirty && b.Commit != "unknown" {
		b.Commit += "-dirty"
	}
	return b
}

// String is the build as one line, e.g. "v1.2.3 (commit 0123456789ab, go1.26.8)".
func (b Build) String() string {
	return b.Version + " (commit " + b.Commit + ", " + b.GoVersion + ")"
}
