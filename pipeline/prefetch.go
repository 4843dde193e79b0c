//go:build amd64 || arm64

package pipeline

// prefetch asks the CPU to bring the cache line holding *p into its caches and
// returns at once: a hint, with no effect on what any load returns.
//
//go:noescape
func prefetch(p *uint64)
