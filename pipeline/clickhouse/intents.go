package clickhouse

import (
	"context"
	"errors"
	"sync"
)

// maxIntentGroup is the most calls one round trip carries: ranges in one ledger
// insert, partitions in one ledger read. It bounds the statement (about 100
// bytes a call) and how many callers one failed round trip fails; a Client owning
// more partitions than this that call at once sends several round trips back to
// back, each still one part (or one query) for up to this many calls.
const maxIntentGroup = 256

// intents makes concurrent calls share round trips (group commit): Intend's
// ranges share ledger inserts, so that flushes of many partitions cost the ledger
// one insert, and one part, instead of one each; Ranges' reads share queries, so
// that a rebalance's new owners read the ledger with a few queries instead of one
// each. At most one round trip of an intents is in flight: the caller holding
// turn sends it. A call that finds the turn free sends its own item at once;
// calls that arrive while a round trip is in flight join the open group, and when
// the turn is free whichever member takes it first sends the whole group for all
// of them. It runs no goroutine: every round trip is sent by one of its callers.
//
// Each caller returns with the outcome of the round trip that carried its item,
// so it returns nil only once its item is done (a range recorded, a read's result
// filled in). A caller whose ctx is done leaves at once, its item dropped from a
// group not yet sent, and the group goes on without it; the sender of a group
// stays until its round trip returns, and that round trip is cancelled only once
// every member of the group has left.
type intents[T any] struct {
	turn chan struct{} // capacity 1: full while a member sends its group
	max  int           // most items a group holds

	mu   sync.Mutex
	open *intentGroup[T] // the group new calls join; nil once sent, replaced once full

	// joined, sending and abandoned are for tests: when set, joined runs after a
	// call joined a group, sending in the member about to send a group of n
	// items, with that member's ctx, and abandoned once the last member of a sent
	// group left and its round trip is cancelled.
	joined    func()
	sending   func(ctx context.Context, n int)
	abandoned func()
}

// intentGroup is the items of calls that one round trip carries.
type intentGroup[T any] struct {
	// Guarded by intents.mu.
	members []intentMember[T]
	live    int                // members still waiting for the outcome
	sent    bool               // a member took the group: no more may join
	cancel  context.CancelFunc // cancels the round trip once sent

	done chan struct{} // closed once err is set
	err  error
}

// intentMember is one call's item in a group.
type intentMember[T any] struct {
	r    T
	left bool // the call returned before the outcome (its ctx was done)
}

// newIntents returns intents with no round trip in flight and groups of up to
// maxIntentGroup items.
func newIntents[T any]() *intents[T] {
	return &intents[T]{turn: make(chan struct{}, 1), max: maxIntentGroup}
}

// record returns once a round trip that send made of r, with the open group's
// other items, returned, with its error; or ctx.Err() once ctx is done. send
// receives at least one item.
func (x *intents[T]) record(ctx context.Context, r T, send func(context.Context, []T) error) error {
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

// send sends g's items rs for member i, which holds the turn, with sendCtx, and
// publishes the outcome to g's other members before it releases the turn.
func (x *intents[T]) send(ctx context.Context, g *intentGroup[T], i int, rs []T, sendCtx context.Context,
	send func(context.Context, []T) error) (err error) {
	// The other members' outcome if send panics.
	err = errors.New("the shared round trip of the group did not return")
	// This caller's ctx ending counts as its leaving, not as the round trip's
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
func (x *intents[T]) join(r T) (*intentGroup[T], int) {
	x.mu.Lock()
	defer x.mu.Unlock()
	g := x.open
	if g == nil || len(g.members) >= x.max {
		g = &intentGroup[T]{done: make(chan struct{})}
		x.open = g
	}
	g.members = append(g.members, intentMember[T]{r: r})
	g.live++
	return g, len(g.members) - 1
}

// take marks g sent by the caller whose context is ctx and returns the items of
// its members still waiting and the context to send them with: ctx's values, done
// only once every member left. ok is false if another member sent g already.
func (x *intents[T]) take(ctx context.Context, g *intentGroup[T]) (rs []T, sendCtx context.Context, ok bool) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if g.sent {
		return nil, nil, false
	}
	g.sent = true
	if x.open == g {
		x.open = nil
	}
	rs = make([]T, 0, g.live)
	for _, m := range g.members {
		if !m.left {
			rs = append(rs, m.r)
		}
	}
	sendCtx, g.cancel = context.WithCancel(context.WithoutCancel(ctx))
	return rs, sendCtx, true
}

// leave marks member i of g gone: before g is sent its item is dropped; after, the
// last member to leave cancels the round trip. Leaving twice is harmless.
func (x *intents[T]) leave(g *intentGroup[T], i int) {
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
