package schemas

import (
	"strings"
	"time"
)

// DecodePayment decodes one payments record into *p and validates it. All fields of
// *p are overwritten. On failure it returns an *Invalid and *p is unspecified.
//
// Strings in *p share one allocation, sized like data, that does not alias data.
// See the decoding rules at the top of decode.go: exactly one JSON object, unknown
// fields ignored, duplicate known fields rejected, null is absent, amount_minor
// present (0 is valid) and a JSON integer.
func DecodePayment(data []byte, p *Payment, lim Limits) error {
	d := decoder{lim: lim.withDefaults(), chunk: len(data), build: true}
	if inv := d.payment(data, p); inv != nil {
		return inv
	}
	return nil
}

// Payment field bits, for presence and duplicate tracking.
const (
	pfEventID = 1 << iota
	pfEventType
	pfOccurredAt
	pfMerchantID
	pfCustomerID
	pfAmountMinor
	pfCurrency
	pfMethod
	pfStatus
	pfCountry
	pfCity
	pfRiskScore
	pfMetadata
)

// payment decodes and validates data into *p. Without d.build, p.Metadata stays nil
// (metadata is checked and left in d.mkeys/d.mvals).
func (d *decoder) payment(data []byte, p *Payment) *Invalid {
	*p = Payment{}
	// A record without metadata must not keep the previous record's entries.
	d.mkeys, d.mvals, d.meta = d.mkeys[:0], d.mvals[:0], nil
	if inv := d.begin(data); inv != nil {
		return inv
	}
	var seen uint32
	for first := true; ; first = false {
		key, ok, inv := d.nextKey(first)
		if inv != nil {
			return inv
		}
		if !ok {
			break
		}
		var bit uint32
		lim := d.lim.MaxStringBytes
		switch string(key) {
		case "event_id":
			bit = pfEventID
			p.EventID, inv = d.str("event_id", MaxEventIDBytes)
		case "event_type":
			bit = pfEventType
			p.EventType, inv = d.str("event_type", lim)
		case "occurred_at":
			bit = pfOccurredAt
			p.OccurredAt, inv = d.time("occurred_at")
		case "merchant_id":
			bit = pfMerchantID
			p.MerchantID, inv = d.str("merchant_id", lim)
		case "customer_id":
			bit = pfCustomerID
			p.CustomerID, inv = d.str("customer_id", lim)
		case "amount_minor":
			bit = pfAmountMinor
			var present bool
			p.AmountMinor, present, inv = d.uint("amount_minor")
			if !present {
				bit |= 1 << 31 // seen, but null: still missing
			}
		case "currency":
			bit = pfCurrency
			p.Currency, inv = d.str("currency", lim)
		case "method":
			bit = pfMethod
			p.Method, inv = d.str("method", lim)
		case "status":
			bit = pfStatus
			p.Status, inv = d.str("status", lim)
		case "country":
			bit = pfCountry
			p.Country, inv = d.str("country", lim)
		case "city":
			bit = pfCity
			p.City, inv = d.str("city", lim)
		case "risk_score":
			bit = pfRiskScore
			p.RiskScore, inv = d.float64("risk_score")
		case "metadata":
			bit = pfMetadata
			inv = d.metadata("metadata")
		default:
			inv = d.skip(1)
		}
		if inv != nil {
			d.data = nil
			return inv
		}
		if seen&bit&^(1<<31) != 0 {
			d.data = nil
			return invalid(ReasonDuplicateField, string(key), "field appears more than once")
		}
		seen |= bit
	}
	if inv := d.end(); inv != nil {
		return inv
	}
	p.Metadata = d.meta
	if inv := validatePayment(p, d.lim, false); inv != nil {
		return inv
	}
	// Checked after validatePayment so that earlier required fields report first;
	// 0 is a valid amount, absent or null is not.
	if seen&(1<<31) != 0 || seen&pfAmountMinor == 0 {
		return invalid(ReasonMissingField, "amount_minor", "required")
	}
	return nil
}

// paymentKey is a payments rollup key.
type paymentKey struct {
	window                                int64 // window start, Unix seconds
	merchant, currency, method, eventType string
}

// paymentAgg is one payments rollup partial.
type paymentAgg struct {
	key      paymentKey
	events   uint64
	sum      uint64
	min, max int64
}

// paymentBatch implements Batch for payments.
type paymentBatch struct {
	o       Options
	window  int64 // ns
	d       decoder
	p       Payment
	events  int
	bytes   int
	rows    paymentRows
	shrink  shrinker
	index   map[paymentKey]int
	aggs    []paymentAgg
	order   []int
	rollup  paymentRollupCols
	blocks  []Block
	rawName string
	rollTbl string
}

// paymentRows are the raw payments columns, in PaymentColumns order.
type paymentRows struct {
	eventID                                 StringColumn
	eventType                               DictColumn
	occurredAt                              MillisColumn
	merchantID, customerID                  StringColumn
	amountMinor                             []int64
	currency, method, status, country, city DictColumn
	riskScore                               []float64
	metadata                                MapColumn
	topic                                   DictColumn
	topicID                                 DictColumn
	partition                               []int32
	offset                                  []int64
	ingestedAt                              MillisColumn
	timestamp                               MillisColumn
}

type paymentRollupCols struct {
	windowStart                         []time.Time
	merchant, currency, method, evtType []string
	events, sum                         []uint64
	min, max                            []int64
}

// NewPaymentBatch returns an empty Batch for the payments topic. It panics if
// o.Validate fails (a programming error).
func NewPaymentBatch(o Options) Batch {
	o = o.withDefaults()
	if err := o.Validate(); err != nil {
		panic(err)
	}
	return &paymentBatch{
		o:       o,
		window:  int64(o.Window),
		d:       decoder{lim: o.Limits, chunk: arenaChunk, transient: true},
		index:   make(map[paymentKey]int),
		rawName: "payments",
		rollTbl: RollupTable("payments", o.Window),
	}
}

func (b *paymentBatch) Add(value []byte, m *Meta) error {
	p := &b.p
	if inv := b.d.payment(value, p); inv != nil {
		return inv
	}
	if inv := b.o.Limits.checkTime("occurred_at", p.OccurredAt, m); inv != nil {
		return inv
	}
	if b.o.Dedup != nil && !b.o.Dedup.Admit(p.EventID, m.Timestamp.UnixNano(), m.Offset) {
		return ErrDuplicate
	}
	b.events++
	if b.o.Raw {
		r := &b.rows
		r.eventID.Append(p.EventID)
		r.eventType.Append(p.EventType)
		r.occurredAt = append(r.occurredAt, p.OccurredAt.UnixMilli())
		r.merchantID.Append(p.MerchantID)
		r.customerID.Append(p.CustomerID)
		r.amountMinor = append(r.amountMinor, p.AmountMinor)
		r.currency.Append(p.Currency)
		r.method.Append(p.Method)
		r.status.Append(p.Status)
		r.country.Append(p.Country)
		r.city.Append(p.City)
		r.riskScore = append(r.riskScore, p.RiskScore)
		metaBytes := r.metadata.appendRow(b.d.mkeys, b.d.mvals)
		r.topic.Append(m.Topic)
		r.topicID.Append(m.TopicID)
		r.partition = append(r.partition, m.Partition)
		r.offset = append(r.offset, m.Offset)
		r.ingestedAt = append(r.ingestedAt, m.IngestedAt.UnixMilli())
		r.timestamp = append(r.timestamp, m.timestampMillis())
		b.bytes += paymentRowBytes + len(p.EventID) + len(p.MerchantID) + len(p.CustomerID) + metaBytes
	}
	if b.o.SkipRollups {
		return nil
	}
	k := paymentKey{
		window:    windowStart(p.OccurredAt, b.window),
		merchant:  p.MerchantID,
		currency:  p.Currency,
		method:    p.Method,
		eventType: p.EventType,
	}
	i, ok := b.index[k]
	if !ok {
		// The decoder's strings are transient: the key is kept, so it is copied.
		k.merchant, k.currency = strings.Clone(k.merchant), strings.Clone(k.currency)
		k.method, k.eventType = strings.Clone(k.method), strings.Clone(k.eventType)
		i = len(b.aggs)
		b.index[k] = i
		b.aggs = append(b.aggs, paymentAgg{key: k, min: p.AmountMinor, max: p.AmountMinor})
		b.bytes += paymentAggBytes
	}
	a := &b.aggs[i]
	a.events++
	a.sum += uint64(p.AmountMinor)
	a.min = min(a.min, p.AmountMinor)
	a.max = max(a.max, p.AmountMinor)
	return nil
}

func (b *paymentBatch) Events() int { return b.events }

func (b *paymentBatch) Bytes() int { return b.bytes }

func (b *paymentBatch) Blocks() []Block {
	b.blocks = b.blocks[:0]
	if r := &b.rows; b.o.Raw && r.eventID.Len() > 0 {
		b.blocks = append(b.blocks, Block{
			Table: b.rawName,
			Names: PaymentColumns,
			Columns: []any{
				r.eventID, r.eventType, r.occurredAt, r.merchantID, r.customerID,
				r.amountMinor, r.currency, r.method, r.status, r.country, r.city,
				r.riskScore, r.metadata, r.topic, r.topicID, r.partition, r.offset, r.ingestedAt, r.timestamp,
			},
			Rows: r.eventID.Len(),
		})
	}
	if len(b.aggs) == 0 {
		return b.blocks
	}
	b.order = sortedOrder(b.order, len(b.aggs), func(i, j int) int {
		x, y := &b.aggs[i].key, &b.aggs[j].key
		return cmpKeys(x.window, y.window, x.merchant, y.merchant, x.currency, y.currency,
			x.method, y.method, x.eventType, y.eventType)
	})
	c := &b.rollup
	c.windowStart, c.merchant, c.currency, c.method, c.evtType = c.windowStart[:0], c.merchant[:0], c.currency[:0], c.method[:0], c.evtType[:0]
	c.events, c.sum, c.min, c.max = c.events[:0], c.sum[:0], c.min[:0], c.max[:0]
	for _, i := range b.order {
		a := &b.aggs[i]
		c.windowStart = append(c.windowStart, time.Unix(a.key.window, 0).UTC())
		c.merchant = append(c.merchant, a.key.merchant)
		c.currency = append(c.currency, a.key.currency)
		c.method = append(c.method, a.key.method)
		c.evtType = append(c.evtType, a.key.eventType)
		c.events = append(c.events, a.events)
		c.sum = append(c.sum, a.sum)
		c.min = append(c.min, a.min)
		c.max = append(c.max, a.max)
	}
	b.blocks = append(b.blocks, Block{
		Table: b.rollTbl,
		Names: PaymentRollupColumns,
		Columns: []any{
			c.windowStart, c.merchant, c.currency, c.method, c.evtType,
			c.events, c.sum, c.min, c.max,
		},
		Rows: len(b.aggs),
	})
	return b.blocks
}

func (b *paymentBatch) Reset() {
	if b.shrink.release(b.events) {
		// Memory grown for a burst: let the next batches grow to their own size.
		b.rows, b.aggs, b.order = paymentRows{}, nil, nil
		b.index = make(map[paymentKey]int)
	}
	b.events, b.bytes = 0, 0
	r := &b.rows
	for _, c := range []*StringColumn{&r.eventID, &r.merchantID, &r.customerID} {
		c.Reset()
	}
	for _, c := range []*DictColumn{&r.eventType, &r.currency, &r.method, &r.status, &r.country, &r.city, &r.topic, &r.topicID} {
		c.Reset()
	}
	r.metadata.Reset()
	r.occurredAt, r.ingestedAt, r.timestamp = r.occurredAt[:0], r.ingestedAt[:0], r.timestamp[:0]
	r.amountMinor, r.riskScore = r.amountMinor[:0], r.riskScore[:0]
	r.partition, r.offset = r.partition[:0], r.offset[:0]
	clear(b.index)
	b.aggs = b.aggs[:0]
}

// Approximate per-row memory, for Bytes, besides the String columns' bytes: three
// String ends, eight dictionary keys, three times, two numbers, the partition, the
// offset and the metadata end.
const (
	paymentRowBytes = 3*4 + 8*4 + 3*8 + 2*8 + 4 + 8 + 4
	paymentAggBytes = groupFixedBytes + 4*groupStrBytes + 4*groupMeasureBytes // as groupBytes counts
)
