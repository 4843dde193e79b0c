package schemagen

import (
	"errors"
	"fmt"
	"math/big"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

	"github.com/sluicehq/sluice/producers/loadgen"
	"github.com/sluicehq/sluice/schemas"
)

// Config describes a generated stream. Zero values take the defaults named.
type Config struct {
	// Seed makes the stream reproducible: the same type, Seed and Config give the
	// same records byte for byte. Event ids include it, so streams of different
	// seeds never share an id.
	Seed int64
	// Records is how many records Next returns (valid, invalid and duplicates
	// together); 0 means no end (bound the run with loadgen.RunOptions).
	Records int64
	// InvalidRate and DuplicateRate are the shares of invalid records and of
	// producer retries.
	InvalidRate, DuplicateRate float64
	// Start is the event time of the first record (default 2026-01-01T00:00:00Z).
	Start time.Time
	// EventRate is how many records a second of event time holds (default 1000).
	EventRate float64
	// Window is the deployment window (SLUICE_WINDOW) for rollups without their own
	// (default 1m).
	Window time.Duration
	// Topic overrides the type's topic.
	Topic string
	// Cardinality is how many distinct values each rollup dimension takes
	// (default 8; enums and booleans take theirs).
	Cardinality int
	// MaxStringBytes is the deployment's string limit, a string's default maxLength
	// (default 1024).
	MaxStringBytes int
	// MaxLateness and MaxClockSkew are the deployment's time policy, which the
	// too_late and from_future records break (defaults 168h and 15m).
	MaxLateness, MaxClockSkew time.Duration
}

func (c *Config) defaults() error {
	if c.Start.IsZero() {
		c.Start = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	}
	if c.EventRate == 0 {
		c.EventRate = 1000
	}
	if c.Window == 0 {
		c.Window = time.Minute
	}
	if c.Cardinality == 0 {
		c.Cardinality = 8
	}
	if c.MaxStringBytes == 0 {
		c.MaxStringBytes = schemas.DefaultMaxStringBytes
	}
	if c.MaxLateness == 0 {
		c.MaxLateness = 168 * time.Hour
	}
	if c.MaxClockSkew == 0 {
		c.MaxClockSkew = 15 * time.Minute
	}
	switch {
	case c.Records < 0:
		return errors.New("schemagen: Records must be ≥ 0")
	case !(c.InvalidRate >= 0 && c.DuplicateRate >= 0 && c.InvalidRate+c.DuplicateRate <= 1):
		return errors.New("schemagen: InvalidRate and DuplicateRate must be ≥ 0 with a sum ≤ 1")
	case c.EventRate < 0:
		return errors.New("schemagen: EventRate must be > 0")
	}
	return nil
}

// node is one property of the type: a scalar (leaf), an object (kids), a map or
// an array of scalars (item).
type node struct {
	p    schemas.Property
	leaf *leaf
	kids []*node
	item *leaf
}

// Generator produces the records of one event type and keeps their Truth. It is
// not safe for concurrent use.
type Generator struct {
	cfg    Config
	typ    *schemas.EventType
	rng    *rand.Rand
	props  []*node
	truth  *Truth
	n      int64    // records returned
	seq    int64    // valid events made
	totals []string // the raw columns RawTotals covers
	sums   []dec    // their totals so far
	recent []past   // the last valid records, for producer retries
	err    error    // what ended the stream early
	kinds  []string // invalid kinds the type allows
	// The properties the invalid kinds corrupt (nil when absent).
	required                                 []*node
	enum, bounded, plain, patterned, limited *node
	eventTime, eventID                       *node
}

// New prepares a generator for t. It fails when a property's values cannot be
// generated (a pattern it cannot satisfy within the length bounds, bounds no
// value fits).
func New(t *schemas.EventType, cfg Config) (*Generator, error) {
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	g := &Generator{cfg: cfg, typ: t, rng: rand.New(rand.NewPCG(uint64(cfg.Seed), 0x5c4e3a))}
	topic := cfg.Topic
	if topic == "" {
		topic = t.Topic()
	}
	g.truth = &Truth{Topic: topic, InvalidByReason: map[string]int64{}, RawTotals: map[string]string{}}
	for _, r := range t.Rollups() {
		g.truth.Rollups = append(g.truth.Rollups, newRollupTruth(r, t.Table(), cfg.Window))
	}
	dims := map[string]bool{}
	for _, r := range t.Rollups() {
		for _, d := range r.Dimensions {
			dims[d.Name] = true
		}
	}
	var err error
	for _, p := range t.Properties() {
		n, e := g.node(p, dims)
		err = errors.Join(err, e)
		g.props = append(g.props, n)
	}
	if err != nil {
		return nil, fmt.Errorf("schemagen: %s: %w", t.File(), err)
	}
	g.classify()
	var walk func(ns []*node)
	walk = func(ns []*node) {
		for _, n := range ns {
			walk(n.kids)
			if n.p.Type == "map" || n.p.Type == "array" || n.leaf != nil && (n.leaf.kind == kInteger || n.leaf.kind == kDecimal || n.leaf.kind == kFloat) {
				g.totals = append(g.totals, n.p.Column)
				g.sums = append(g.sums, dec{new(big.Int), 0})
			}
		}
	}
	walk(g.props)
	return g, nil
}

// node builds the generator of p; leaves of rollup dimensions get a pool.
func (g *Generator) node(p schemas.Property, dims map[string]bool) (*node, error) {
	n := &node{p: p}
	switch p.Type {
	case "object":
		var err error
		for _, k := range p.Properties {
			kid, e := g.node(k, dims)
			err = errors.Join(err, e)
			n.kids = append(n.kids, kid)
		}
		return n, err
	case "map":
		return n, nil
	case "array":
		if p.Items == nil {
			return nil, fmt.Errorf("%s: array without items", p.Path)
		}
		l, err := newLeaf(*p.Items, g.cfg.MaxStringBytes)
		n.item = l
		return n, err
	}
	l, err := newLeaf(p, g.cfg.MaxStringBytes)
	if err != nil {
		return nil, err
	}
	n.leaf = l
	if dims[p.Column] && l.kind != kDateTime && l.kind != kEpoch {
		seen := map[string]bool{}
		for range 4 * g.cfg.Cardinality {
			c, err := l.fresh(g.rng, g.cfg.Start)
			if err != nil {
				return nil, err
			}
			if !seen[c.json] && len(l.pool) < g.cfg.Cardinality {
				seen[c.json] = true
				l.pool = append(l.pool, c)
			}
		}
	} else if _, err := l.fresh(g.rng, g.cfg.Start); err != nil {
		return nil, err // a pattern it cannot satisfy fails now, not mid-stream
	}
	return n, nil
}

// classify picks the top-level properties each invalid kind corrupts and lists
// the kinds the type allows.
func (g *Generator) classify() {
	g.kinds = []string{schemas.ReasonMalformed, schemas.ReasonDuplicateField}
	for _, n := range g.props {
		l := n.leaf
		switch {
		case n.p.Column != "" && n.p.Column == g.typ.EventTime():
			g.eventTime = n
			continue
		case n.p.Column != "" && n.p.Column == g.typ.EventID():
			g.eventID = n
		}
		if n.p.Required {
			g.required = append(g.required, n)
		}
		if l == nil || n == g.eventID {
			continue
		}
		switch {
		case l.kind == kEnum && g.enum == nil:
			g.enum = n
		case l.over != "" && g.bounded == nil:
			g.bounded = n
		case l.kind == kString && l.pat != nil && g.patterned == nil:
			if _, ok := g.badFormat(l); ok {
				g.patterned = n
			}
		case l.kind == kString && l.pat == nil && n.p.MaxLength > 0 && n.p.MaxLength < g.cfg.MaxStringBytes && g.limited == nil:
			g.limited = n
		}
		if l.kind == kString && l.pat == nil && g.plain == nil {
			g.plain = n
		}
	}
	if g.eventTime != nil {
		g.required = append(g.required, g.eventTime)
		g.kinds = append(g.kinds, schemas.ReasonTooLate, schemas.ReasonFromFuture)
		if g.eventTime.leaf.kind == kDateTime {
			g.kinds = append(g.kinds, schemas.ReasonBadTimestamp)
		}
	}
	for _, k := range []struct {
		reason string
		ok     bool
	}{
		{schemas.ReasonMissingField, len(g.required) > 0},
		{schemas.ReasonBadEnum, g.enum != nil},
		{schemas.ReasonOutOfRange, g.bounded != nil},
		{schemas.ReasonBadType, g.plain != nil},
		{schemas.ReasonBadFormat, g.patterned != nil},
		{schemas.ReasonStringTooLong, g.limited != nil},
	} {
		if k.ok {
			g.kinds = append(g.kinds, k.reason)
		}
	}
}

// badFormat returns a string within l's length bounds that its pattern rejects.
func (g *Generator) badFormat(l *leaf) (string, bool) {
	for _, c := range []string{"~", "#", "!", " "} {
		s := strings.Repeat(c, max(l.minLen, 1))
		if len(s) <= l.maxLen && !l.pat.re.MatchString(s) {
			return s, true
		}
	}
	return "", false
}

// past is a valid record kept for producer retries, with what the truth needs.
type past struct {
	rec loadgen.Record
	at  time.Time
	row map[string]cell
}

// recentRecords is how many valid records a producer retry picks from.
const recentRecords = 1024

// Err is the error that ended the stream before Config.Records, or nil.
func (g *Generator) Err() error { return g.err }

// Config returns the generator's configuration with defaults applied.
func (g *Generator) Config() Config { return g.cfg }

// Truth is the ground truth of every record returned so far.
func (g *Generator) Truth() *Truth {
	for i, col := range g.totals {
		g.truth.RawTotals[col] = g.sums[i].String()
	}
	return g.truth
}

// Next returns the next record, or false after Config.Records. A generation error
// (which New's checks make unlikely) ends the stream early; Err reports it.
func (g *Generator) Next() (loadgen.Record, bool) {
	if g.cfg.Records > 0 && g.n >= g.cfg.Records {
		return loadgen.Record{}, false
	}
	// Event time advances with every record; the Kafka timestamp follows it.
	at := g.cfg.Start.Add(time.Duration(float64(g.n) / g.cfg.EventRate * float64(time.Second))).UTC().Truncate(time.Millisecond)
	ts := at.Add(time.Duration(g.rng.IntN(500)) * time.Millisecond)
	g.n++
	x := g.rng.Float64()
	var rec loadgen.Record
	var err error
	switch {
	case x < g.cfg.DuplicateRate && len(g.recent) > 0:
		p := g.recent[g.rng.IntN(len(g.recent))]
		rec = p.rec
		rec.Kind = loadgen.Duplicate
		g.truth.Duplicates++
		if g.eventID == nil {
			// Without an event_id a retry is another event.
			g.store(p.at, p.row)
		}
	case x < g.cfg.DuplicateRate+g.cfg.InvalidRate:
		rec, err = g.invalid(at, ts)
		g.truth.Invalid++
		g.truth.InvalidByReason[rec.InvalidKind]++
	default:
		rec, err = g.valid(at, ts)
		g.truth.Valid++
	}
	if err != nil {
		g.err = err
		return loadgen.Record{}, false
	}
	g.truth.Records++
	return rec, true
}

// member is one top-level member of an event as JSON text.
type member struct{ name, json string }

// event generates the members of one valid event at event time at, and the
// column values the truth needs.
func (g *Generator) event(at time.Time) ([]member, map[string]cell, error) {
	row := map[string]cell{}
	ms := make([]member, 0, len(g.props))
	for _, n := range g.props {
		var js string
		var err error
		switch n {
		case g.eventTime:
			js, err = g.value(n, at, row)
		case g.eventID:
			id := "e" + strconv.FormatInt(g.cfg.Seed, 10) + "-" + strconv.FormatInt(g.seq, 10)
			js = quote(id)
			row[n.p.Column] = cell{text: id}
		default:
			var ok bool
			if js, ok, err = g.maybe(n, at, row); !ok {
				continue
			}
		}
		if err != nil {
			return nil, nil, err
		}
		ms = append(ms, member{n.p.Name, js})
	}
	return ms, row, nil
}

// maybe generates n if it is present (always when required), else sets its
// columns to their defaults and reports false, or writes null for a nullable one.
func (g *Generator) maybe(n *node, at time.Time, row map[string]cell) (string, bool, error) {
	if n.p.Required || g.rng.IntN(4) != 0 {
		js, err := g.value(n, at, row)
		return js, true, err
	}
	g.absent(n, row)
	if n.p.Nullable && g.rng.IntN(2) == 0 {
		return "null", true, nil // null means absent
	}
	return "", false, nil
}

// absent sets the columns of n and its children to their defaults.
func (g *Generator) absent(n *node, row map[string]cell) {
	switch {
	case n.leaf != nil:
		row[n.p.Column] = zero(n.p)
	case n.p.Type == "map" || n.p.Type == "array":
		row[n.p.Column] = count(0)
	}
	for _, k := range n.kids {
		g.absent(k, row)
	}
}

// value generates n's JSON value; a time-valued leaf other than the event time
// lies up to a day before at.
func (g *Generator) value(n *node, at time.Time, row map[string]cell) (string, error) {
	var sb strings.Builder
	switch {
	case n.leaf != nil:
		t := at
		if n != g.eventTime {
			t = at.Add(-time.Duration(g.rng.Int64N(int64(24 * time.Hour))))
		}
		c, err := n.leaf.gen(g.rng, t)
		row[n.p.Column] = c.cell
		return c.json, err
	case n.p.Type == "object":
		sb.WriteByte('{')
		for _, k := range n.kids {
			js, ok, err := g.maybe(k, at, row)
			if err != nil {
				return "", err
			}
			if ok {
				if sb.Len() > 1 {
					sb.WriteByte(',')
				}
				sb.WriteString(quote(k.p.Name) + ":" + js)
			}
		}
		sb.WriteByte('}')
	case n.p.Type == "map":
		return g.repeat(n, row, n.p.MaxProperties, '{', '}', func(i int) (string, error) {
			return quote("k"+strconv.Itoa(i)) + ":" + quote(alnum[g.rng.IntN(26):][:1+g.rng.IntN(8)]), nil
		})
	case n.p.Type == "array":
		return g.repeat(n, row, n.p.MaxItems, '[', ']', func(int) (string, error) {
			c, err := n.item.gen(g.rng, at)
			return c.json, err
		})
	}
	return sb.String(), nil
}

// repeat writes open, up to three (at most limit; 0: the deployment's entry
// limit) comma-separated items, and close; the row records how many (the length
// of n's column).
func (g *Generator) repeat(n *node, row map[string]cell, limit int, open, close byte, item func(i int) (string, error)) (string, error) {
	if limit == 0 {
		limit = schemas.DefaultMaxMetadataEntries
	}
	items := g.rng.IntN(min(3, limit) + 1)
	row[n.p.Column] = count(int64(items))
	var sb strings.Builder
	sb.WriteByte(open)
	for i := range items {
		js, err := item(i)
		if err != nil {
			return "", err
		}
		if i > 0 {
			sb.WriteByte(',')
		}
		sb.WriteString(js)
	}
	sb.WriteByte(close)
	return sb.String(), nil
}

func encode(ms []member) []byte {
	var sb strings.Builder
	sb.WriteByte('{')
	for i, m := range ms {
		if i > 0 {
			sb.WriteByte(',')
		}
		sb.WriteString(quote(m.name) + ":" + m.json)
	}
	sb.WriteByte('}')
	return []byte(sb.String())
}

// key is the record key: the event id (a retry reaches its original's
// partition), or a sequence number.
func (g *Generator) key(row map[string]cell) []byte {
	if g.eventID != nil {
		return []byte(row[g.eventID.p.Column].text)
	}
	return []byte("k" + strconv.FormatInt(g.seq, 10))
}

// valid makes a new valid event and adds it to the truth.
func (g *Generator) valid(at, ts time.Time) (loadgen.Record, error) {
	ms, row, err := g.event(at)
	if err != nil {
		return loadgen.Record{}, err
	}
	rec := loadgen.Record{Topic: g.truth.Topic, Key: g.key(row), Value: encode(ms), Kind: loadgen.Valid, Timestamp: ts}
	g.seq++
	g.store(at, row)
	p := past{rec, at, row}
	if len(g.recent) < recentRecords {
		g.recent = append(g.recent, p)
	} else {
		g.recent[g.rng.IntN(recentRecords)] = p
	}
	return rec, nil
}

// store adds one stored event to the raw rows and the rollups.
func (g *Generator) store(at time.Time, row map[string]cell) {
	g.truth.Stored++
	if g.typ.Raw() {
		g.truth.RawRows++
		for i, col := range g.totals {
			if c, ok := row[col]; ok && c.num != nil {
				g.sums[i] = g.sums[i].add(*c.num)
			}
		}
	}
	for _, r := range g.truth.Rollups {
		r.add(at, row)
	}
}

// invalid makes a valid event with one mistake of a kind the type allows.
func (g *Generator) invalid(at, ts time.Time) (loadgen.Record, error) {
	reason := g.kinds[g.rng.IntN(len(g.kinds))]
	switch reason {
	case schemas.ReasonTooLate:
		at = ts.Add(-g.cfg.MaxLateness - time.Hour)
	case schemas.ReasonFromFuture:
		at = ts.Add(g.cfg.MaxClockSkew + time.Hour)
	}
	ms, row, err := g.event(at)
	if err != nil {
		return loadgen.Record{}, err
	}
	g.seq++ // the id is used up: a later valid event never shares it
	set := func(n *node, js string) {
		for i := range ms {
			if ms[i].name == n.p.Name {
				ms[i].json = js
				return
			}
		}
		ms = append(ms, member{n.p.Name, js})
	}
	value := encode(ms)
	switch reason {
	case schemas.ReasonMalformed:
		value = value[:len(value)/2]
	case schemas.ReasonDuplicateField:
		value = encode(append(ms, ms[0]))
	case schemas.ReasonMissingField:
		drop := g.required[g.rng.IntN(len(g.required))].p.Name
		kept := ms[:0]
		for _, m := range ms {
			if m.name != drop {
				kept = append(kept, m)
			}
		}
		value = encode(kept)
	case schemas.ReasonBadEnum:
		set(g.enum, quote("not-"+strings.Join(g.enum.p.Enum, "-")))
		value = encode(ms)
	case schemas.ReasonOutOfRange:
		set(g.bounded, g.bounded.leaf.over)
		value = encode(ms)
	case schemas.ReasonBadType:
		set(g.plain, strconv.Itoa(1+g.rng.IntN(99999)))
		value = encode(ms)
	case schemas.ReasonBadTimestamp:
		set(g.eventTime, quote([]string{"yesterday", "31/12/2025 10:00", "2026-13-45T25:61:00Z"}[g.rng.IntN(3)]))
		value = encode(ms)
	case schemas.ReasonBadFormat:
		s, _ := g.badFormat(g.patterned.leaf)
		set(g.patterned, quote(s))
		value = encode(ms)
	case schemas.ReasonStringTooLong:
		set(g.limited, quote(strings.Repeat("x", g.limited.p.MaxLength+1)))
		value = encode(ms)
	}
	return loadgen.Record{Topic: g.truth.Topic, Key: g.key(row), Value: value, Kind: loadgen.Invalid, InvalidKind: reason, Timestamp: ts}, nil
}
