package buildinfo

import (
	"runtime/debug"
	"testing"
)

func TestFrom(t *testing.T) {
	b := From(&debug.BuildInfo{GoVersion: "go1.99.1", Main: debug.Module{Version: "v1.2.3"}, Settings: []debug.BuildSetting{
		{Key: "vcs.revision", Value: "0123456789abcdef0123"}, {Key: "vcs.time", Value: "2026-12-01T10:00:00Z"}, {Key: "vcs.modified", Value: "true"},
	}})
	if got, want := b.String(), "v1.2.3 (commit 0123456789ab-dirty, go1.99.1)"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	if b.Time != "2026-12-01T10:00:00Z" || b.Revision != "0123456789abcdef0123" {
		t.Errorf("From: %+v", b)
	}
	bare := From(&debug.BuildInfo{GoVersion: "go1.99.1"})
	if got, want := bare.String(), "(devel) (commit unknown, go1.99.1)"; got != want {
		t.Errorf("unstamped String() = %q, want %q", got, want)
	}
}
