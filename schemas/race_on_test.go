//go:build race

package schemas

// raceDetector reports a -race build, whose instrumented code allocates where a
// normal build does not (slices the compiler keeps on the stack otherwise): the
// tests that count allocations check their counts only without it.
const raceDetector = true
