package bench

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	ch "github.com/ClickHouse/clickhouse-go/v2"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicehq/sluice/producers/loadgen"
)

// DefaultLatencyPoll is how often the latency probe asks ClickHouse what is visible.
const DefaultLatencyPoll = 20 * time.Millisecond

// Probe measures publish → visible in ClickHouse from outside Sluice: it publishes
// payments at a constant rate and polls the raw payments table for the highest
// offset stored of each partition, reading only the active parts it has not seen yet
// (from system.parts), so a poll costs ClickHouse the new rows, not the table.
type Probe struct {
	// Brokers and Topic are where payments are published (a topic Sluice consumes).
	Brokers []string
	Topic   string
	// Conn and Database are the ClickHouse Sluice stores into; the raw payments table
	// must be on (SLUICE_RAW_PAYMENTS).
	Conn     ch.Conn
	Database string
	// Rate is events per second; Duration how long the measured stream lasts, after
	// Warmup (published the same way, not measured).
	Rate     float64
	Duration time.Duration
	Warmup   time.Duration
	// Poll is the interval between visibility polls (default DefaultLatencyPoll).
	Poll time.Duration
	// Wait bounds how long, after the last publish, the probe waits for the last
	// events to be visible (default 30s).
	Wait time.Duration
	// Seed fixes the generated stream (default 1).
	Seed int64
	// Progress, when set, gets one line per step.
	Progress func(format string, a ...any)
	// Measuring, when set, is called once the warm-up is over, just before the
	// measured stream is published (to take baselines); its error stops Measure.
	Measuring func() error
}

// Latency is what a Probe measured.
type Latency struct {
	Rate     float64       // target events per second
	Events   int           // measured events (after the warm-up), every one seen stored
	Elapsed  time.Duration // publishing the measured events
	Poll     time.Duration
	Polls    int           // visibility polls made during the measured stream
	PollCost time.Duration // their mean round trip
	// Parts is the insert parts (level 0) the server's inserts created while the
	// measured events were published and stored (insertParts; -1 if unknown);
	// PartsPerSec is per second of that span.
	Parts       int
	PartsPerSec float64
	// Sorted publish → visible latencies of the measured events.
	sorted []time.Duration
}

// Quantile returns the q-quantile (0 ≤ q ≤ 1) of the measured latencies, by the
// nearest-rank rule (0 without events).
func (l Latency) Quantile(q float64) time.Duration {
	if len(l.sorted) == 0 {
		return 0
	}
	i := int(q*float64(len(l.sorted))+0.999999) - 1
	return l.sorted[min(max(i, 0), len(l.sorted)-1)]
}

// Mean is the mean latency.
func (l Latency) Mean() time.Duration {
	if len(l.sorted) == 0 {
		return 0
	}
	var sum time.Duration
	for _, d := range l.sorted {
		sum += d
	}
	return sum / time.Duration(len(l.sorted))
}

// String is the one-line summary `sluice bench --latency` prints.
func (l Latency) String() string {
	ms := func(d time.Duration) string { return fmt.Sprintf("%.0f", float64(d)/float64(time.Millisecond)) }
	return fmt.Sprintf("%d events at %.0f/s: publish → visible p50 %s ms, p90 %s ms, p99 %s ms, max %s ms (mean %s ms; polled every %s, a poll took %s on average); ClickHouse: %d insert parts, %.1f parts/s",
		l.Events, l.Rate, ms(l.Quantile(.5)), ms(l.Quantile(.9)), ms(l.Quantile(.99)), ms(l.Quantile(1)), ms(l.Mean()),
		l.Poll, l.PollCost.Round(100*time.Microsecond), l.Parts, l.PartsPerSec)
}

// published is one acknowledged record: where it went and when it was handed over.
type published struct {
	partition int32
	offset    int64
	at        time.Time
	measured  bool
}

// visible is one poll's answer: by when the partitions' offsets up to these were stored.
type visible struct {
	at   time.Time
	upTo map[int32]int64
}

// recorder is the probe's loadgen sink: a kgo client whose acknowledgements are kept.
type recorder struct {
	cl       *kgo.Client
	mu       sync.Mutex
	recs     []published
	measured bool // records produced from now on are measured
}

// Produce implements loadgen.Sink. The record's timestamp is set here, so it is both
// the publish time the probe measures from and the Kafka timestamp Sluice sees.
func (r *recorder) Produce(ctx context.Context, topic string, key, value []byte, done func(error)) {
	r.mu.Lock()
	m := r.measured
	r.mu.Unlock()
	rec := &kgo.Record{Topic: topic, Key: key, Value: value, Timestamp: time.Now()}
	r.cl.Produce(ctx, rec, func(rec *kgo.Record, err error) {
		if err == nil {
			r.mu.Lock()
			r.recs = append(r.recs, published{rec.Partition, rec.Offset, rec.Timestamp, m})
			r.mu.Unlock()
		}
		done(err)
	})
}

// Flush implements loadgen.Flusher.
func (r *recorder) Flush(ctx context.Context) error { return r.cl.Flush(ctx) }

// Measure runs the probe: publish (warm-up, then the measured stream) while polling,
// wait until every measured event is visible, and compute the latencies.
func (p Probe) Measure(ctx context.Context) (Latency, error) {
	if p.Poll <= 0 {
		p.Poll = DefaultLatencyPoll
	}
	if p.Wait <= 0 {
		p.Wait = 30 * time.Second
	}
	if p.Seed == 0 {
		p.Seed = 1
	}
	if p.Progress == nil {
		p.Progress = func(string, ...any) {}
	}
	res := Latency{Rate: p.Rate, Poll: p.Poll}
	if p.Rate <= 0 || p.Duration <= 0 {
		return res, errors.New("bench: latency: rate and duration must be positive")
	}
	// Low linger: the producer's own batching is not what is measured.
	cl, err := kgo.NewClient(kgo.SeedBrokers(p.Brokers...), kgo.ProducerLinger(time.Millisecond))
	if err != nil {
		return res, err
	}
	defer cl.Close()
	sink := &recorder{cl: cl}
	gen, err := loadgen.NewGenerator(loadgen.Config{
		Seed: p.Seed, Payments: int((p.Warmup + p.Duration).Seconds() * p.Rate), PaymentsTopic: p.Topic,
		// Event time follows the wall clock, so no event is judged late or early.
		Start: time.Now(), EventRate: p.Rate,
	})
	if err != nil {
		return res, err
	}

	pl := &poller{p: p, target: make(chan map[int32]int64, 1), reached: make(chan struct{}), done: make(chan struct{})}
	pollCtx, stopPolls := context.WithCancel(ctx)
	defer func() { stopPolls(); <-pl.done }()
	go pl.run(pollCtx, sink)

	if p.Warmup > 0 {
		p.Progress("latency: warming up for %s at %.0f events/s", p.Warmup, p.Rate)
		if _, err := loadgen.Run(ctx, sink, gen, loadgen.RunOptions{Rate: p.Rate, Count: int64(p.Warmup.Seconds() * p.Rate)}); err != nil {
			return res, err
		}
	}
	parts0 := insertParts(ctx, p.Conn)
	if p.Measuring != nil {
		if err := p.Measuring(); err != nil {
			return res, err
		}
	}
	sink.mu.Lock()
	sink.measured = true
	sink.mu.Unlock()
	p.Progress("latency: publishing for %s at %.0f events/s", p.Duration, p.Rate)
	start := time.Now()
	st, err := loadgen.Run(ctx, sink, gen, loadgen.RunOptions{Rate: p.Rate})
	if err != nil {
		return res, err
	}
	res.Elapsed = st.Elapsed

	// Wait until the last record of every partition is visible.
	last := map[int32]int64{}
	sink.mu.Lock()
	for _, r := range sink.recs {
		last[r.partition] = max(last[r.partition], r.offset)
	}
	sink.mu.Unlock()
	pl.target <- last
	wait := time.NewTimer(p.Wait)
	defer wait.Stop()
	select {
	case <-pl.reached:
	case <-pl.done:
	case <-wait.C:
		return res, fmt.Errorf("bench: latency: not every event visible %s after the last publish", p.Wait)
	case <-ctx.Done():
		return res, ctx.Err()
	}
	stopPolls()
	<-pl.done
	if pl.err != nil {
		return res, fmt.Errorf("bench: latency: poll: %w", pl.err)
	}
	span := time.Since(start)
	res.Parts = int(delta(parts0, insertParts(ctx, p.Conn)))
	res.PartsPerSec = float64(max(res.Parts, 0)) / span.Seconds()
	res.Polls = pl.measured
	if pl.measured > 0 {
		res.PollCost = pl.cost / time.Duration(pl.measured)
	}

	// Each measured record became visible at the first poll that covers its offset.
	for _, r := range sink.recs {
		if !r.measured {
			continue
		}
		i, _ := slices.BinarySearchFunc(pl.polls, r, func(v visible, r published) int {
			if up, ok := v.upTo[r.partition]; ok && up >= r.offset {
				return 1
			}
			return -1
		})
		if i == len(pl.polls) {
			return res, fmt.Errorf("bench: latency: %s/%d/%d never seen stored", p.Topic, r.partition, r.offset)
		}
		res.sorted = append(res.sorted, pl.polls[i].at.Sub(r.at))
	}
	slices.Sort(res.sorted)
	res.Events = len(res.sorted)
	return res, nil
}

// poller polls what is visible until its context ends or a poll fails. It owns its
// fields until done is closed.
type poller struct {
	p       Probe
	target  chan map[int32]int64 // the offsets to wait for, sent once
	reached chan struct{}        // closed once a poll covers the target
	done    chan struct{}        // closed when run returns

	polls    []visible // every poll's answer, in order
	err      error     // the poll that failed, if one did
	measured int       // polls made while the measured stream ran
	cost     time.Duration
}

func (pl *poller) run(ctx context.Context, sink *recorder) {
	defer close(pl.done)
	seen := map[string]bool{}
	upTo := map[int32]int64{}
	var target map[int32]int64
	tick := time.NewTicker(pl.p.Poll)
	defer tick.Stop()
	for {
		start := time.Now()
		if err := pl.p.poll(ctx, seen, upTo); err != nil {
			if ctx.Err() == nil {
				pl.err = err
			}
			return
		}
		at := time.Now()
		sink.mu.Lock()
		if sink.measured {
			pl.cost += at.Sub(start)
			pl.measured++
		}
		sink.mu.Unlock()
		v := visible{at: at, upTo: make(map[int32]int64, len(upTo))}
		for k, o := range upTo {
			v.upTo[k] = o
		}
		pl.polls = append(pl.polls, v)
		if target == nil {
			select {
			case target = <-pl.target:
			default:
			}
		}
		if target != nil && covers(upTo, target) {
			close(pl.reached)
			target = map[int32]int64{} // reached once
			<-ctx.Done()
			return
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
			return
		}
	}
}

func covers(upTo, target map[int32]int64) bool {
	for part, off := range target {
		if up, ok := upTo[part]; !ok || up < off {
			return false
		}
	}
	return true
}

// poll reads the highest stored offset of each partition from the raw table's
// active parts not seen before (listed from system.parts first, so a poll reads only
// the new parts), adds them to upTo, and keeps in seen only the parts still active.
func (p Probe) poll(ctx context.Context, seen map[string]bool, upTo map[int32]int64) error {
	rows, err := p.Conn.Query(ctx, "SELECT name FROM system.parts WHERE database = ? AND table = 'payments' AND active", p.Database)
	if err != nil {
		return err
	}
	active := map[string]bool{}
	var fresh []string
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			rows.Close()
			return err
		}
		active[name] = true
		if !seen[name] {
			fresh = append(fresh, "'"+name+"'")
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for name := range seen {
		if !active[name] {
			delete(seen, name)
		}
	}
	if len(fresh) == 0 {
		return nil
	}
	rows, err = p.Conn.Query(ctx, "SELECT _part, _partition, max(_offset) FROM `"+p.Database+"`.payments WHERE _part IN ("+
		strings.Join(fresh, ",")+") GROUP BY _part, _partition")
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var part string
		var partition int32
		var off int64
		if err := rows.Scan(&part, &partition, &off); err != nil {
			return err
		}
		seen[part] = true
		if up, ok := upTo[partition]; !ok || off > up {
			upTo[partition] = off
		}
	}
	return rows.Err()
}
