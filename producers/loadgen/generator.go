package loadgen

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"time"

	"github.com/segmentio/encoding/json"

	"github.com/sluicehq/sluice/producers"
	"github.com/sluicehq/sluice/schemas"
)

// Kind says what a generated record is.
type Kind uint8

// Record kinds.
const (
	Valid     Kind = iota // a new, valid event
	Invalid               // deliberately invalid bytes
	Duplicate             // a byte-identical copy of an earlier Valid record
)

// String returns "valid", "invalid" or "duplicate".
func (k Kind) String() string {
	switch k {
	case Valid:
		return "valid"
	case Invalid:
		return "invalid"
	case Duplicate:
		return "duplicate"
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}

// Record is one generated Kafka record. Key and Value are never modified after Next
// returns them (a Duplicate shares its original's slices), so they may be handed to an
// async producer as they are.
type Record struct {
	Topic string
	Key   []byte
	Value []byte
	Kind  Kind
	// InvalidKind names the corruption of an Invalid record (e.g. "bad_currency").
	InvalidKind string
	// Timestamp is when the record is published on the stream's own clock: Run
	// gives it to sinks that take a timestamp (TimestampSink), so a stream's Kafka
	// timestamps are reproducible and consistent with its event times.
	Timestamp time.Time
}

// Generator produces the stream a Config describes. It is not safe for concurrent
// use; its cost is a few microseconds and about a dozen allocations per record.
type Generator struct {
	cfg   Config
	rng   *rand.Rand
	truth *Truth

	leftP, leftS int
	clock        time.Time // event time of the current record
	step         time.Duration

	merchants   []merchant
	merchantZip *rand.Zipf
	hubZip      *rand.Zipf
	idScope     string // Config.idScope, in every payment and shipment id
	nextPayID   int
	nextShipID  int
	payments    []*payment  // open payment lifecycles
	shipments   []*shipment // shipments in transit
	recentP     ring
	recentS     ring
}

type merchant struct {
	id      string
	foreign string // "" for a domestic-only merchant
	city    string
}

type payment struct {
	id, orderID, customer, channel  string
	merchant                        *merchant
	currency, method, country, city string
	amount                          int64
	risk                            float64
	state                           string // last event type emitted, "" before the first
	last                            time.Time
}

type shipment struct {
	id, carrier, route string
	hubs               []int
	weight             int64
	step               int // next step: 0 created, 1 picked_up, 2.. scans, then out_for_delivery, delivered
	seq                int // events emitted so far
	last               time.Time
}

// ring keeps the last valid records of a topic for duplicates.
type ring struct {
	recs []Record
	next int
}

const ringSize = 4096

func (r *ring) add(rec Record) {
	if len(r.recs) < ringSize {
		r.recs = append(r.recs, rec)
		return
	}
	r.recs[r.next] = rec
	r.next = (r.next + 1) % ringSize
}

// NewGenerator validates cfg and returns a generator at the start of its stream.
func NewGenerator(cfg Config) (*Generator, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	rng := rand.New(rand.NewPCG(uint64(cfg.Seed), 0x5eed_51ce))
	g := &Generator{
		cfg:   cfg,
		rng:   rng,
		truth: NewTruth(cfg.Window, cfg.PaymentsTopic, cfg.ShipmentsTopic),
		leftP: cfg.Payments,
		leftS: cfg.Shipments,
		clock: cfg.Start,
		step:  time.Duration(float64(time.Second) / cfg.EventRate),
		// Ids are not drawn from rng, so the seed and run id in them change no
		// other byte of the stream's traffic pattern.
		idScope: cfg.idScope(),
	}
	g.merchants = make([]merchant, cfg.Merchants)
	for i := range g.merchants {
		m := &g.merchants[i]
		m.id = fmt.Sprintf("m_%05d", i)
		m.city = indianCities[rng.IntN(len(indianCities))].name
		if rng.Float64() < 0.12 { // cross-border merchants also take foreign currencies
			m.foreign = foreignCurrencies[rng.IntN(len(foreignCurrencies))].code
		}
	}
	if cfg.Merchants > 1 {
		g.merchantZip = rand.NewZipf(rng, 1.15, 2, uint64(cfg.Merchants-1))
	}
	g.hubZip = rand.NewZipf(rng, 1.3, 3, uint64(cfg.Hubs-1))
	return g, nil
}

// Config is the generator's configuration with defaults filled in.
func (g *Generator) Config() Config { return g.cfg }

// Truth is the ground truth of the records Next has returned so far. It is live: it
// keeps changing as Next is called.
func (g *Generator) Truth() *Truth { return g.truth }

// Remaining is how many records Next will still return.
func (g *Generator) Remaining() int { return g.leftP + g.leftS }

// Next returns the next record, or false when the stream is exhausted.
func (g *Generator) Next() (Record, bool) {
	total := g.leftP + g.leftS
	if total == 0 {
		return Record{}, false
	}
	g.clock = g.clock.Add(g.step)
	isPayment := g.rng.IntN(total) < g.leftP
	u := g.rng.Float64()
	var rec Record
	if isPayment {
		g.leftP--
		rec = g.nextOf(u, &g.recentP, g.cfg.PaymentsTopic, g.validPayment, g.invalidPayment)
	} else {
		g.leftS--
		rec = g.nextOf(u, &g.recentS, g.cfg.ShipmentsTopic, g.validShipment, g.invalidShipment)
	}
	rec.Timestamp = g.clock.Truncate(time.Millisecond)
	c := g.truth.counts(rec.Topic)
	c.Records++
	switch rec.Kind {
	case Invalid:
		c.Invalid++
		if c.InvalidByKind == nil {
			c.InvalidByKind = map[string]int64{}
		}
		c.InvalidByKind[rec.InvalidKind]++
	case Duplicate:
		c.Duplicates++
	}
	return rec, true
}

func (g *Generator) nextOf(u float64, recent *ring, topic string, valid func() Record, invalid func() Record) Record {
	switch {
	case u < g.cfg.InvalidRate:
		rec := invalid()
		rec.Topic, rec.Kind = topic, Invalid
		return rec
	case u < g.cfg.InvalidRate+g.cfg.DuplicateRate && len(recent.recs) > 0:
		rec := recent.recs[g.rng.IntN(len(recent.recs))]
		rec.Kind = Duplicate
		return rec
	}
	rec := valid()
	rec.Topic, rec.Kind = topic, Valid
	recent.add(rec)
	return rec
}

// eventTime returns when the next event of an entity last seen at last occurred:
// the clock with a little jitter, never before last, and for a LateRate share, minutes
// to hours earlier (late is then true and last should not advance).
func (g *Generator) eventTime(last time.Time) (t time.Time, late bool) {
	t = g.clock.Add(time.Duration(g.rng.NormFloat64() * float64(1500*time.Millisecond)))
	if min := last.Add(time.Duration(1+g.rng.IntN(900)) * time.Millisecond); t.Before(min) {
		t = min
	}
	if g.cfg.LateRate > 0 && g.rng.Float64() < g.cfg.LateRate {
		// Log-uniform between 2 minutes and 3 hours.
		lo, hi := math.Log(float64(2*time.Minute)), math.Log(float64(3*time.Hour))
		t = t.Add(-time.Duration(math.Exp(lo + g.rng.Float64()*(hi-lo))))
		late = true
	}
	return t.Truncate(time.Millisecond), late
}

// ---- payments ----

var (
	indianCities = []struct {
		name     string
		lat, lon float64
	}{
		{"Mumbai", 19.076, 72.8777}, {"Delhi", 28.7041, 77.1025}, {"Bengaluru", 12.9716, 77.5946},
		{"Hyderabad", 17.385, 78.4867}, {"Chennai", 13.0827, 80.2707}, {"Kolkata", 22.5726, 88.3639},
		{"Pune", 18.5204, 73.8567}, {"Ahmedabad", 23.0225, 72.5714}, {"Jaipur", 26.9124, 75.7873},
		{"Lucknow", 26.8467, 80.9462}, {"Kochi", 9.9312, 76.2673}, {"Indore", 22.7196, 75.8577},
		{"Guwahati", 26.1445, 91.7362}, {"Chandigarh", 30.7333, 76.7794}, {"Nagpur", 21.1458, 79.0882},
		{"Bhubaneswar", 20.2961, 85.8245},
	}
	foreignCurrencies = []struct{ code, country, city string }{
		{"USD", "US", "New York"}, {"USD", "US", "San Francisco"}, {"EUR", "DE", "Berlin"},
		{"EUR", "FR", "Paris"}, {"GBP", "GB", "London"}, {"SGD", "SG", "Singapore"}, {"AED", "AE", "Dubai"},
	}
	channels = []string{"app", "app", "app", "web", "web", "pos", "api"}
)

// method mix and failure rates for INR; foreign-currency payments are card or wallet.
var methods = []struct {
	name        string
	share       float64 // INR share
	foreign     float64 // foreign-currency share
	declineRate float64 // fails before authorization
	captureFail float64 // authorized, then fails to capture
	medianMinor float64 // median INR amount in paise
}{
	{"upi", 0.55, 0, 0.06, 0.01, 35000},
	{"card", 0.25, 0.85, 0.035, 0.02, 180000},
	{"netbanking", 0.12, 0, 0.08, 0.015, 400000},
	{"wallet", 0.08, 0.15, 0.025, 0.005, 25000},
}

func (g *Generator) pickMerchant() *merchant {
	if g.merchantZip == nil {
		return &g.merchants[0]
	}
	return &g.merchants[g.merchantZip.Uint64()]
}

func (g *Generator) newPayment() *payment {
	g.nextPayID++
	m := g.pickMerchant()
	p := &payment{
		id:       "pay_" + g.idScope + "_" + strconv.Itoa(g.nextPayID),
		merchant: m,
		customer: fmt.Sprintf("c_%07d", g.rng.IntN(2_000_000)),
		channel:  channels[g.rng.IntN(len(channels))],
		currency: "INR", country: "IN", city: m.city,
		risk: math.Round(g.rng.Float64()*g.rng.Float64()*1000) / 1000,
	}
	p.orderID = fmt.Sprintf("ord_%s_%010d", m.id[2:], g.rng.Uint64()%10_000_000_000)
	foreign := m.foreign != "" && g.rng.Float64() < 0.5
	var mi int
	if foreign {
		for i, fc := range foreignCurrencies {
			if fc.code == m.foreign {
				p.currency, p.country, p.city = fc.code, fc.country, fc.city
				if g.rng.IntN(2) == 0 && i+1 < len(foreignCurrencies) && foreignCurrencies[i+1].code == fc.code {
					p.city = foreignCurrencies[i+1].city
				}
				break
			}
		}
		mi = pickShare(g.rng.Float64(), func(i int) float64 { return methods[i].foreign })
	} else {
		mi = pickShare(g.rng.Float64(), func(i int) float64 { return methods[i].share })
	}
	p.method = methods[mi].name
	median := methods[mi].medianMinor
	if foreign {
		median = 4000 // 40.00 in USD/EUR/GBP/SGD/AED minor units
	}
	amt := median * math.Exp(g.rng.NormFloat64()*0.9)
	p.amount = max(100, min(int64(amt), 50_000_000))
	return p
}

func pickShare(u float64, share func(int) float64) int {
	for i := range methods {
		if u -= share(i); u < 0 {
			return i
		}
	}
	return 0
}

func (g *Generator) validPayment() Record {
	var p *payment
	// Keep a bounded set of open lifecycles; start a new one about half the time.
	if n := len(g.payments); n > 0 && (n >= 4096 || g.rng.IntN(2) == 0) {
		i := g.rng.IntN(n)
		p = g.payments[i]
	} else {
		p = g.newPayment()
		g.payments = append(g.payments, p)
	}
	mi := 0
	for i := range methods {
		if methods[i].name == p.method {
			mi = i
		}
	}
	amount := p.amount
	var typ string
	done := false
	switch p.state {
	case "":
		if g.rng.Float64() < methods[mi].declineRate {
			typ, done = schemas.PaymentFailed, true
		} else {
			typ = schemas.PaymentAuthorized
		}
	case schemas.PaymentAuthorized:
		if g.rng.Float64() < methods[mi].captureFail {
			typ, done = schemas.PaymentFailed, true
		} else {
			typ = schemas.PaymentCaptured
			done = g.rng.Float64() >= 0.04 // 4% are refunded later
		}
	case schemas.PaymentCaptured:
		typ, done = schemas.PaymentRefunded, true
		if g.rng.IntN(2) == 0 { // partial refund
			amount = max(1, amount*int64(10+g.rng.IntN(80))/100)
		}
	}
	if done {
		g.removePayment(p)
	}
	p.state = typ
	at, late := g.eventTime(p.last)
	if !late {
		p.last = at
	}
	ev := schemas.Payment{
		EventID:     producers.EventID("payment", p.id, typ),
		EventType:   typ,
		OccurredAt:  at,
		MerchantID:  p.merchant.id,
		CustomerID:  p.customer,
		AmountMinor: amount,
		Currency:    p.currency,
		Method:      p.method,
		Status:      typ[len("payment."):],
		Country:     p.country,
		City:        p.city,
		RiskScore:   p.risk,
		Metadata:    map[string]string{"order_id": p.orderID, "channel": p.channel},
	}
	g.truth.AddPayment(&ev)
	if late {
		g.truth.PaymentCounts.Late++
	}
	return Record{Key: []byte(ev.MerchantID), Value: mustJSON(&ev)}
}

func (g *Generator) removePayment(p *payment) {
	for i, q := range g.payments {
		if q == p {
			last := len(g.payments) - 1
			g.payments[i] = g.payments[last]
			g.payments[last] = nil
			g.payments = g.payments[:last]
			return
		}
	}
}

// ---- shipments ----

var carriers = []string{"delhivery", "bluedart", "ecomexpress", "xpressbees", "dtdc", "shadowfax"}

func hubID(i int) string { return fmt.Sprintf("hub_%03d", i) }

func (g *Generator) newShipment() *shipment {
	g.nextShipID++
	s := &shipment{
		id:      fmt.Sprintf("shp_%s_%09d", g.idScope, g.nextShipID),
		carrier: carriers[g.rng.IntN(len(carriers))],
		weight:  max(50, min(int64(800*math.Exp(g.rng.NormFloat64()*0.8)), 30_000)),
	}
	// Origin, 0-2 intermediate sort centres, destination: all distinct.
	n := min(2+g.rng.IntN(3), g.cfg.Hubs)
	for len(s.hubs) < n {
		h := int(g.hubZip.Uint64())
		if slices.Contains(s.hubs, h) {
			h = g.rng.IntN(g.cfg.Hubs)
		}
		if !slices.Contains(s.hubs, h) {
			s.hubs = append(s.hubs, h)
		}
	}
	for i, h := range s.hubs {
		if i > 0 {
			s.route += ">"
		}
		s.route += hubID(h)
	}
	return s
}

func (g *Generator) validShipment() Record {
	var s *shipment
	// Each shipment has about 7 scans: start a new one about once in 7 events, keeping
	// the set in transit between 1 and 4096.
	if n := len(g.shipments); n > 0 && (n >= 4096 || g.rng.IntN(7) != 0) {
		s = g.shipments[g.rng.IntN(n)]
	} else {
		s = g.newShipment()
		g.shipments = append(g.shipments, s)
	}
	scans := len(s.hubs)
	var typ string
	hub := s.hubs[0]
	done := false
	switch {
	case s.step > 1 && g.rng.Float64() < 0.015:
		typ = schemas.ShipmentException
		hub = s.hubs[min(s.step-2, scans-1)]
		done = g.rng.Float64() < 0.3 // returned to origin: no further scans
	case s.step == 0:
		typ = schemas.ShipmentCreated
	case s.step == 1:
		typ = schemas.ShipmentPickedUp
	case s.step < 2+scans:
		typ, hub = schemas.ShipmentScanned, s.hubs[s.step-2]
	case s.step == 2+scans:
		typ, hub = schemas.ShipmentOutForDelivery, s.hubs[scans-1]
	default:
		typ, hub, done = schemas.ShipmentDelivered, s.hubs[scans-1], true
	}
	if typ != schemas.ShipmentException {
		s.step++
	}
	if done {
		for i, q := range g.shipments {
			if q == s {
				last := len(g.shipments) - 1
				g.shipments[i], g.shipments[last] = g.shipments[last], nil
				g.shipments = g.shipments[:last]
				break
			}
		}
	}
	s.seq++
	at, late := g.eventTime(s.last)
	if !late {
		s.last = at
	}
	c := indianCities[hub%len(indianCities)]
	remaining := max(0, 2+scans+1-s.step)
	ev := schemas.Shipment{
		EventID:     producers.EventID("shipment", s.id, strconv.Itoa(s.seq), typ),
		EventType:   typ,
		OccurredAt:  at,
		ShipmentID:  s.id,
		HubID:       hubID(hub),
		Carrier:     s.carrier,
		Route:       s.route,
		WeightGrams: s.weight,
		Lat:         math.Round((c.lat+g.rng.NormFloat64()*0.05)*1e5) / 1e5,
		Lon:         math.Round((c.lon+g.rng.NormFloat64()*0.05)*1e5) / 1e5,
		ETAMinutes:  int64(remaining*180 + g.rng.IntN(60)),
	}
	g.truth.AddShipment(&ev)
	if late {
		g.truth.ShipmentCounts.Late++
	}
	return Record{Key: []byte(ev.ShipmentID), Value: mustJSON(&ev)}
}

// mustJSON encodes v like producers.Publisher does: sorted map keys, no HTML escaping.
func mustJSON(v any) []byte {
	b, err := json.Append(nil, v, json.SortMapKeys)
	if err != nil {
		panic("loadgen: encode generated event: " + err.Error()) // plain structs always encode
	}
	return b
}
