package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"slices"
	"strconv"
	"time"

	ch "github.com/ClickHouse/clickhouse-go/v2"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/sluicehq/sluice/internal/app"
	"github.com/sluicehq/sluice/internal/config"
)

// LatencyOptions configures LatencyRun.
type LatencyOptions struct {
	// Rate is the events per second published; Duration and Warmup as in Probe.
	Rate             float64
	Duration, Warmup time.Duration
	// Partitions of the payments topic.
	Partitions int
	Seed       int64
	// Env holds SLUICE_* variables for Sluice (e.g. SLUICE_FLUSH_INTERVAL).
	Env      map[string]string
	Progress io.Writer
	// Process runs Sluice (required: its CPU is measured apart from the probe's).
	Process *Process
}

// LatencyResult is what LatencyRun measured: the probe's figures from outside and
// Sluice's own freshness histogram over the same events.
type LatencyResult struct {
	Latency
	Partitions    int
	FlushInterval time.Duration
	// Freshness is Sluice's sluice_event_freshness_seconds over the measured stream
	// (the scrape after it minus the scrape before it), all topics.
	Freshness Histogram
	// Inserts is Sluice's sluice_insert_duration_seconds over the measured stream.
	Inserts Histogram
	// SluiceCPU and ClickHouseCPU are their processes' CPU time over the measured
	// stream.
	SluiceCPU, ClickHouseCPU time.Duration
}

// LatencyRun starts ClickHouse and kfake, runs `sluice run` (raw rows and rollups)
// until it is ready, measures publish → visible with a Probe at opts.Rate, and reads
// Sluice's freshness histogram before and after the measured stream.
func LatencyRun(ctx context.Context, opts LatencyOptions) (LatencyResult, error) {
	res := LatencyResult{Partitions: opts.Partitions}
	if opts.Process == nil {
		return res, errors.New("bench: latency: Options.Process must be set")
	}
	o := Options{Partitions: opts.Partitions, Seed: opts.Seed, Env: opts.Env, Progress: opts.Progress, Mode: RawAndRollups, Process: opts.Process}
	err := withRig(ctx, &o, func(r *rig) error {
		env := runEnv(o, r, "latency", RawAndRollups)
		addr, err := freePort()
		if err != nil {
			return err
		}
		env["SLUICE_HTTP_ADDR"] = addr
		cfg, err := config.Load(env)
		if err != nil {
			return fmt.Errorf("configuration: %w", err)
		}
		res.FlushInterval = cfg.Pipeline.FlushInterval
		if err := app.Migrate(ctx, cfg); err != nil {
			return err
		}
		conn, err := ch.Open(&ch.Options{Addr: cfg.ClickHouse.Addrs})
		if err != nil {
			return err
		}
		defer conn.Close()
		c, err := o.Process.start(env)
		if err != nil {
			return err
		}
		defer c.kill()
		base := "http://" + addr
		if err := waitReady(ctx, base+"/readyz", c); err != nil {
			return err
		}
		r.step("latency: sluice run ready (SLUICE_FLUSH_INTERVAL=%s, %d partitions)", cfg.Pipeline.FlushInterval, opts.Partitions)
		pid, _ := strconv.Atoi(c.pid)
		var before, insBefore Histogram
		var cpu0, chCPU0 time.Duration
		probe := Probe{
			Brokers: r.brokers, Topic: cfg.Kafka.PaymentsTopic, Conn: conn, Database: cfg.ClickHouse.Database,
			Rate: opts.Rate, Duration: opts.Duration, Warmup: opts.Warmup, Seed: o.Seed,
			Progress: r.step,
			Measuring: func() error {
				cpu0, chCPU0 = procCPU(pid), procCPU(r.srv.PID())
				before, err = ScrapeHistogram(ctx, base+"/metrics", "sluice_event_freshness_seconds")
				if err != nil {
					return err
				}
				insBefore, err = ScrapeHistogram(ctx, base+"/metrics", "sluice_insert_duration_seconds")
				return err
			},
		}
		lat, err := probe.Measure(ctx)
		if err != nil {
			return err
		}
		res.Latency = lat
		res.SluiceCPU, res.ClickHouseCPU = procCPU(pid)-cpu0, procCPU(r.srv.PID())-chCPU0
		after, err := ScrapeHistogram(ctx, base+"/metrics", "sluice_event_freshness_seconds")
		if err != nil {
			return err
		}
		res.Freshness = after.Sub(before)
		ins, err := ScrapeHistogram(ctx, base+"/metrics", "sluice_insert_duration_seconds")
		if err != nil {
			return err
		}
		res.Inserts = ins.Sub(insBefore)
		if err := c.term(cfg.ShutdownTimeout + 10*time.Second); err != nil {
			return fmt.Errorf("sluice run after SIGTERM: %w", err)
		}
		return nil
	})
	return res, err
}

// PrintLatency writes what LatencyRun measured.
func PrintLatency(w io.Writer, r LatencyResult) {
	fmt.Fprintf(w, "SLUICE_FLUSH_INTERVAL=%s, %d partitions: %s\n", r.FlushInterval, r.Partitions, r.Latency)
	ms := func(d time.Duration) string { return fmt.Sprintf("%.0f", float64(d)/float64(time.Millisecond)) }
	fmt.Fprintf(w, "Sluice's sluice_event_freshness_seconds over the same events: %d events, p50 %s ms, p99 %s ms, mean %s ms\n",
		r.Freshness.Count, ms(r.Freshness.Quantile(.5)), ms(r.Freshness.Quantile(.99)), ms(r.Freshness.Mean()))
	fmt.Fprintf(w, "Sluice's inserts (one Store call per flush, all its tables): %d, p50 %s ms, p99 %s ms, mean %s ms\n",
		r.Inserts.Count, ms(r.Inserts.Quantile(.5)), ms(r.Inserts.Quantile(.99)), ms(r.Inserts.Mean()))
	perM := func(d time.Duration) float64 { return d.Seconds() / (float64(max(r.Events, 1)) / 1e6) }
	fmt.Fprintf(w, "CPU over the measured stream: Sluice %.2f s (%.2f CPU-s per M events), ClickHouse %.2f s (%.2f per M)\n",
		r.SluiceCPU.Seconds(), perM(r.SluiceCPU), r.ClickHouseCPU.Seconds(), perM(r.ClickHouseCPU))
}

// Histogram is a Prometheus histogram summed over its label sets.
type Histogram struct {
	Count uint64
	Sum   float64
	// Bounds are the buckets' upper bounds, ascending (+Inf left out), and Counts
	// their cumulative counts.
	Bounds []float64
	Counts []uint64
}

// Sub returns h minus an earlier scrape of the same histogram.
func (h Histogram) Sub(before Histogram) Histogram {
	out := Histogram{Count: h.Count - before.Count, Sum: h.Sum - before.Sum, Bounds: h.Bounds, Counts: slices.Clone(h.Counts)}
	for i := range out.Counts {
		if i < len(before.Counts) {
			out.Counts[i] -= before.Counts[i]
		}
	}
	return out
}

// Mean is Sum / Count.
func (h Histogram) Mean() time.Duration {
	if h.Count == 0 {
		return 0
	}
	return time.Duration(h.Sum / float64(h.Count) * float64(time.Second))
}

// Quantile interpolates the q-quantile linearly within its bucket, as PromQL's
// histogram_quantile does.
func (h Histogram) Quantile(q float64) time.Duration {
	if h.Count == 0 {
		return 0
	}
	rank := q * float64(h.Count)
	lower, below := 0.0, uint64(0)
	for i, ub := range h.Bounds {
		if float64(h.Counts[i]) >= rank {
			in := h.Counts[i] - below
			frac := 1.0
			if in > 0 {
				frac = (rank - float64(below)) / float64(in)
			}
			return time.Duration((lower + (ub-lower)*frac) * float64(time.Second))
		}
		lower, below = ub, h.Counts[i]
	}
	return time.Duration(lower * float64(time.Second)) // in +Inf: the highest bound, as PromQL
}

// ScrapeHistogram reads the histogram name from a Prometheus text endpoint, summed
// over its label sets.
func ScrapeHistogram(ctx context.Context, url, name string) (Histogram, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return Histogram{}, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return Histogram{}, err
	}
	defer resp.Body.Close()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		return Histogram{}, fmt.Errorf("scrape %s: %w", url, err)
	}
	var h Histogram
	fam, ok := fams[name]
	if !ok {
		return h, nil
	}
	for _, m := range fam.GetMetric() {
		addHistogram(&h, m.GetHistogram())
	}
	return h, nil
}

func addHistogram(h *Histogram, m *dto.Histogram) {
	h.Count += m.GetSampleCount()
	h.Sum += m.GetSampleSum()
	for i, b := range m.GetBucket() {
		if math.IsInf(b.GetUpperBound(), 1) {
			continue
		}
		if i >= len(h.Bounds) {
			h.Bounds = append(h.Bounds, b.GetUpperBound())
			h.Counts = append(h.Counts, 0)
		}
		h.Counts[i] += b.GetCumulativeCount()
	}
}

// waitReady polls url until it answers 200, the child exits or ctx ends.
func waitReady(ctx context.Context, url string, c *child) error {
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		if err, ok := c.exited(); ok {
			return fmt.Errorf("sluice run exited before it was ready: %v", err)
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// freePort returns a loopback address with a port free at the time of the call.
func freePort() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}
