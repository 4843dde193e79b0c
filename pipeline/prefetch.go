//go:build amd64 || arm64

package pipeline

// prefetch asks the CPU to bring the cache line holding *p into its caches and
// returns at once: a hint, with no effect on what any load returns.
//
//go:noescape
func prefetch(p *uint64)

// prefetchSpan is prefetch for every cache line of the n bytes from p (n ≥ 1)
// and for the line of q, in one call.
//
//go:noescape
func prefetchSpan(p *uint64, n uintptr, q *uint64)
