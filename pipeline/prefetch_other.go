//go:build !amd64 && !arm64

package pipeline

// prefetch is a no-op where no prefetch instruction is wired up.
func prefetch(*uint64) {}

// prefetchSpan is a no-op where no prefetch instruction is wired up.
func prefetchSpan(*uint64, uintptr, *uint64) {}
