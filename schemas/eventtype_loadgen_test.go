package schemas_test

import (
	"testing"
	"time"

	"github.com/sluicehq/sluice/producers/loadgen"
	"github.com/sluicehq/sluice/schemas"
)

// TestBuiltinTypesOnLoadgen feeds a loadgen stream (valid, invalid, duplicate and
// late events of both topics) to the hand-written batches and the runtime-compiled
// built-in types, with producer-retry dedup and the time policy: every Add and
// every flush's Blocks agree.
func TestBuiltinTypesOnLoadgen(t *testing.T) {
	g, err := loadgen.NewGenerator(loadgen.Config{Seed: 11, Payments: 6000, Shipments: 4000,
		InvalidRate: 0.1, DuplicateRate: 0.05, LateRate: 0.02})
	if err != nil {
		t.Fatal(err)
	}
	var pay, ship []schemas.DiffRecord
	for r, ok := g.Next(); ok; r, ok = g.Next() {
		rec := schemas.DiffRecord{Value: r.Value, Meta: schemas.Meta{Topic: r.Topic, Partition: 0,
			Offset: int64(len(pay) + len(ship)), IngestedAt: r.Timestamp.Add(time.Second), Timestamp: r.Timestamp}}
		if r.Topic == "payments" {
			pay = append(pay, rec)
		} else {
			ship = append(ship, rec)
		}
	}
	lim := schemas.Limits{MaxLateness: time.Hour, MaxClockSkew: time.Minute}
	for _, o := range []schemas.Options{{Raw: true}, {Raw: true, Window: 5 * time.Minute, Limits: lim}} {
		mk := func() schemas.Options { o.Dedup = newDedup(); return o }
		schemas.CompareBatches(t, schemas.NewPaymentBatch(mk()), schemas.BuiltinType(t, "payment").NewBatch(mk()), pay, 1000)
		schemas.CompareBatches(t, schemas.NewShipmentBatch(mk()), schemas.BuiltinType(t, "shipment").NewBatch(mk()), ship, 700)
	}
}

// dedup admits each event_id once.
type dedup map[string]bool

func newDedup() dedup { return dedup{} }

func (d dedup) Admit(id string, _, _ int64) bool {
	if d[id] {
		return false
	}
	d[string([]byte(id))] = true
	return true
}
