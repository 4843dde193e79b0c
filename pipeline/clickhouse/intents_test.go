package clickhouse

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/sluicehq/sluice/pipeline"
)

// heldSend is a ledger insert about to be sent, held until go_ is closed.
type heldSend struct {
	ctx context.Context // the sending member's
	n   int             // ranges in the insert
	go_ chan struct{}
}

// holdLedger makes every ledger insert of c wait, before it is sent, until the test
// releases it from the returned channel; joins receives a value per call that
// joined a group. The merges of c's ledger are stopped, so that its active parts
// are the inserts.
func holdLedger(t *testing.T, c *Client) (sends <-chan heldSend, joins <-chan struct{}) {
	t.Helper()
	exec(t, c, "SYSTEM STOP MERGES "+qualified(c.db, LedgerTable))
	s, j := make(chan heldSend, 1024), make(chan struct{}, 1024)
	c.intents.joined = func() { j <- struct{}{} }
	c.intents.sending = func(ctx context.Context, n int) {
		h := heldSend{ctx: ctx, n: n, go_: make(chan struct{})}
		s <- h
		select {
		case <-h.go_:
		case <-t.Context().Done():
		}
	}
	return s, j
}

// waitJoins receives n joins.
func waitJoins(joins <-chan struct{}, n int) {
	for range n {
		<-joins
	}
}

// who tags a caller's context, for telling the sending member apart.
type who struct{}

// intendAsync calls c.Intend(ctx, r) in a goroutine and returns its result's channel.
func intendAsync(ctx context.Context, c *Client, r pipeline.Range) <-chan error {
	res := make(chan error, 1)
	go func() { res <- c.Intend(ctx, r) }()
	return res
}

// partRange is a range of partition p, one per partition in these tests.
func partRange(p int) pipeline.Range {
	return pipeline.Range{Group: "g", Topic: "payments", Partition: int32(p), First: int64(10 * p), Last: int64(10*p + 9)}
}

// ledgerParts returns the rows of each active part of c's ledger, in ascending order.
func ledgerParts(t *testing.T, c *Client) []uint64 {
	t.Helper()
	var out []uint64
	for _, l := range queryLines(t, c, "SELECT toString(rows) FROM system.parts WHERE database = ? AND table = ? AND active ORDER BY rows", c.db, LedgerTable) {
		n, err := strconv.ParseUint(l, 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, n)
	}
	return out
}

// releaseAll releases first and then every insert sent after it until they carried
// n ranges, and returns how many each carried.
func releaseAll(sends <-chan heldSend, first heldSend, n int) []int {
	sizes := []int{first.n}
	close(first.go_)
	for total := first.n; total < n; {
		s := <-sends
		sizes = append(sizes, s.n)
		total += s.n
		close(s.go_)
	}
	return sizes
}

// recorded reports whether Ranges returns r.
func recorded(t *testing.T, c *Client, r pipeline.Range) bool {
	t.Helper()
	got, err := c.Ranges(t.Context(), r.Topic, r.TopicID, r.Partition, 0)
	if err != nil {
		t.Fatal(err)
	}
	return slices.Contains(got, r)
}

// allRecorded checks that Ranges returns partRange(p) for every p below n.
func allRecorded(t *testing.T, c *Client, n int) {
	t.Helper()
	for p := range n {
		if !recorded(t, c, partRange(p)) {
			t.Errorf("%+v not recorded", partRange(p))
		}
	}
}

func TestIntendConcurrentCallsAllRecorded(t *testing.T) {
	c := open(t)
	const callers, each = 32, 4
	errs := make(chan error, callers*each)
	var wg sync.WaitGroup
	for p := range callers {
		wg.Go(func() {
			for k := range each {
				r := pipeline.Range{Group: "g", Topic: "payments", Partition: int32(p), First: int64(k * 100), Last: int64(k*100 + 99)}
				if err := c.Intend(t.Context(), r); err != nil {
					errs <- err
					return
				}
				// Visible as soon as Intend returned.
				if !recorded(t, c, r) {
					errs <- fmt.Errorf("%+v not in Ranges after Intend returned", r)
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestIntendGroupsCallsWhileAnInsertIsInFlight(t *testing.T) {
	c := open(t)
	sends, joins := holdLedger(t, c)
	const n = 40
	var res []<-chan error
	for p := range n {
		res = append(res, intendAsync(t.Context(), c, partRange(p)))
	}
	first := <-sends // the first insert is in flight; every other call waits
	waitJoins(joins, n)
	sizes := releaseAll(sends, first, n)
	for i, r := range res {
		if err := <-r; err != nil {
			t.Fatalf("Intend %d: %v", i, err)
		}
	}
	// The first insert carries the calls that joined before it was sent; the
	// second every other one.
	if len(sizes) > 2 {
		t.Errorf("inserts of %v ranges for %d calls, want at most 2 inserts", sizes, n)
	}
	if parts := ledgerParts(t, c); len(parts) != len(sizes) {
		t.Errorf("ledger parts %v after inserts of %v ranges", parts, sizes)
	}
	allRecorded(t, c, n)
}

func TestIntendLoneCallInsertsAtOnce(t *testing.T) {
	c := open(t)
	sends, _ := holdLedger(t, c)
	res := intendAsync(t.Context(), c, partRange(1))
	s := <-sends // sent without waiting for company
	if s.n != 1 {
		t.Errorf("a lone call sent %d ranges", s.n)
	}
	close(s.go_)
	if err := <-res; err != nil {
		t.Fatal(err)
	}
}

func TestIntendGroupIsCapped(t *testing.T) {
	c := open(t)
	c.intents.max = 4
	sends, joins := holdLedger(t, c)
	const n = 13
	var res []<-chan error
	for p := range n {
		res = append(res, intendAsync(t.Context(), c, partRange(p)))
	}
	first := <-sends
	waitJoins(joins, n)
	sizes := releaseAll(sends, first, n)
	for _, r := range res {
		if err := <-r; err != nil {
			t.Fatal(err)
		}
	}
	for _, s := range sizes {
		if s > 4 {
			t.Errorf("an insert of %d ranges; the cap is 4 (inserts: %v)", s, sizes)
		}
	}
	parts := ledgerParts(t, c)
	var rows uint64
	for _, p := range parts {
		rows += p
	}
	if len(parts) != len(sizes) || rows != n || parts[len(parts)-1] > 4 {
		t.Errorf("ledger parts %v after inserts of %v ranges", parts, sizes)
	}
}

func TestIntendFailedInsertFailsEveryMember(t *testing.T) {
	c := open(t)
	sends, joins := holdLedger(t, c)
	z := intendAsync(t.Context(), c, partRange(0))
	first := <-sends
	var group []<-chan error
	for p := 1; p <= 3; p++ {
		group = append(group, intendAsync(t.Context(), c, partRange(p)))
	}
	waitJoins(joins, 4)
	exec(t, c, "DROP TABLE "+qualified(c.db, LedgerTable))
	close(first.go_)
	second := <-sends
	if second.n != 3 {
		t.Fatalf("the calls made during the first insert went in an insert of %d ranges, want 3", second.n)
	}
	close(second.go_)
	for i, r := range append(group, z) {
		if err := <-r; !IsPermanent(err) {
			t.Errorf("Intend %d with the ledger dropped = %v, want its insert's UNKNOWN_TABLE", i, err)
		}
	}
	// Retried once the table is back, they are recorded.
	exec(t, c, internalDDL(c)...)
	c.intents.sending = nil
	for p := range 4 {
		if err := c.Intend(t.Context(), partRange(p)); err != nil {
			t.Fatal(err)
		}
	}
	allRecorded(t, c, 4)
}

func TestIntendCancelledMemberLeavesGroup(t *testing.T) {
	c := open(t)
	sends, joins := holdLedger(t, c)
	z := intendAsync(t.Context(), c, partRange(0))
	first := <-sends
	ctxA, cancelA := context.WithCancel(t.Context())
	a := intendAsync(ctxA, c, partRange(1))
	b := intendAsync(t.Context(), c, partRange(2))
	waitJoins(joins, 3)
	cancelA()
	// A returns while the first insert is still held.
	if err := <-a; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled Intend = %v, want context.Canceled", err)
	}
	close(first.go_)
	second := <-sends
	if second.n != 1 {
		t.Errorf("the group sent %d ranges; the cancelled call's range should have left it", second.n)
	}
	close(second.go_)
	for _, r := range []<-chan error{z, b} {
		if err := <-r; err != nil {
			t.Fatal(err)
		}
	}
	if !recorded(t, c, partRange(0)) || !recorded(t, c, partRange(2)) || recorded(t, c, partRange(1)) {
		t.Errorf("recorded %v, %v, %v; want the two calls not cancelled only",
			recorded(t, c, partRange(0)), recorded(t, c, partRange(1)), recorded(t, c, partRange(2)))
	}
}

// groupOfTwo holds a first insert, lets two calls with their own contexts join the
// next group, releases the first, and returns the second insert held, with the
// two calls' cancel functions and results, the sender's first.
func groupOfTwo(t *testing.T, c *Client) (held heldSend, cancels [2]context.CancelFunc, res [2]<-chan error) {
	t.Helper()
	sends, joins := holdLedger(t, c)
	z := intendAsync(t.Context(), c, partRange(0))
	first := <-sends
	var ctxs [2]context.Context
	for i := range 2 {
		ctxs[i], cancels[i] = context.WithCancel(context.WithValue(t.Context(), who{}, i))
		t.Cleanup(cancels[i])
		res[i] = intendAsync(ctxs[i], c, partRange(i+1))
	}
	waitJoins(joins, 3)
	close(first.go_)
	if err := <-z; err != nil {
		t.Fatal(err)
	}
	held = <-sends
	if held.n != 2 {
		t.Fatalf("the two calls made during the first insert went in an insert of %d ranges", held.n)
	}
	if held.ctx.Value(who{}) == 1 {
		cancels[0], cancels[1] = cancels[1], cancels[0]
		res[0], res[1] = res[1], res[0]
	}
	return held, cancels, res
}

func TestIntendCancelledSenderStillRecordsGroup(t *testing.T) {
	c := open(t)
	held, cancels, res := groupOfTwo(t, c)
	cancels[0]() // the sender's
	close(held.go_)
	for i, r := range res {
		if err := <-r; err != nil {
			t.Errorf("Intend %d = %v; the insert carries a member still waiting", i, err)
		}
	}
	if !recorded(t, c, partRange(1)) || !recorded(t, c, partRange(2)) {
		t.Error("the group's ranges are not recorded")
	}
}

func TestIntendGroupEveryMemberLeft(t *testing.T) {
	c := open(t)
	held, cancels, res := groupOfTwo(t, c)
	cancels[1]() // the follower's: it returns at once
	if err := <-res[1]; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled follower = %v, want context.Canceled", err)
	}
	abandoned := make(chan struct{}, 1)
	c.intents.abandoned = func() { abandoned <- struct{}{} }
	cancels[0]() // the last member: the insert is cancelled
	<-abandoned  // (the member leaves in a goroutine of its ctx)
	close(held.go_)
	if err := <-res[0]; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled sender = %v, want context.Canceled", err)
	}
	if parts := ledgerParts(t, c); len(parts) != 1 {
		t.Errorf("ledger parts %v; want the first insert's only", parts)
	}
}

// BenchmarkIntendConcurrent is the latency of Intend with 8 callers per CPU calling
// at once (partitions flushing together), grouped as Intend does and, for
// comparison, each call inserting alone and in parallel; inserts/op is the ledger
// parts each call costs.
func BenchmarkIntendConcurrent(b *testing.B) {
	for _, tc := range []struct {
		name          string
		max, inFlight int
	}{{"grouped", maxIntentGroup, 1}, {"alone", 1, DefaultMaxConns}} {
		b.Run(tc.name, func(b *testing.B) {
			c := open(b)
			c.intents = &intents[pipeline.Range]{turn: make(chan struct{}, tc.inFlight), max: tc.max}
			var inserts, next atomic.Int64
			c.intents.sending = func(context.Context, int) { inserts.Add(1) }
			b.SetParallelism(8)
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				p := int32(next.Add(1))
				for i := int64(0); pb.Next(); i++ {
					r := pipeline.Range{Group: "g", Topic: "payments", Partition: p, First: i * 100, Last: i*100 + 99}
					if err := c.Intend(b.Context(), r); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(inserts.Load())/float64(b.N), "inserts/op")
		})
	}
}

func TestIntendSenderPanicFailsGroupAndFreesTurn(t *testing.T) {
	c := open(t)
	sends, joins := holdLedger(t, c)
	hold := c.intents.sending
	c.intents.sending = func(ctx context.Context, n int) {
		hold(ctx, n)
		if n == 2 {
			panic("send")
		}
	}
	z := intendAsync(t.Context(), c, partRange(0))
	first := <-sends
	type outcome struct {
		err      error
		panicked any
	}
	group := make(chan outcome, 2)
	for p := 1; p <= 2; p++ {
		go func() {
			var o outcome
			defer func() { o.panicked = recover(); group <- o }()
			o.err = c.Intend(t.Context(), partRange(p))
		}()
	}
	waitJoins(joins, 3)
	close(first.go_)
	if err := <-z; err != nil {
		t.Fatal(err)
	}
	second := <-sends
	close(second.go_)
	// The sender's panic goes on up its own call; its group's other member fails.
	a, b := <-group, <-group
	if a.panicked == nil {
		a, b = b, a
	}
	if a.panicked != "send" || b.panicked != nil || b.err == nil {
		t.Fatalf("the group's calls ended with %+v and %+v; want the sender's panic and the other's error", a, b)
	}
	// The turn is free again.
	c.intents.sending = nil
	if err := c.Intend(t.Context(), partRange(3)); err != nil {
		t.Fatal(err)
	}
}
