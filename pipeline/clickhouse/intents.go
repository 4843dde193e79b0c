package clickhouse

import (
	"context"
	"errors"
	"sync"

	"github.com/sluicehq/sluice/pipeline"
)

// maxIntentGroup is the most ranges one ledger insert records. It bounds the
// statement (about 100 bytes a range) and how many callers one failed insert
// fails; a Client owning more partitions than this that flush at once sends
// several inserts back to back, each still one part for up to this many flushes.
const maxIntentGroup = 256

// intents makes concurrent Intend calls share ledger inserts (group commit), so
// that flushes of many partitions cost the ledger one insert, and one part, instead
// of one each. At most one ledger insert is in flight: the caller holding turn sends
// it. A call that finds the turn free sends its own range at once; calls that arrive
// while an insert is in flight join the open group, and when the turn is free
// whichever member takes it first sends the whole group for all of them. It runs no
// goroutine: every insert is sent by one of its callers.
//
// Each caller returns with the outcome of the insert that carried its range, so it
// returns nil only once its range is recorded. A caller whose ctx is done leaves at
// once, its range dropped from a group not yet sent, and the group goes on without
// it; the sender of a group stays until its insert returns, and that insert is
// cancelled only once every member of the group has left.
type intents struct {
	turn chan struct{} // capacity 1: full while a member sends its group
	max  int           // most ranges a group holds

	mu   sync.Mutex
	open *intentGroup // the group new calls join; nil once sent, replaced once full

	// joined, sending and abandoned are for tests: when set, joined runs after a
	// call joined a group, sending in the member about to send a group of n
	// ranges, with that member's ctx, and abandoned once the last member of a sent
	// group left and its insert is cancelled.
	joined    func()
	sending   func(ctx context.Context, n int)
	abandoned func()
}

// intentGroup is the ranges of calls that one insert records.
type intentGroup struct {
	// Guarded by intents.mu.
	members []intentMember
	live    int                // members still waiting for the outcome
	sent    bool               // a member took the group: no more may join
	cancel  context.CancelFunc // cancels the insert once sent

	done chan struct{} // closed once err is set
	err  error
}

// intentMember is one call's range in a group.
type intentMember struct {
	r    pipeline.Range
	left bool // the call returned before the outcome (its ctx was done)
}

// newIntents returns intents with no insert in flight and groups of up to
// maxIntentGroup ranges.
func newIntents() *intents {
	return &intents{turn: make(chan struct{}, 1), max: maxIntentGroup}
}

// record returns once an insert that send made of r, with the open group's other
// ranges, returned, with its error; or ctx.Err() once ctx is done. send receives
// at least one range.
func (x *intents) record(ctx context.Context, r pipeline.Range, send func(context.Context, []pipeline.Range) error) error {
	g, i := x.join(r)
	if x.joined != nil {
		x.joined()
	}
	for {
		select {
		case <-g.done:
			return g.err
		case <-ctx.Done():
			x.leave(g, i)
			return ctx.Err()
		case x.turn <- struct{}{}:
			rs, sendCtx, ok := x.take(ctx, g)
			if !ok {
				// Another member sent g and released the turn after its outcome.
				<-x.turn
				<-g.done
				return g.err
			}
			return x.send(ctx, g, i, rs, sendCtx, send)
		}
	}
}

// send sends g's ranges rs for member i, which holds the turn, with sendCtx, and
// publishes the outcome to g's other members before it releases the turn.
func (x *intents) send(ctx context.Context, g *intentGroup, i int, rs []pipeline.Range, sendCtx context.Context,
	send func(context.Context, []pipeline.Range) error) (err error) {
	// The other members' outcome if send panics.
	err = errors.New("the ledger insert of the group did not return")
	// This caller's ctx ending counts as its leaving, not as the insert's
	// cancellation: other members may still wait for it.
	stop := context.AfterFunc(ctx, func() { x.leave(g, i) })
	defer func() {
		stop()
		g.err = err
		close(g.done)
		x.mu.Lock()
		g.cancel()
		x.mu.Unlock()
		<-x.turn
	}()
	if x.sending != nil {
		x.sending(ctx, len(rs))
	}
	return send(sendCtx, rs)
}

// join adds r to the open group, opening a new one when there is none or it is
// full, and returns the group and r's index in it.
func (x *intents) join(r pipeline.Range) (*intentGroup, int) {
	x.mu.Lock()
	defer x.mu.Unlock()
	g := x.open
	if g == nil || len(g.members) >= x.max {
		g = &intentGroup{done: make(chan struct{})}
		x.open = g
	}
	g.members = append(g.members, intentMember{r: r})
	g.live++
	return g, len(g.members) - 1
}

// take marks g sent by the caller whose context is ctx and returns the ranges of
// its members still waiting and the context to send them with: ctx's values, done
// only once every member left. ok is false if another member sent g already.
func (x *intents) take(ctx context.Context, g *intentGroup) (rs []pipeline.Range, sendCtx context.Context, ok bool) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if g.sent {
		return nil, nil, false
	}
	g.sent = true
	if x.open == g {
		x.open = nil
	}
	rs = make([]pipeline.Range, 0, g.live)
	for _, m := range g.members {
		if !m.left {
			rs = append(rs, m.r)
		}
	}
	sendCtx, g.cancel = context.WithCancel(context.WithoutCancel(ctx))
	return rs, sendCtx, true
}

// leave marks member i of g gone: before g is sent its range is dropped; after, the
// last member to leave cancels the insert. Leaving twice is harmless.
func (x *intents) leave(g *intentGroup, i int) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if g.members[i].left {
		return
	}
	g.members[i].left = true
	g.live--
	if g.sent && g.live == 0 {
		g.cancel()
		if x.abandoned != nil {
			x.abandoned()
		}
	}
}
