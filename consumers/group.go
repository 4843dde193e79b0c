package consumers

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sourcegraph/conc"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Worker processes one partition's records. Run receives fetched slices in offset
// order on in until in is closed, then stores what it holds and returns nil. It calls
// mark with a record once every record up to it is durably handled. When ctx is done
// it returns promptly without storing.
//
// The records, their keys, values and header values live in buffers the client
// reuses: a worker that is done with a record (it keeps nothing that points into it,
// and mark will not be called with it) should call its Recycle, after which it must
// not touch the record again. Once every record of a fetched batch is recycled, the
// batch's buffers serve a later fetch; a record never recycled is simply collected.
type Worker interface {
	Run(ctx context.Context, in <-chan []*kgo.Record, mark func(*kgo.Record)) error
}

// Memory is the memory budget the fetched records are held against. It is safe for
// concurrent use and cheap: it is called once per fetch, never per record.
type Memory interface {
	// FetchBytes is the fetched-record bytes a partition that holds own of them may
	// hold now before its fetching pauses: at least its share, more while the
	// partitions together hold less than their shares.
	FetchBytes(own int64) int64
	// Owned adds delta to the partitions owned (negative on revoke or loss).
	Owned(delta int)
	// Fetched adds delta to the fetched-record bytes held now.
	Fetched(delta int64)
}

// RecordOverhead is what a fetched record takes beyond its key and value (the
// *kgo.Record and its share of the fetch's bookkeeping), as the fetched bytes held
// against Options.Memory count it.
const RecordOverhead = 256

// Factory returns the Worker for a newly assigned partition.
type Factory func(topic string, partition int32) Worker

// Options configures a Group.
type Options struct {
	Brokers []string
	Group   string
	Topics  []string
	// StartLatest makes a group with no committed offset start at the end of each
	// partition instead of the beginning.
	StartLatest bool
	// QueueDepth is how many fetched slices may wait for a partition's worker before
	// its fetching is paused (default 4). Memory per partition is bounded by about
	// QueueDepth fetches. Pausing is for a worker that cannot keep up (ClickHouse slow
	// or down): a resumed partition waits for the next fetch request (partitions
	// that have caught up pause beside the busy ones so that none is held at the
	// broker, for at most a few FetchMaxWaits), so keep the client's FetchMaxWait
	// short (Sluice uses 250ms); with a long one, a shallow
	// queue leaves the worker idle after each resume.
	QueueDepth int
	// Fetch, when its Partition is set, sizes the client's fetches by the memory
	// their records take once decoded (FetchSizes), replacing the client's
	// FetchMaxBytes and FetchMaxPartitionBytes.
	Fetch FetchSizes
	// Memory, when non-nil, bounds the fetched records by bytes too: a partition's
	// fetching also pauses once it holds Memory.FetchBytes of them (keys, values and
	// RecordOverhead each; queued, and the slice the worker is on until it takes the
	// next), and resumes once the worker took them down to half of that or its queue
	// is empty. Memory is told of every assignment, revoke and loss.
	Memory Memory
	// DrainTimeout bounds how long a revoked or shut-down worker may take to flush
	// (default 20s); after it the worker is cancelled and its records are replayed by
	// the next owner.
	DrainTimeout time.Duration
	// RevokeTimeout bounds the flush of revoked partitions instead, when shorter
	// than DrainTimeout. Set it below the group's rebalance timeout (less a
	// heartbeat): a member still flushing when the rebalance times out is dropped
	// from the group, its partitions go to other members, and a worker that went on
	// storing after their new owners read the ledger would store records twice
	// under other ranges. 0 means DrainTimeout.
	RevokeTimeout time.Duration
	// CommitInterval is how often marked offsets are committed (default 1s).
	CommitInterval time.Duration
	// CaughtUp, when set, makes the member also commit at once when it has
	// caught up (caughtup.go), and is called after each such commit that
	// succeeded (the interval's commits report to kgo.AutoCommitCallback).
	CaughtUp func()
	// Logger receives lifecycle events (assignments, revokes, errors).
	Logger *slog.Logger
	// ClientOpts are extra franz-go options (TLS, SASL, timeouts, hooks).
	ClientOpts []kgo.Opt
	// ConnOpts are the options that connect and authenticate (TLS, SASL) without
	// hooks or group settings, for the short-lived client that leaves the group.
	ConnOpts []kgo.Opt
	// InstanceID makes this member static (KIP-345): a restart with the same id
	// within the session timeout takes its partitions back without a rebalance, and
	// a graceful stop does not leave the group. Empty: a dynamic member.
	InstanceID string
}

// Group consumes the configured topics as one member of a consumer group.
type Group struct {
	o       Options
	factory Factory
	cl      *kgo.Client
	log     *slog.Logger

	mu    sync.Mutex // guards parts and hist
	parts map[tp]*part
	hist  map[tp]*partHist // every partition this member has owned
	// lifecycle serialises assignment callbacks with the final shutdown, so a
	// rebalance that starts while we drain waits until our commits are done.
	lifecycle sync.Mutex
	wg        conc.WaitGroup

	failed atomic.Pointer[error] // first worker failure; ends Run
	fail   chan struct{}
	once   sync.Once

	// Caught-up partitions paused beside the paused partitions that are behind
	// (copause), and the timer that resumes them at the latest.
	coMu     sync.Mutex
	copaused []*part
	coTimer  *time.Timer
	coDone   bool          // shutdown: nothing is co-paused any more
	maxWait  time.Duration // the client's FetchMaxWait
	pausedN  atomic.Int64  // partitions paused behind their workers (part.paused)

	owned   atomic.Int64 // partitions currently owned
	fetched atomic.Int64 // records handed to workers
	joined  atomic.Bool  // an assignment callback has run
	// commitNow asks Run's commit loop for a commit now (caughtup.go).
	commitNow chan struct{}

	// Owned by the poll loop: fetch-error logging and topic restarts after
	// UNKNOWN_TOPIC_ID (incarnation.go).
	fetchErrs fetchErrors
	expansion expansion // of the fetched batches, for Options.Fetch (fetchsize.go)
	restarted map[string]time.Time
	ids       map[string][16]byte // topic ids of the current poll's fetches
	gone      map[string]error    // topics of the current poll to restart, and why
}

type tp struct {
	topic     string
	partition int32
}

// partHist is what this member observed of one partition over all its ownerships;
// Partitions reports it.
type partHist struct {
	starts    int          // workers started; guarded by Group.mu
	delivered atomic.Int64 // unix nanoseconds of the last hand-over to the worker
	offset    atomic.Int64 // offset of the last record handed over, -1 before any
	high      atomic.Int64 // high watermark of the latest fetch with records, -1 before any
	marked    atomic.Int64 // offset of the last record marked, -1 before any
}

// PartitionState is what a member observed of one partition it owns or has owned.
type PartitionState struct {
	Topic     string
	Partition int32
	// Owned is whether the member owns the partition now: from its assignment until
	// the revoke, loss or shutdown that starts draining its worker.
	Owned bool
	// Starts counts the workers the member started for it, one per assignment: a
	// partition kept through a cooperative rebalance keeps its worker.
	Starts int
	// Delivered is when records were last handed to its worker (zero before any), and
	// LastOffset the offset of the last of them (-1 before any).
	Delivered  time.Time
	LastOffset int64
	// Marked is the offset of the last record its worker marked as stored (-1 before
	// any); it is committed at the next commit.
	Marked int64
}

// part is one owned partition: the worker's input and its lifecycle.
type part struct {
	tp      tp
	hist    *partHist
	in      chan []*kgo.Record // filled by the poll loop, drained by the feeder
	cancel  context.CancelFunc
	done    chan struct{} // closed when the worker has returned
	pauseMu sync.Mutex    // makes flipping paused and the Pause/Resume call one step
	paused  bool
	// held is the bytes of the fetched records queued for the worker, or taken by it
	// and not yet done with (Options.Memory); each slice's size travels beside it in
	// sizes.
	held  atomic.Int64
	sizes chan int64

	// The incarnation of the topic the worker consumes, set by the poll loop at the
	// first fetch (deliverable); setID tells the worker (nil if it does not care).
	idSet   bool
	topicID [16]byte
	setID   func([16]byte)
	// noMark stops marking: the partition's topic was deleted (recreated).
	noMark atomic.Bool
	// copaused is whether copause paused it; guarded by Group.coMu.
	copaused bool
}

// pause stops fetching p if its queue is at depth or holds what the memory budget
// lets it hold, and reports whether it did; it is called by the poll loop.
//
// The caught-up partitions that pause beside p (copause) pause first, while p
// counts as paused but is still fetched: the client may build a fetch between the
// two calls, and with p alone in it (a partition behind has records) the broker
// answers at once, whereas a fetch of the caught-up ones alone would be held for
// FetchMaxWait, and p, once resumed, would wait behind it.
func (g *Group) pause(p *part) bool {
	p.pauseMu.Lock()
	// Only a partition with something queued pauses: the feeder resumes it after
	// handing that on. (held also counts the slice the worker is on, which the
	// feeder may have handed on already.)
	queued := len(p.in)
	if p.paused || queued == 0 || queued < g.o.QueueDepth && (g.o.Memory == nil || !g.fullMemory(p)) {
		p.pauseMu.Unlock()
		return false
	}
	p.paused = true
	g.pausedN.Add(1)
	p.pauseMu.Unlock()
	g.copause()
	p.pauseMu.Lock()
	defer p.pauseMu.Unlock()
	if p.paused { // the feeder may have resumed it meanwhile; only this loop pauses
		g.cl.PauseFetchPartitions(map[string][]int32{p.tp.topic: {p.tp.partition}})
	}
	return true
}

// fullMemory reports whether p holds what the memory budget lets it hold.
func (g *Group) fullMemory(p *part) bool {
	held := p.held.Load()
	return held >= g.o.Memory.FetchBytes(held)
}

// halfMemory reports whether p holds at most half of what the memory budget lets
// it hold: a partition resumes there, not once its worker runs dry, so that its
// next fetch is on its way while the worker still has records.
func (g *Group) halfMemory(p *part) bool {
	held := p.held.Load()
	return 2*held <= g.o.Memory.FetchBytes(held)
}

// resume restarts fetching p once its queue is at most low and either empty or
// holding at most half of what the memory budget lets it hold (or always when
// low < 0); the partitions co-paused beside it resume with it, or it joins them
// (copause).
func (g *Group) resume(p *part, low int) {
	if g.resumeOne(p, low) {
		g.copause()
	}
}

// resumeOne is resume without the co-paused partitions; it reports whether it
// resumed p.
func (g *Group) resumeOne(p *part, low int) bool {
	p.pauseMu.Lock()
	defer p.pauseMu.Unlock()
	if p.paused && (low < 0 || len(p.in) <= low && (g.o.Memory == nil || len(p.in) == 0 || g.halfMemory(p))) {
		p.paused = false
		g.pausedN.Add(-1)
		g.cl.ResumeFetchPartitions(map[string][]int32{p.tp.topic: {p.tp.partition}})
		return true
	}
	return false
}

// copause pauses the partitions that have caught up while every partition that is
// still behind is paused, and resumes them once one that is behind is not; it is
// called whenever that may have changed: after a pause or a resume, and after a
// fetch that caught its partition up. A broker holds a fetch that finds no new
// records for FetchMaxWait, and a partition resumed meanwhile is fetched only
// after that fetch: so while each partition with records left to fetch waits for
// its worker, the caught-up ones would only send fetches that the broker holds,
// and a busy partition resumed before its worker runs dry would still wait up to
// FetchMaxWait for its next records. Paused beside it, they send nothing; they
// resume with the first partition behind that resumes, and at the latest
// copauseLimit FetchMaxWaits after they were first paused: while the workers of
// every busy partition take longer than that to come down to their resume
// point (a worker stuck on an insert), the caught-up partitions are fetched
// again, at the cost of one held fetch for the busy ones.
//
// A partition has caught up when the last record handed to its worker is the
// last its partition held at that fetch (or nothing was fetched yet), and is
// behind otherwise.
func (g *Group) copause() {
	g.coMu.Lock()
	defer g.coMu.Unlock()
	if g.pausedN.Load() == 0 { // the common case, without a look at every partition
		g.resumeCopaused()
		return
	}
	idle, pause := g.copauseCandidates()
	if !pause || g.coDone {
		g.resumeCopaused()
		return
	}
	if len(idle) == 0 {
		return
	}
	set := make(map[string][]int32)
	for _, p := range idle {
		p.copaused = true
		set[p.tp.topic] = append(set[p.tp.topic], p.tp.partition)
	}
	g.cl.PauseFetchPartitions(set)
	if len(g.copaused) == 0 {
		g.coTimer = time.AfterFunc(copauseLimit*g.maxWait, g.uncopause)
	}
	g.copaused = append(g.copaused, idle...)
}

// copauseLimit is how many FetchMaxWaits caught-up partitions stay paused beside
// the busy ones at most (copause): 1 s at the default 250 ms, a flush interval,
// the time a record waits in a batch anyway. Under a CPU-bound backlog a busy
// partition's worker takes a few hundred milliseconds to come down to its resume
// point, and each time the caught-up partitions are fetched meanwhile, the busy
// ones wait up to FetchMaxWait for their next records.
const copauseLimit = 4

// copauseCandidates returns the owned partitions that have caught up and are fetching, and
// whether they should pause: every partition that is behind is paused, and one is.
// g.coMu is held.
func (g *Group) copauseCandidates() (idle []*part, pause bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, p := range g.parts {
		p.pauseMu.Lock()
		paused := p.paused
		p.pauseMu.Unlock()
		switch {
		case p.hist.offset.Load()+1 < p.hist.high.Load():
			if !paused {
				return nil, false
			}
			pause = true
		case !paused && !p.copaused:
			idle = append(idle, p)
		}
	}
	return idle, pause
}

// uncopause resumes the partitions copause paused.
func (g *Group) uncopause() {
	g.coMu.Lock()
	defer g.coMu.Unlock()
	g.resumeCopaused()
}

// resumeCopaused is uncopause with g.coMu held.
func (g *Group) resumeCopaused() {
	if len(g.copaused) == 0 {
		return
	}
	g.coTimer.Stop()
	set := make(map[string][]int32)
	for _, p := range g.copaused {
		p.copaused = false
		set[p.tp.topic] = append(set[p.tp.topic], p.tp.partition)
	}
	g.cl.ResumeFetchPartitions(set)
	g.copaused = nil
}

// stopCopause resumes what copause paused and stops it for good, before the
// client closes.
func (g *Group) stopCopause() {
	g.coMu.Lock()
	g.coDone = true
	g.coMu.Unlock()
	g.uncopause()
}

// New creates the client and joins nothing yet; Run does.
func New(o Options, factory Factory) (*Group, error) {
	if o.QueueDepth <= 0 {
		o.QueueDepth = 4
	}
	if o.DrainTimeout <= 0 {
		o.DrainTimeout = 20 * time.Second
	}
	if o.RevokeTimeout <= 0 || o.RevokeTimeout > o.DrainTimeout {
		o.RevokeTimeout = o.DrainTimeout
	}
	if o.CommitInterval <= 0 {
		o.CommitInterval = time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	g := &Group{o: o, factory: factory, parts: make(map[tp]*part), hist: make(map[tp]*partHist), log: o.Logger.With("component", "consumer"), fail: make(chan struct{}),
		fetchErrs: fetchErrors{interval: time.Minute}, restarted: make(map[string]time.Time),
		ids: make(map[string][16]byte), gone: make(map[string]error), commitNow: make(chan struct{}, 1)}
	reset := kgo.NewOffset().AtStart()
	if o.StartLatest {
		reset = kgo.NewOffset().AtEnd()
	}
	opts := []kgo.Opt{
		kgo.SeedBrokers(o.Brokers...),
		kgo.ConsumerGroup(o.Group),
		kgo.ConsumeTopics(o.Topics...),
		kgo.ConsumeResetOffset(reset),
		kgo.Balancers(kgo.CooperativeStickyBalancer()),
		kgo.BlockRebalanceOnPoll(),
		kgo.AutoCommitMarks(),
		kgo.AutoCommitInterval(o.CommitInterval),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.OnPartitionsAssigned(g.assigned),
		kgo.OnPartitionsRevoked(g.revoked),
		kgo.OnPartitionsLost(g.lost),
		kgo.WithPools(new(fetchPools)),
	}
	if o.InstanceID != "" {
		opts = append(opts, kgo.InstanceID(o.InstanceID))
	}
	opts = append(opts, o.ClientOpts...)
	if o.Fetch.Partition > 0 {
		g.expansion.applied = initialExpansion
		resp, part := o.Fetch.asked(initialExpansion)
		opts = append(opts, kgo.WithHooks(&g.expansion), kgo.FetchMaxBytes(resp), kgo.FetchMaxPartitionBytes(part))
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("consumers: kafka client: %w", err)
	}
	g.cl = cl
	g.maxWait, _ = cl.OptValue(kgo.FetchMaxWait).(time.Duration)
	return g, nil
}

// Client is the group's franz-go client, for inspecting its state (paused
// partitions) and for closing a Group that will not Run; Run closes it. Dead letters
// are produced on a client of their own.
func (g *Group) Client() *kgo.Client { return g.cl }

// Assigned is the number of partitions this member owns now.
func (g *Group) Assigned() int { return int(g.owned.Load()) }

// Fetched is the number of records handed to workers so far.
func (g *Group) Fetched() int64 { return g.fetched.Load() }

// Partitions reports every partition this member owns or has owned, in no particular
// order. It is for tests and diagnostics, and safe to call concurrently with Run.
func (g *Group) Partitions() []PartitionState {
	g.mu.Lock()
	defer g.mu.Unlock()
	out := make([]PartitionState, 0, len(g.hist))
	for key, h := range g.hist {
		s := PartitionState{Topic: key.topic, Partition: key.partition, Owned: g.parts[key] != nil,
			Starts: h.starts, LastOffset: h.offset.Load(), Marked: h.marked.Load()}
		if ns := h.delivered.Load(); ns != 0 {
			s.Delivered = time.Unix(0, ns)
		}
		out = append(out, s)
	}
	return out
}

// Joined reports whether this member has joined the group: an assignment callback has
// run at least once (it stays true through later rebalances).
func (g *Group) Joined() bool { return g.joined.Load() }

// QueueState is the input queue of one owned partition, as Queues reports it.
type QueueState struct {
	Topic     string
	Partition int32
	// Queued is how many fetched slices wait for the partition's worker.
	Queued int
	// Paused is whether fetching the partition is paused because its queue is full.
	Paused bool
}

// Queues returns the input queues of the partitions this member owns now, in no
// particular order. It is cheap and safe to call at any time, e.g. from a metrics
// scrape.
func (g *Group) Queues() []QueueState {
	g.mu.Lock()
	defer g.mu.Unlock()
	out := make([]QueueState, 0, len(g.parts))
	for _, p := range g.parts {
		p.pauseMu.Lock()
		paused := p.paused
		p.pauseMu.Unlock()
		out = append(out, QueueState{Topic: p.tp.topic, Partition: p.tp.partition, Queued: len(p.in), Paused: paused})
	}
	return out
}

// Run consumes until ctx is done or a worker fails, then shuts down in order: stop
// fetching, drain and flush every worker, commit, leave the group. It returns nil after
// a clean shutdown caused by ctx, and the worker's error after a failure.
func (g *Group) Run(ctx context.Context) error {
	defer g.wg.Wait()
	pollCtx, stopPoll := context.WithCancel(ctx)
	defer stopPoll()
	go func() { // ends polling when a worker fails; exits with pollCtx
		select {
		case <-g.fail:
			stopPoll()
		case <-pollCtx.Done():
		}
	}()
	// The commit loop stops before shutdown's own final commit.
	commits, stopCommits := context.WithCancel(pollCtx)
	var commitLoop conc.WaitGroup
	if g.o.CaughtUp != nil {
		commitLoop.Go(func() { g.commitCaughtUp(commits) })
	}
	var backoff pollBackoff
	for {
		fetches := g.cl.PollRecords(pollCtx, 10_000)
		if fetches.IsClientClosed() || pollCtx.Err() != nil {
			break
		}
		errs := g.handleFetchErrors(fetches)
		recs := 0
		g.topicIDs(fetches)
		fetches.EachPartition(func(f kgo.FetchTopicPartition) {
			if len(f.Records) == 0 {
				return
			}
			recs += len(f.Records)
			g.mu.Lock()
			p := g.parts[tp{f.Topic, f.Partition}]
			g.mu.Unlock()
			if p == nil {
				return // not ours any more; the next owner reads these records
			}
			if !g.deliverable(p, g.ids[f.Topic]) {
				return
			}
			// The queue holds QueueDepth slices before we pause; one poll can bring
			// a few more, which the spare capacity absorbs without blocking.
			g.hold(p, f.Records)
			p.hist.high.Store(f.HighWatermark) // before the records: see HighWatermarkSetter
			// Once queued, the records are the worker's, which may recycle them.
			last := f.Records[len(f.Records)-1].Offset
			p.in <- f.Records
			g.fetched.Add(int64(len(f.Records)))
			p.hist.offset.Store(last)
			p.hist.delivered.Store(time.Now().UnixNano())
			// Pausing p (which co-pauses, see pause), or p catching up, may
			// leave only caught-up partitions to fetch.
			if !g.pause(p) && last+1 >= f.HighWatermark {
				g.copause()
			}
		})
		g.cl.AllowRebalance()
		g.resize()
		for t, err := range g.gone {
			g.recreated(t, err)
		}
		if d := backoff.next(errs, recs); d > 0 {
			select { // the next poll returns at once if pollCtx is done
			case <-time.After(d):
			case <-pollCtx.Done():
			}
		}
	}
	stopCommits()
	commitLoop.Wait()
	return g.shutdown()
}

// hold counts recs against p's share of the memory budget before they are queued.
func (g *Group) hold(p *part, recs []*kgo.Record) {
	if g.o.Memory == nil {
		return
	}
	n := int64(len(recs)) * RecordOverhead
	for _, r := range recs {
		n += int64(len(r.Key) + len(r.Value))
	}
	p.sizes <- n // never blocks: sizes is as deep as in
	p.held.Add(n)
	g.o.Memory.Fetched(n)
}

// taken returns the size hold counted for the slice the feeder just took from p.in.
func (g *Group) taken(p *part) int64 {
	if g.o.Memory == nil {
		return 0
	}
	return <-p.sizes
}

// done releases n bytes of p's: a slice its worker is done with (it took the next).
func (g *Group) done(p *part, n int64) {
	if n != 0 {
		p.held.Add(-n)
		g.o.Memory.Fetched(-n)
	}
}

// discard releases what p still holds once its feeder has stopped: the slices a
// cancelled worker never took.
func (g *Group) discard(p *part) {
	if g.o.Memory == nil {
		return
	}
	n := p.held.Swap(0)
	g.o.Memory.Fetched(-n)
}

// ownedAdd counts delta partitions as owned (or given up), here and in the budget.
func (g *Group) ownedAdd(delta int) {
	g.owned.Add(int64(delta))
	if g.o.Memory != nil {
		g.o.Memory.Owned(delta)
	}
}

// shutdown drains every worker, commits, and leaves the group.
func (g *Group) shutdown() error {
	g.lifecycle.Lock()
	g.mu.Lock()
	all := make([]*part, 0, len(g.parts))
	for _, p := range g.parts {
		all = append(all, p)
	}
	g.parts = make(map[tp]*part)
	g.mu.Unlock()
	g.drain(all, g.o.DrainTimeout)
	g.stopCopause()
	// The whole shutdown stays within 1.4 × DrainTimeout (the caller's deadline is
	// 1.5 ×): a commit or a leave that a concurrent rebalance holds up is given up
	// rather than overrun it. Uncommitted records are replayed, exactly, by the next
	// owner.
	ctx, cancel := context.WithTimeout(context.Background(), g.o.DrainTimeout/5)
	if err := g.cl.CommitMarkedOffsets(ctx); err != nil {
		g.log.Warn("final commit failed; the next owner replays from the last commit", "err", err)
	}
	cancel()
	g.lifecycle.Unlock()
	// Leaving triggers a last revoke, which finds no partitions left.
	ctx, cancel = context.WithTimeout(context.Background(), g.o.DrainTimeout/5)
	g.cl.AllowRebalance()
	if err := g.leave(ctx); err != nil {
		g.log.Warn("leaving the group timed out; the group notices at the session timeout", "err", err)
	}
	cancel()
	g.cl.Close()
	g.log.Info("left the group")
	if p := g.failed.Load(); p != nil {
		return *p
	}
	return nil
}

// leave leaves the group within ctx. The client's own leave waits for its group
// loop, which may be in a JoinGroup that the coordinator holds until the rebalance
// ends (up to the rebalance timeout); and a broker answers one connection's
// requests in order, so the client's LeaveGroup would queue behind that join. So
// when the client's leave is not done within half a second, the member is removed
// through a connection of its own, which answers the held join at once; again
// every half second until the client's leave is done, in case the loop rejoined
// before it saw the leave.
func (g *Group) leave(ctx context.Context) error {
	left := make(chan error, 1)
	go func() { left <- g.cl.LeaveGroupContext(ctx) }() // returns by ctx's end at the latest
	for {
		t := time.NewTimer(500 * time.Millisecond)
		select {
		case err := <-left:
			t.Stop()
			return err
		case <-ctx.Done():
			t.Stop()
			return <-left
		case <-t.C:
		}
		g.leaveDirectly(ctx)
	}
}

// leaveDirectly sends this member's LeaveGroup through a short-lived client of its
// own. A static member (Options.InstanceID) does not leave: its restart takes its
// partitions back without a rebalance, within the session timeout. Errors are
// logged: the client's own leave follows, and the group notices a member that
// could not leave at the session timeout.
func (g *Group) leaveDirectly(ctx context.Context) {
	member, _ := g.cl.GroupMetadata()
	if member == "" || g.o.InstanceID != "" {
		return
	}
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(g.o.Brokers...)}, g.o.ConnOpts...)...)
	if err != nil {
		g.log.Warn("leaving the group: kafka client", "err", err)
		return
	}
	defer cl.Close()
	req := kmsg.NewPtrLeaveGroupRequest()
	req.Group = g.o.Group
	req.MemberID = member
	m := kmsg.NewLeaveGroupRequestMember()
	m.MemberID = member
	m.Reason = kmsg.StringPtr("sluice shutting down")
	req.Members = append(req.Members, m)
	resp, err := req.RequestWith(ctx, cl)
	if err == nil {
		err = kerr.ErrorForCode(resp.ErrorCode)
		for _, m := range resp.Members {
			if err == nil {
				err = kerr.ErrorForCode(m.ErrorCode)
			}
		}
	}
	if err != nil && !errors.Is(err, kerr.UnknownMemberID) {
		g.log.Warn("leaving the group failed; the group notices at the session timeout", "member", member, "err", err)
	}
}

func (g *Group) assigned(ctx context.Context, _ *kgo.Client, assigned map[string][]int32) {
	g.lifecycle.Lock()
	defer g.lifecycle.Unlock()
	g.mu.Lock()
	defer g.mu.Unlock()
	for topic, ps := range assigned {
		for _, partition := range ps {
			key := tp{topic, partition}
			if g.parts[key] != nil {
				continue
			}
			w := g.factory(topic, partition)
			if w == nil {
				continue
			}
			g.start(key, w)
		}
	}
	g.joined.Store(true)
	g.log.Info("partitions assigned", "partitions", fmtParts(assigned), "owned", g.owned.Load())
}

// start runs w for key; g.mu is held. The partition counts as owned before its
// worker runs.
func (g *Group) start(key tp, w Worker) {
	g.ownedAdd(1)
	wctx, cancel := context.WithCancel(context.Background())
	h := g.hist[key]
	if h == nil {
		h = new(partHist)
		h.offset.Store(-1)
		h.marked.Store(-1)
		h.high.Store(-1)
		g.hist[key] = h
	}
	h.starts++
	depth := 4*g.o.QueueDepth + 16
	p := &part{tp: key, hist: h, in: make(chan []*kgo.Record, depth), sizes: make(chan int64, depth), cancel: cancel, done: make(chan struct{})}
	if s, ok := w.(TopicIDSetter); ok {
		p.setID = s.SetTopicID
	}
	if s, ok := w.(BacklogSetter); ok {
		in := p.in
		s.SetBacklog(func() int { return len(in) })
	}
	if s, ok := w.(HighWatermarkSetter); ok {
		s.SetHighWatermark(h.high.Load)
	}
	g.parts[key] = p
	out := make(chan []*kgo.Record)
	// The feeder passes slices on and resumes fetching once the worker catches up.
	// The worker is done with a slice when it takes the next one.
	g.wg.Go(func() {
		defer close(out)
		var working int64 // the size of the slice the worker is on
		for recs := range p.in {
			n := g.taken(p)
			select {
			case out <- recs:
			case <-wctx.Done():
				return
			}
			g.done(p, working)
			working = n
			g.resume(p, g.o.QueueDepth/2)
		}
	})
	g.wg.Go(func() {
		defer close(p.done)
		defer cancel()
		err := w.Run(wctx, out, func(r *kgo.Record) {
			if p.noMark.Load() {
				return
			}
			g.cl.MarkCommitRecords(r)
			h.marked.Store(r.Offset)
			g.markedTo(h, r.Offset)
		})
		if err != nil && wctx.Err() == nil {
			g.log.Error("worker failed; stopping", "topic", key.topic, "partition", key.partition, "err", err)
			err = fmt.Errorf("consumers: %s/%d: %w", key.topic, key.partition, err)
			g.failed.CompareAndSwap(nil, &err)
			g.once.Do(func() { close(g.fail) })
		}
		// Keep draining the feeder so the poll loop never blocks on a dead worker.
		for range out {
		}
	})
}

// drain closes the inputs of ps, waits for their workers to flush (at most
// timeout), and cancels those still running and waits for them to end.
func (g *Group) drain(ps []*part, timeout time.Duration) {
	if len(ps) == 0 {
		return
	}
	for _, p := range ps {
		close(p.in)
	}
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for _, p := range ps {
		select {
		case <-p.done:
		case <-deadline.C:
			g.log.Warn("drain timed out; cancelling workers, their records will be replayed")
			for _, q := range ps {
				q.cancel()
			}
			<-p.done
		}
	}
	for _, p := range ps {
		<-p.done
		g.resume(p, -1) // pauses outlive assignments: never hand one on
		g.discard(p)
	}
	g.uncopause() // co-pauses neither
	g.ownedAdd(-len(ps))
}

func (g *Group) take(parts map[string][]int32) []*part {
	g.mu.Lock()
	defer g.mu.Unlock()
	var ps []*part
	for topic, list := range parts {
		for _, partition := range list {
			key := tp{topic, partition}
			if p := g.parts[key]; p != nil {
				ps = append(ps, p)
				delete(g.parts, key)
			}
		}
	}
	return ps
}

func (g *Group) revoked(ctx context.Context, cl *kgo.Client, revoked map[string][]int32) {
	g.lifecycle.Lock()
	defer g.lifecycle.Unlock()
	ps := g.take(revoked)
	if len(ps) == 0 {
		return
	}
	g.log.Info("partitions revoked; flushing", "partitions", fmtParts(revoked))
	g.drain(ps, g.o.RevokeTimeout)
	cctx, cancel := context.WithTimeout(ctx, g.o.DrainTimeout)
	defer cancel()
	if err := cl.CommitMarkedOffsets(cctx); err != nil {
		g.log.Warn("commit on revoke failed; the next owner replays", "err", err)
	}
}

func (g *Group) lost(_ context.Context, _ *kgo.Client, lost map[string][]int32) {
	g.lifecycle.Lock()
	defer g.lifecycle.Unlock()
	ps := g.take(lost)
	if len(ps) == 0 {
		return
	}
	g.log.Warn("partitions lost; abandoning without commit", "partitions", fmtParts(lost))
	for _, p := range ps {
		p.cancel()
		close(p.in)
	}
	for _, p := range ps {
		<-p.done
		g.resume(p, -1)
		g.discard(p)
	}
	g.uncopause()
	g.ownedAdd(-len(ps))
}

func fmtParts(m map[string][]int32) string {
	s := ""
	for t, ps := range m {
		if s != "" {
			s += " "
		}
		s += fmt.Sprintf("%s%v", t, ps)
	}
	return s
}
