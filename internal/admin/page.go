package admin

import (
	"cmp"
	"fmt"
	"html"
	"html/template"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// page is the status page: "page" is the whole document, "live" the part its script
// refreshes.
var page = template.Must(template.New("index.html").Funcs(template.FuncMap{"count": count, "rate": rate, "mib": mib}).Parse(indexHTML))

// view is what the page template shows: a Status turned into the words and numbers
// an operator reads.
type view struct {
	Status
	Updated    string
	Uptime     string
	EventsPerS string
	Lag        string
	// Latency is the insert latency panel's main line, LatencyUnit its unit, and
	// LatencyNote the line under it; LatencyBad colours it as a problem.
	Latency, LatencyUnit, LatencyNote string
	LatencyBad                        bool
	LastInsert                        string
	Info                              []infoItem
	Partitions                        []Partition
	DeadLetters                       []deadLetterRow
	MoreDeadLetters                   int // rows left out of DeadLetters
	MembersNote                       string
	Errors                            []errorRow
	ChartEPS, ChartLag, ChartLatency  chart

	// Freshness is the freshness panel's main line and FreshnessNote the line under it.
	Freshness, FreshnessNote string
	ChartFreshness           chart
}

type infoItem struct{ Key, Value string }

type deadLetterRow struct {
	Topic, Reason string
	Count         int64
}

type errorRow struct {
	Time, Level, Message, Cause, Repeats string
}

// chart is one drawn chart with its legend.
type chart struct {
	SVG    template.HTML
	Legend []legendItem
}

type legendItem struct{ Name, Color string }

// palette colours a chart's series in order.
var palette = []string{"#e6edf3", "#58a6ff", "#bc8cff", "#3fb950", "#d29922", "#39c5cf", "#f85149"}

// maxDeadLetterRows bounds the dead-letter table, most frequent first.
const maxDeadLetterRows = 8

// chartSpan is the time a chart covers, ending now.
const chartSpan = 2 * time.Minute

func newView(st Status) view {
	v := view{
		Status:     st,
		Updated:    st.Now.Format("15:04:05 MST"),
		Uptime:     duration(st.Now.Sub(st.Started)),
		EventsPerS: rate(st.EventsPerS),
		Lag:        "unknown",
		LastInsert: "none yet",
	}
	if st.LagKnown {
		v.Lag = count(st.Lag)
	}
	if !st.LastInsert.IsZero() {
		v.LastInsert = duration(st.Now.Sub(st.LastInsert)) + " ago, at " + st.LastInsert.Format("15:04:05")
	}
	switch {
	case !st.ClickHouseDown.IsZero():
		v.Latency, v.LatencyBad = "ClickHouse unreachable", true
		v.LatencyNote = "since " + st.ClickHouseDown.Format("15:04:05") + " (" + duration(st.Now.Sub(st.ClickHouseDown)) + ")"
	case st.Inserts > 0:
		v.Latency, v.LatencyUnit = millis(st.InsertP50ms)+" / "+millis(st.InsertP99ms), "ms p50 / p99"
		v.LatencyNote = "over the last " + count(int64(st.Inserts)) + " inserts"
	case st.LastInsert.IsZero():
		v.Latency, v.LatencyNote = "—", "no inserts yet"
	default:
		v.Latency, v.LatencyNote = "—", "no inserts lately (nothing to write)"
	}
	v.Freshness, v.FreshnessNote = freshness(st.Snapshot)
	keys := make([]string, 0, len(st.Info))
	for k := range st.Info {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		v.Info = append(v.Info, infoItem{k, st.Info[k]})
	}
	v.Partitions = slices.Clone(st.Partitions)
	slices.SortFunc(v.Partitions, func(a, b Partition) int {
		return cmp.Or(cmp.Compare(a.Topic, b.Topic), cmp.Compare(a.Partition, b.Partition))
	})
	for _, t := range st.Topics {
		for _, d := range t.DeadLetters {
			v.DeadLetters = append(v.DeadLetters, deadLetterRow{t.Topic, d.Reason, d.Count})
		}
	}
	slices.SortStableFunc(v.DeadLetters, func(a, b deadLetterRow) int { return cmp.Compare(b.Count, a.Count) })
	if n := len(v.DeadLetters); n > maxDeadLetterRows {
		v.DeadLetters, v.MoreDeadLetters = v.DeadLetters[:maxDeadLetterRows], n-maxDeadLetterRows
	}
	switch {
	case st.MembersError != "":
		v.MembersNote = "could not list the group's members: " + st.MembersError
	case st.MembersAt.IsZero():
		v.MembersNote = "not listed yet"
	default:
		v.MembersNote = "as of " + st.MembersAt.Format("15:04:05")
	}
	for _, e := range st.Errors {
		r := errorRow{Time: e.Time.Format("15:04:05"), Level: e.Level, Message: e.Message, Cause: e.Cause}
		if e.Count > 1 {
			r.Repeats = fmt.Sprintf("×%d since %s", e.Count, e.First.Format("15:04:05"))
		}
		v.Errors = append(v.Errors, r)
	}
	v.charts()
	return v
}

// charts draws the throughput (total and per topic), lag and latency charts.
func (v *view) charts() {
	h := v.History
	total := series{name: "all topics"}
	perTopic := map[string]*series{}
	var topics []*series
	lag := series{name: "lag"}
	p50, p99 := series{name: "p50"}, series{name: "p99"}
	for _, s := range h {
		total.add(s.Time, s.EventsPerS, true)
		for _, tr := range s.TopicEventsPerS {
			ts := perTopic[tr.Topic]
			if ts == nil {
				ts = &series{name: tr.Topic}
				perTopic[tr.Topic] = ts
				topics = append(topics, ts)
			}
			ts.add(s.Time, tr.EventsPerS, true)
		}
		lag.add(s.Time, float64(s.Lag), s.LagKnown)
		p50.add(s.Time, s.InsertP50ms, s.Inserts > 0)
		p99.add(s.Time, s.InsertP99ms, s.Inserts > 0)
	}
	eps := []series{total}
	for _, t := range topics {
		eps = append(eps, *t)
	}
	v.ChartEPS = newChart("chart-eps", "throughput", "records/s", v.Now, eps)
	v.ChartLag = newChart("chart-lag", "consumer lag", "records", v.Now, []series{lag})
	v.ChartLatency = newChart("chart-latency", "insert latency", "ms", v.Now, []series{p50, p99})
	v.ChartFreshness = freshnessChart(v.Now, h)
}

// series is one line of a chart; points with ok false are gaps.
type series struct {
	name string
	t    []time.Time
	v    []float64
	ok   []bool
}

func (s *series) add(t time.Time, v float64, ok bool) {
	s.t, s.v, s.ok = append(s.t, t), append(s.v, v), append(s.ok, ok && !math.IsNaN(v))
}

// Chart geometry, in SVG user units.
const (
	chartW, chartH                      = 380, 160
	padLeft, padRight, padTop, padBelow = 40, 8, 24, 22
)

func newChart(id, title, unit string, now time.Time, ss []series) chart {
	var c chart
	for i, s := range ss {
		c.Legend = append(c.Legend, legendItem{s.name, palette[i%len(palette)]})
	}
	c.SVG = drawChart(id, title, unit, now, ss)
	return c
}

// drawChart draws ss as an SVG line chart of the chartSpan before now, with a time
// axis, a value axis in unit and grid lines. Every path carries data-points, the
// number of points it draws. All text is escaped.
func drawChart(id, title, unit string, now time.Time, ss []series) template.HTML {
	x0, x1 := float64(padLeft), float64(chartW-padRight)
	y0, y1 := float64(chartH-padBelow), float64(padTop)
	start := now.Add(-chartSpan)
	top := 0.0
	points := 0
	for _, s := range ss {
		for i, v := range s.v {
			if s.ok[i] && !s.t[i].Before(start) {
				top = max(top, v)
				points++
			}
		}
	}
	top = niceCeil(top)
	xOf := func(t time.Time) float64 { return x0 + (x1-x0)*t.Sub(start).Seconds()/chartSpan.Seconds() }
	yOf := func(v float64) float64 { return y0 - (y0-y1)*v/top }

	var b strings.Builder
	fmt.Fprintf(&b, `<svg id="%s" class="chart" viewBox="0 0 %d %d" role="img" aria-label="%s in %s over the last %s">`,
		html.EscapeString(id), chartW, chartH, html.EscapeString(title), html.EscapeString(unit), duration(chartSpan))
	fmt.Fprintf(&b, `<text class="unit" x="%d" y="12">%s</text>`, 2, html.EscapeString(unit))
	for _, f := range []float64{0, 0.5, 1} {
		y := yOf(top * f)
		fmt.Fprintf(&b, `<line class="grid" x1="%.1f" x2="%.1f" y1="%.1f" y2="%.1f"/>`, x0, x1, y, y)
		fmt.Fprintf(&b, `<text class="ytick" x="%.1f" y="%.1f">%s</text>`, x0-6, y+4, compact(top*f))
	}
	for t := start.Truncate(30 * time.Second).Add(30 * time.Second); !t.After(now); t = t.Add(30 * time.Second) {
		x := xOf(t)
		fmt.Fprintf(&b, `<line class="xgrid" x1="%.1f" x2="%.1f" y1="%.1f" y2="%.1f"/>`, x, x, y1, y0+4)
		fmt.Fprintf(&b, `<text class="xtick" x="%.1f" y="%d">%s</text>`, x, chartH-6, t.Format("15:04:05"))
	}
	for i, s := range ss {
		var d strings.Builder
		n, pen := 0, false
		for j, v := range s.v {
			if !s.ok[j] || s.t[j].Before(start) {
				pen = false
				continue
			}
			cmd := "L"
			if !pen {
				cmd = "M"
			}
			fmt.Fprintf(&d, "%s%.1f %.1f ", cmd, xOf(s.t[j]), yOf(v))
			pen = true
			n++
		}
		fmt.Fprintf(&b, `<path class="line" stroke="%s" data-series="%s" data-points="%d" d="%s"/>`,
			palette[i%len(palette)], html.EscapeString(s.name), n, strings.TrimSpace(d.String()))
	}
	if points == 0 {
		fmt.Fprintf(&b, `<text class="empty" x="%.1f" y="%.1f">no data yet</text>`, (x0+x1)/2, (y0+y1)/2)
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String()) // every interpolated string above is escaped
}

// niceCeil rounds v up to 1, 2 or 5 times a power of ten (1 for v ≤ 0).
func niceCeil(v float64) float64 {
	if v <= 0 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 5, 10} {
		if v <= m*p {
			return m * p
		}
	}
	return 10 * p
}

// compact writes an axis value short: 950, 1.5k, 20k, 3M.
func compact(v float64) string {
	switch a := math.Abs(v); {
	case a >= 1e6:
		return strconv.FormatFloat(v/1e6, 'f', -1, 64) + "M"
	case a >= 1e3:
		return strconv.FormatFloat(v/1e3, 'f', -1, 64) + "k"
	default:
		return strconv.FormatFloat(v, 'f', -1, 64)
	}
}

// count writes n with thousands separators: 1,234,567.
func count(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	if neg {
		b.WriteByte('-')
	}
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// rate writes a per-second rate: one decimal below 10, whole numbers above.
func rate(r float64) string {
	if r < 10 {
		return strconv.FormatFloat(r, 'f', 1, 64)
	}
	return count(int64(math.Round(r)))
}

// mib writes a byte count in MiB, with one decimal below 10 MiB.
func mib(n int64) string {
	m := float64(n) / (1 << 20)
	if m < 10 {
		return strconv.FormatFloat(m, 'f', 1, 64) + " MiB"
	}
	return count(int64(m+0.5)) + " MiB"
}

// millis writes milliseconds: one decimal below 100.
func millis(m float64) string {
	if m < 100 {
		return strconv.FormatFloat(m, 'f', 1, 64)
	}
	return count(int64(math.Round(m)))
}

// duration writes d the way a person says it: 14s, 3m05s, 2h04m.
func duration(d time.Duration) string {
	d = d.Round(time.Second)
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
	default:
		return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
	}
}

// freshness words the freshness panel: the quantiles in seconds and what they cover.
func freshness(s Snapshot) (line, note string) {
	if s.FreshEvents == 0 {
		return "—", "no events stored in the last " + duration(s.FreshnessWindow)
	}
	secs := func(d time.Duration) string { return strconv.FormatFloat(d.Seconds(), 'f', 2, 64) }
	return secs(s.FreshnessP50) + " / " + secs(s.FreshnessP99),
		"Kafka timestamp → stored in ClickHouse, over the " + count(s.FreshEvents) + " events stored in the last " + duration(s.FreshnessWindow)
}

// freshnessChart draws the freshness of the events stored around each sample.
func freshnessChart(now time.Time, h []Sample) chart {
	p50, p99 := series{name: "p50"}, series{name: "p99"}
	for _, s := range h {
		p50.add(s.Time, s.FreshP50ms, s.FreshEvents > 0)
		p99.add(s.Time, s.FreshP99ms, s.FreshEvents > 0)
	}
	return newChart("chart-freshness", "freshness", "ms", now, []series{p50, p99})
}
