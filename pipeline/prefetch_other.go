//go:build !amd64 && !arm64

package pipeline

// prefetch is a no-op where no prefetch instruction is wired up.
func prefetch(*uint64) {}
