package consumers_test

import (
	"fmt"
	"sync/atomic"
	"testing"
	"time"
)

// A member with Options.CaughtUp set that has stored everything it fetched
// commits at once, not at its commit interval (an hour here): the end of a backlog is committed as soon as it
// is stored, and again after more records came and were stored; each time
// Options.CaughtUp hears of it.
func TestGroupCommitsOnceCaughtUp(t *testing.T) {
	addrs, prod, adm := cluster(t)
	h := newHarness(t)
	const group = "caught-up"
	o := options(addrs, group)
	o.CommitInterval = time.Hour
	var commits atomic.Int64
	o.CaughtUp = func() { commits.Add(1) }
	startMember(t, o, h.factory("a"))
	n := int64(0) // records per partition
	for round, more := range []int64{25, 15} {
		produce(t, prod, int(more), false, allParts()...)
		n += more
		waitFor(t, fmt.Sprintf("offset %d committed on every partition", n), func() bool {
			c, err := committedErr(t, adm, group) // an error until the member joined
			for _, p := range allParts() {
				if err != nil || c[p] != n {
					return false
				}
			}
			return true
		}, func() string {
			c, err := committedErr(t, adm, group)
			return fmt.Sprintf("committed %v (%v)", c, err)
		})
		waitFor(t, "CaughtUp called", func() bool { return commits.Load() > int64(round) },
			func() string { return fmt.Sprintf("%d calls", commits.Load()) })
	}
}
