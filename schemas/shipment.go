package schemas

import (
	"strings"
	"time"
)

// DecodeShipment decodes one shipments record into *s and validates it, with the same
// rules and guarantees as DecodePayment. On failure it returns an *Invalid.
func DecodeShipment(data []byte, s *Shipment, lim Limits) error {
	d := decoder{lim: lim.withDefaults(), chunk: len(data)}
	if inv := d.shipment(data, s); inv != nil {
		return inv
	}
	return nil
}

// Shipment field bits, for duplicate tracking.
const (
	sfEventID = 1 << iota
	sfEventType
	sfOccurredAt
	sfShipmentID
	sfHubID
	sfCarrier
	sfRoute
	sfWeightGrams
	sfLat
	sfLon
	sfETAMinutes
)

func (d *decoder) shipment(data []byte, s *Shipment) *Invalid {
	*s = Shipment{}
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
			bit = sfEventID
			s.EventID, inv = d.str("event_id", MaxEventIDBytes)
		case "event_type":
			bit = sfEventType
			s.EventType, inv = d.str("event_type", lim)
		case "occurred_at":
			bit = sfOccurredAt
			s.OccurredAt, inv = d.time("occurred_at")
		case "shipment_id":
			bit = sfShipmentID
			s.ShipmentID, inv = d.str("shipment_id", lim)
		case "hub_id":
			bit = sfHubID
			s.HubID, inv = d.str("hub_id", lim)
		case "carrier":
			bit = sfCarrier
			s.Carrier, inv = d.str("carrier", lim)
		case "route":
			bit = sfRoute
			s.Route, inv = d.str("route", lim)
		case "weight_grams":
			bit = sfWeightGrams
			s.WeightGrams, _, inv = d.uint("weight_grams")
		case "lat":
			bit = sfLat
			s.Lat, inv = d.float64("lat")
		case "lon":
			bit = sfLon
			s.Lon, inv = d.float64("lon")
		case "eta_minutes":
			bit = sfETAMinutes
			s.ETAMinutes, _, inv = d.uint("eta_minutes")
		default:
			inv = d.skip(1)
		}
		if inv != nil {
			d.data = nil
			return inv
		}
		if seen&bit != 0 {
			d.data = nil
			return invalid(ReasonDuplicateField, string(key), "field appears more than once")
		}
		seen |= bit
	}
	if inv := d.end(); inv != nil {
		return inv
	}
	return validateShipment(s, d.lim, false)
}

// shipmentKey is a shipments rollup key.
type shipmentKey struct {
	window                  int64 // window start, Unix seconds
	hub, carrier, eventType string
}

// shipmentAgg is one shipments rollup partial.
type shipmentAgg struct {
	key       shipmentKey
	events    uint64
	weightSum uint64
}

// shipmentBatch implements Batch for shipments.
type shipmentBatch struct {
	o       Options
	window  int64 // ns
	d       decoder
	s       Shipment
	events  int
	bytes   int
	rows    shipmentRows
	shrink  shrinker
	index   map[shipmentKey]int
	aggs    []shipmentAgg
	order   []int
	rollup  shipmentRollupCols
	blocks  []Block
	rollTbl string
}

// shipmentRows are the raw shipments columns, in ShipmentColumns order.
type shipmentRows struct {
	eventID               StringColumn
	eventType             DictColumn
	occurredAt            MillisColumn
	shipmentID            StringColumn
	hubID, carrier, route DictColumn
	weightGrams           []int64
	lat, lon              []float64
	etaMinutes            []int64
	topic                 DictColumn
	topicID               DictColumn
	partition             []int32
	offset                []int64
	ingestedAt            MillisColumn
	timestamp             MillisColumn
}

type shipmentRollupCols struct {
	windowStart           []time.Time
	hub, carrier, evtType []string
	events, weightSum     []uint64
}

// NewShipmentBatch returns an empty Batch for the shipments topic. It panics if
// o.Validate fails (a programming error).
func NewShipmentBatch(o Options) Batch {
	o = o.withDefaults()
	if err := o.Validate(); err != nil {
		panic(err)
	}
	return &shipmentBatch{
		o:       o,
		window:  int64(o.Window),
		d:       decoder{lim: o.Limits, chunk: arenaChunk, transient: true},
		index:   make(map[shipmentKey]int),
		rollTbl: RollupTable("shipments", o.Window),
	}
}

func (b *shipmentBatch) Add(value []byte, m *Meta) error {
	s := &b.s
	if inv := b.d.shipment(value, s); inv != nil {
		return inv
	}
	if inv := b.o.Limits.checkTime("occurred_at", s.OccurredAt, m); inv != nil {
		return inv
	}
	if b.o.Dedup != nil && !b.o.Dedup.Admit(s.EventID, m.Timestamp.UnixNano(), m.Offset) {
		return ErrDuplicate
	}
	b.events++
	if b.o.Raw {
		r := &b.rows
		r.eventID.Append(s.EventID)
		r.eventType.Append(s.EventType)
		r.occurredAt = append(r.occurredAt, s.OccurredAt.UnixMilli())
		r.shipmentID.Append(s.ShipmentID)
		r.hubID.Append(s.HubID)
		r.carrier.Append(s.Carrier)
		r.route.Append(s.Route)
		r.weightGrams = append(r.weightGrams, s.WeightGrams)
		r.lat = append(r.lat, s.Lat)
		r.lon = append(r.lon, s.Lon)
		r.etaMinutes = append(r.etaMinutes, s.ETAMinutes)
		r.topic.Append(m.Topic)
		r.topicID.Append(m.TopicID)
		r.partition = append(r.partition, m.Partition)
		r.offset = append(r.offset, m.Offset)
		r.ingestedAt = append(r.ingestedAt, m.IngestedAt.UnixMilli())
		r.timestamp = append(r.timestamp, m.timestampMillis())
		b.bytes += shipmentRowBytes + len(s.EventID) + len(s.ShipmentID)
	}
	if b.o.SkipRollups {
		return nil
	}
	k := shipmentKey{
		window:    windowStart(s.OccurredAt, b.window),
		hub:       s.HubID,
		carrier:   s.Carrier,
		eventType: s.EventType,
	}
	i, ok := b.index[k]
	if !ok {
		// The decoder's strings are transient: the key is kept, so it is copied.
		k.hub, k.carrier, k.eventType = strings.Clone(k.hub), strings.Clone(k.carrier), strings.Clone(k.eventType)
		i = len(b.aggs)
		b.index[k] = i
		b.aggs = append(b.aggs, shipmentAgg{key: k})
		b.bytes += shipmentAggBytes
	}
	a := &b.aggs[i]
	a.events++
	a.weightSum += uint64(s.WeightGrams)
	return nil
}

func (b *shipmentBatch) Events() int { return b.events }

func (b *shipmentBatch) Bytes() int { return b.bytes }

func (b *shipmentBatch) Blocks() []Block {
	b.blocks = b.blocks[:0]
	if r := &b.rows; b.o.Raw && r.eventID.Len() > 0 {
		b.blocks = append(b.blocks, Block{
			Table: "shipments",
			Names: ShipmentColumns,
			Columns: []any{
				r.eventID, r.eventType, r.occurredAt, r.shipmentID, r.hubID, r.carrier,
				r.route, r.weightGrams, r.lat, r.lon, r.etaMinutes,
				r.topic, r.topicID, r.partition, r.offset, r.ingestedAt, r.timestamp,
			},
			Rows: r.eventID.Len(),
		})
	}
	if len(b.aggs) == 0 {
		return b.blocks
	}
	b.order = sortedOrder(b.order, len(b.aggs), func(i, j int) int {
		x, y := &b.aggs[i].key, &b.aggs[j].key
		return cmpKeys(x.window, y.window, x.hub, y.hub, x.carrier, y.carrier, x.eventType, y.eventType)
	})
	c := &b.rollup
	c.windowStart, c.hub, c.carrier, c.evtType = c.windowStart[:0], c.hub[:0], c.carrier[:0], c.evtType[:0]
	c.events, c.weightSum = c.events[:0], c.weightSum[:0]
	for _, i := range b.order {
		a := &b.aggs[i]
		c.windowStart = append(c.windowStart, time.Unix(a.key.window, 0).UTC())
		c.hub = append(c.hub, a.key.hub)
		c.carrier = append(c.carrier, a.key.carrier)
		c.evtType = append(c.evtType, a.key.eventType)
		c.events = append(c.events, a.events)
		c.weightSum = append(c.weightSum, a.weightSum)
	}
	b.blocks = append(b.blocks, Block{
		Table:   b.rollTbl,
		Names:   ShipmentRollupColumns,
		Columns: []any{c.windowStart, c.hub, c.carrier, c.evtType, c.events, c.weightSum},
		Rows:    len(b.aggs),
	})
	return b.blocks
}

func (b *shipmentBatch) Reset() {
	if b.shrink.release(b.events) {
		// Memory grown for a burst: let the next batches grow to their own size.
		b.rows, b.aggs, b.order = shipmentRows{}, nil, nil
		b.index = make(map[shipmentKey]int)
	}
	b.events, b.bytes = 0, 0
	r := &b.rows
	r.eventID.Reset()
	r.shipmentID.Reset()
	for _, c := range []*DictColumn{&r.eventType, &r.hubID, &r.carrier, &r.route, &r.topic, &r.topicID} {
		c.Reset()
	}
	r.occurredAt, r.ingestedAt, r.timestamp = r.occurredAt[:0], r.ingestedAt[:0], r.timestamp[:0]
	r.weightGrams, r.lat, r.lon, r.etaMinutes = r.weightGrams[:0], r.lat[:0], r.lon[:0], r.etaMinutes[:0]
	r.partition, r.offset = r.partition[:0], r.offset[:0]
	clear(b.index)
	b.aggs = b.aggs[:0]
}

// Approximate per-row memory, for Bytes, besides the String columns' bytes: two
// String ends, six dictionary keys, three times, four numbers, the partition and the
// offset.
const (
	shipmentRowBytes = 2*4 + 6*4 + 3*8 + 4*8 + 4 + 8
	shipmentAggBytes = groupFixedBytes + 3*groupStrBytes + 2*groupMeasureBytes // as groupBytes counts
)
